"""Trusted time and chain anchors as deployed: gunicorn and `manage.py sequencer` (whose
threads timestamp and anchor published checkpoints) with two real `openssl ts` TSAs and a
real anvil node. A court records a file; its entry gets tokens from both TSAs and an
anchor confirmed on the chain, served by the API and checked here from the raw bytes. A
TSA and the node go down (the ledger goes on, /health says which) and come back (the
newest checkpoint gets its token and its anchor)."""

from __future__ import annotations

import base64
import json
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from anchoring import chain, keys
from anchoring import timestamp_token as tokens
from anchoring.checkpoint import open_checkpoint
from anchoring.models import PublishedCheckpoint
from documents.models import Court, CourtToken
from tests.chain import CHAIN_ID, anvil, key_file  # noqa: F401 - anvil: a fixture
from tests.processes import environment, free_port, running
from tests.tsa import authorities  # noqa: F401 - a fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GUNICORN = [sys.executable, "-m", "gunicorn", "portal.wsgi", "-c", "docker/gunicorn.conf.py"]
CONFIRMATIONS = 2


def _get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _record(port: int, token: str, n: int) -> int:
    body = {"sha256": f"{n:064x}", "sm3": f"{n + 7:064x}", "category": "evidence", "title": "t"}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/records",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["ledger"]["index"]


def _until(what: str, check, seconds: float = 20.0, between=None):
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s"
        if between:
            between()
        time.sleep(0.2)


def _signed(size: int):
    """The published checkpoint of `size`, opened with the log's key."""
    return open_checkpoint(PublishedCheckpoint.objects.get(pk=size).note, [keys.verifier()])


@pytest.fixture
def deployed(authorities, anvil, tmp_path):  # noqa: F811 - fixtures
    keys.signer()  # the key file exists before the children need it
    rsa_server, ec_server = authorities
    port = free_port()
    env = environment(
        LEDGER_SEQUENCER="off",
        LEDGER_BATCH_PERIOD="0.1",
        LEDGER_TSA_URLS=f"{rsa_server.url},{ec_server.url}",
        LEDGER_TSA_CA_FILES=",".join(str(s.authority.ca_pem) for s in authorities),
        LEDGER_TIMESTAMP_PERIOD="0.2",
        LEDGER_TSA_RETRY="0.2",
        LEDGER_TSA_RETRY_MAX="0.5",
        LEDGER_CHAIN_RPC_URL=anvil.url,
        LEDGER_CHAIN_ID=str(CHAIN_ID),
        LEDGER_CHAIN_KEY_FILE=str(key_file(tmp_path)),
        LEDGER_CHAIN_CONFIRMATIONS=str(CONFIRMATIONS),
        LEDGER_CHAIN_ANCHOR_PERIOD="0",
        LEDGER_CHAIN_POLL="0.2",
        LEDGER_CHAIN_RETRY="0.2",
        LEDGER_CHAIN_RETRY_MAX="0.5",
        LEDGER_CHAIN_TIMEOUT="2",
        WEB_BIND=f"127.0.0.1:{port}",
        WEB_WORKERS="1",
        WEB_ACCESS_LOG="",
    )
    log = tmp_path / "processes.log"
    with running([GUNICORN, [sys.executable, "manage.py", "sequencer"]], env, log):
        _until("the web server answering", lambda: _alive(port), 60)
        court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang")
        yield port, CourtToken.issue(court)[1], authorities, anvil, log


def _alive(port: int) -> bool:
    try:
        return _get(port, "/api/v1/ledger/checkpoint")[0] == 200
    except OSError:
        return False


def _stamped(port: int, index: int, count: int) -> dict | None:
    answer = _get(port, f"/api/v1/ledger/timestamps?covering={index}")[1]
    return answer if len(answer["timestamps"]) >= count else None


def _anchored(port: int, index: int) -> dict | None:
    answer = _get(port, f"/api/v1/ledger/anchors?covering={index}")[1]
    return answer if answer["anchors"] else None


def test_a_record_gets_trusted_time_and_a_confirmed_anchor_through_outages(deployed):
    port, token, tsas, node, log = deployed
    rsa_server = tsas[0]
    pinned = {s.authority.ca_fingerprint for s in tsas}
    index = _record(port, token, 1)

    # Both TSAs timestamp the published checkpoint covering the entry.
    stamped = _until("two timestamps", lambda: _stamped(port, index, 2))
    assert stamped["size"] > index
    body = _signed(stamped["size"]).body().encode()
    names = set()
    for item in stamped["timestamps"]:
        token_der = base64.b64decode(item["token"])
        checked = tokens.check(token_der, body, pinned, [base64.b64decode(item["ca"])])
        assert checked.gen_time.isoformat().replace("+00:00", "Z") == item["gen_time"]
        names.add(checked.tsa)
    assert names == {s.authority.name for s in tsas}

    # The anchor is sent at once and served once CONFIRMATIONS blocks deep.
    anchored = _until(
        "a confirmed anchor", lambda: _anchored(port, index), between=lambda: node.mine(1)
    )
    assert anchored["size"] > index
    (anchor,) = anchored["anchors"]
    tx = chain.Node(node.url, 5).transaction(anchor["transaction_hash"])
    cp = _signed(anchored["size"])
    assert chain.decode(tx.data).covers(cp.origin, cp.size, cp.root_hash)
    assert tx.confirmations >= CONFIRMATIONS and anchor["block_number"] == tx.block_number

    # A TSA and the node down: the ledger goes on; /health names what fails.
    rsa_server.stop()
    node.stop()
    try:
        second = _record(port, token, 2)

        def failing() -> dict | None:
            health = _get(port, "/health")[1]
            down = [a for a in health["timestamps"]["authorities"] if not a["ok"]]
            return health if down and health["chain"]["degraded"] else None

        health = _until("/health saying what fails", failing)
        assert health["status"] == "degraded", health
        assert [a["url"] for a in health["timestamps"]["authorities"] if not a["ok"]] == [
            rsa_server.url
        ]
        assert health["chain"]["error"]
        # The other TSA still timestamps the new checkpoint.
        assert _until("the EC token", lambda: _stamped(port, second, 1))
    finally:
        rsa_server.start()
        node.start()  # a new chain: what was anchored before is gone from it

    # Back: the newest checkpoint gets both tokens and an anchor on the chain as it is.
    third = _record(port, token, 3)
    assert _until("both tokens again", lambda: _stamped(port, third, 2))
    again = _until("an anchor again", lambda: _anchored(port, third), between=lambda: node.mine(1))
    resent = chain.Node(node.url, 5).transaction(again["anchors"][0]["transaction_hash"])
    assert resent is not None and resent.confirmations >= CONFIRMATIONS
    assert "Traceback" not in Path(log).read_text()
