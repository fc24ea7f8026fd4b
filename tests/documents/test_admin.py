"""Court staff in the admin: credentials are shown once and revoked, ledger data is read-only."""

import pytest
from django.contrib.auth import get_user_model

from anchoring import sequencer
from documents.models import Court, CourtToken, token_digest

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("clerk", password="pw-for-tests")
    client.force_login(user)
    return client


def test_creating_a_credential_shows_the_token_once_and_stores_only_its_digest(staff):
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang")
    response = staff.post(
        "/admin/documents/courttoken/add/",
        {"court": court.pk, "label": "case system"},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"] if "jvp_" in str(m)]
    assert len(shown) == 1
    token = shown[0].split(": ")[-1]
    stored = CourtToken.objects.get()
    assert stored.digest == token_digest(token)
    assert stored.label == "case system"
    # The list never shows it again.
    assert token not in staff.get("/admin/documents/courttoken/").content.decode()


def test_revoking_credentials_from_the_list(staff):
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang")
    row, _ = CourtToken.issue(court)
    staff.post(
        "/admin/documents/courttoken/",
        {"action": "revoke", "_selected_action": [row.pk]},
        follow=True,
    )
    row.refresh_from_db()
    assert row.revoked_at is not None


def test_ledger_rows_are_read_only_for_staff(staff):
    sequencer.integrate()
    page = staff.get("/admin/anchoring/checkpoint/0/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert staff.get("/admin/anchoring/entry/add/").status_code == 403
    assert staff.get("/admin/documents/record/add/").status_code == 403


def test_published_checkpoints_are_read_only_and_only_a_witness_organisation_is_edited(staff):
    from anchoring.models import WitnessState

    sequencer.integrate()
    page = staff.get("/admin/anchoring/publishedcheckpoint/0/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    state = WitnessState.objects.create(name="notary", vkey="v", cosigned_size=7, ok=True)
    answer = staff.post(
        f"/admin/anchoring/witnessstate/{state.pk}/change/",
        {"organisation_zh": "某公证处", "organisation_en": "A notary office", "cosigned_size": 0},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    state.refresh_from_db()
    assert (state.organisation_zh, state.organisation_en) == ("某公证处", "A notary office")
    assert state.cosigned_size == 7  # the publisher's memory is not the operator's to change
    assert staff.get("/admin/anchoring/witnessstate/add/").status_code == 403
