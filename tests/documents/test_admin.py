"""Court staff in the admin: credentials are shown once and revoked, ledger data is read-only."""

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils import translation
from django.utils.text import capfirst

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
    assert len(shown) == 1 and shown[0].startswith("新令牌（只显示这一次）")
    token = re.search(r"jvp_\S+", shown[0]).group(0)
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
    assert "<h2>检查点 0</h2>" in page.content.decode()  # the row's name in the admin's language
    english = staff.get("/admin/anchoring/checkpoint/0/change/", HTTP_ACCEPT_LANGUAGE="en")
    assert "<h2>checkpoint 0</h2>" in english.content.decode()
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


CJK = re.compile(r"[\u4e00-\u9fff]")
OURS = ("documents", "anchoring", "witness")


def _our_names() -> list[str]:
    """The English names of our apps and models (the admin's sidebar lists them all) and of
    the courts' columns, as the admin shows them."""
    with translation.override("en"):
        names = [str(apps.get_app_config(label).verbose_name) for label in OURS]
        for label in OURS:
            for model in apps.get_app_config(label).get_models():
                if admin.site.is_registered(model):
                    names.append(str(capfirst(model._meta.verbose_name_plural)))
        court = apps.get_model("documents", "court")._meta
        names += [str(capfirst(court.get_field(f).verbose_name)) for f in ("name_zh", "phone")]
    return names


def test_the_admin_is_in_one_language(staff):
    Court.objects.create(code="BJ0105", name_zh="BJ0105-zh", name_en="BJ0105-en", phone="1")
    english = staff.get("/admin/documents/court/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in english
    assert [n for n in _our_names() if f">{n}<" not in english] == []
    assert not CJK.search(english), CJK.findall(english)[:20]

    chinese = staff.get("/admin/documents/court/").content.decode()
    assert '<html lang="zh-hans"' in chinese
    assert ">法院记录<" in chinese and ">名称（中文）<" in chinese and ">见证的日志<" in chinese
    assert [n for n in _our_names() if f">{n}<" in chinese] == []
