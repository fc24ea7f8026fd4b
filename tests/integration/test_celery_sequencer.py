"""Production path: a real Celery beat and worker integrate the ledger, through Redis, and
have its checkpoints timestamped by real TSAs and anchored on a real anvil."""

import os
import subprocess
import sys
import time

import pytest
import redis
from django.db import connection

from anchoring import keys, merkle, sequencer
from anchoring.checkpoint import open_checkpoint
from anchoring.models import ChainAnchor, CheckpointTimestamp
from tests.anchoring.ledger import content_leaf
from tests.chain import CHAIN_ID, anvil, key_file  # noqa: F401 - anvil: a fixture
from tests.tsa import authorities  # noqa: F401 - a fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BROKER_DB = 2  # a Redis database of its own, emptied before the test


@pytest.fixture
def celery_processes(tmp_path, settings, authorities, anvil):  # noqa: F811 - fixtures
    """A worker and a beat process on this test's database, as docker/compose.yaml runs them,
    with two TSAs and a chain configured (beat then schedules their tasks too)."""
    settings.LEDGER_SEQUENCER = "celery"  # submitting must not start a thread here
    broker = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    redis.Redis.from_url(broker).flushdb()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "LEDGER_SEQUENCER": "celery",
        "LEDGER_BATCH_PERIOD": "0.3",
        "LEDGER_SIGNING_KEY_FILE": str(settings.LEDGER_SIGNING_KEY_FILE),
        "LEDGER_TSA_URLS": ",".join(server.url for server in authorities),
        "LEDGER_TSA_CA_FILES": ",".join(str(s.authority.ca_pem) for s in authorities),
        "LEDGER_TIMESTAMP_PERIOD": "0.3",
        "LEDGER_CHAIN_RPC_URL": anvil.url,
        "LEDGER_CHAIN_ID": str(CHAIN_ID),
        "LEDGER_CHAIN_KEY_FILE": str(key_file(tmp_path)),
        "LEDGER_CHAIN_CONFIRMATIONS": "1",  # anvil mines each transaction at once
        "LEDGER_CHAIN_ANCHOR_PERIOD": "0",
        "LEDGER_CHAIN_POLL": "0.3",
    }
    celery = [sys.executable, "-m", "celery", "-A", "portal"]
    log = (tmp_path / "celery.log").open("w")  # a file, so a chatty process never blocks
    procs = [
        subprocess.Popen(
            [*celery, "worker", "--pool", "solo", "--loglevel", "WARNING"],
            env=env,
            cwd=settings.BASE_DIR,
            stderr=log,
        ),
        subprocess.Popen(
            [*celery, "beat", "--loglevel", "WARNING", "--schedule", str(tmp_path / "beat")],
            env=env,
            cwd=settings.BASE_DIR,
            stderr=log,
        ),
    ]
    yield
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=20)
    log.close()


def test_beat_and_worker_integrate_timestamp_and_anchor(celery_processes, authorities):  # noqa: F811
    keys.signer()  # the key file exists before the worker needs it
    leaves = [content_leaf(f"celery {i}".encode()) for i in range(40)]
    submissions = [sequencer.submit(leaf) for leaf in leaves]
    # Nothing in this process integrates: only beat's ticks, run by the worker, can.
    receipts = [sequencer.wait(s, timeout=60) for s in submissions]

    assert sorted(r.index for r in receipts) == list(range(40))
    for leaf, receipt in zip(leaves, receipts, strict=True):
        cp = open_checkpoint(receipt.checkpoint, keys.verifier())
        assert cp.size == receipt.tree_size
        merkle.verify_inclusion(
            merkle.leaf_hash(leaf.encode()),
            receipt.index,
            cp.size,
            receipt.inclusion_proof,
            cp.root_hash,
        )

    # Beat's timestamp and chain-anchor ticks, run by the worker: the newest checkpoint
    # gets a token from each TSA and a confirmed anchor.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tsas = set(CheckpointTimestamp.objects.values_list("tsa", flat=True))
        confirmed = ChainAnchor.objects.filter(state=ChainAnchor.State.CONFIRMED).exists()
        if len(tsas) == 2 and confirmed:
            break
        time.sleep(0.3)
    assert tsas == {server.authority.name for server in authorities}
    assert confirmed
