"""The alliance in a real browser: a result page's quorum step, and /alliance.

The log's one witness is this project's witness role on the live server, over HTTP; the
sequencer (with its publisher) and the worker are child processes given the policy.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_pages import _steps, _upload_the_judgment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WITNESS = "witness.procuratorate.example/witness"


@pytest.fixture
def allied(browser, transactional_db, live_server, settings, tmp_path):
    """The demo court's portal whose log a witness on the live server must cosign."""
    from anchoring import keys
    from demo import seeding
    from documents import codes
    from tests.browser.conftest import Portal
    from tests.processes import worker_and_sequencer
    from verification import trust
    from witness import keys as witness_keys
    from witness.log_list import MAX_QPD
    from witness.models import Log

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.WITNESS_NAME = WITNESS
    settings.WITNESS_SIGNING_KEY_FILE = tmp_path / "witness.key"
    settings.WITNESS_GENERATE_KEY = True
    settings.WITNESS_LOG_LIST = ""
    witness_keys.forget()
    policy = tmp_path / "witness-policy.txt"
    policy.write_text(
        f"witness procuratorate {witness_keys.vkey()} {live_server.url}/witness\n"
        "quorum procuratorate\n"
    )
    settings.LEDGER_WITNESS_POLICY = str(policy)  # this process: the pages
    trust.forget()
    Log.objects.create(origin=settings.LEDGER_ORIGIN, vkey=keys.vkey(), qpd=MAX_QPD)
    with worker_and_sequencer(tmp_path, LEDGER_WITNESS_POLICY=str(policy)):
        seeded = seeding.seed()
        judgment = next(r for r in seeded.records if r.stamped)
        yield Portal(
            url=live_server.url,
            code=codes.display(judgment.code),
            title=judgment.title,
            case_number=judgment.case_number,
            stamped=Path(judgment.file.path),
            tmp=tmp_path,
        )
    witness_keys.forget()
    trust.forget()


def test_a_result_names_the_cosigning_member_and_links_to_the_alliance(page, allied):
    _upload_the_judgment(page, allied)
    assert _steps(page)["witnesses"] == "passed"
    step = page.locator("[data-step=witnesses]")
    expect(step).to_contain_text("联盟成员 procuratorate 已各自核对并联署")
    expect(step).not_to_contain_text("The quorum is met")  # one language at a time

    page.get_by_role("link", name="谁在为这本账本作证").click()
    page.wait_for_url("**/alliance")
    expect(page.locator("h1")).to_have_text("谁在为这本账本作证")
    member = page.locator("tr[data-witness=procuratorate]")
    expect(member).to_contain_text("正常")
    expect(member).not_to_contain_text("working")  # one language at a time
    expect(member).to_contain_text(f"{allied.url}/witness")
    expect(page.locator("main")).to_contain_text("须由 procuratorate 联署")
    expect(page.locator("main")).not_to_contain_text("procuratorate must cosign")
