"""Production path: a real Celery beat and worker integrate the ledger, through Redis."""

import os
import subprocess
import sys

import pytest
import redis
from django.db import connection

from anchoring import keys, merkle, sequencer
from anchoring.checkpoint import open_checkpoint
from tests.anchoring.ledger import content_leaf

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BROKER_DB = 2  # a Redis database of its own, emptied before the test


@pytest.fixture
def celery_processes(tmp_path, settings):
    """A worker and a beat process on this test's database, as docker/compose.yaml runs them."""
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


def test_beat_and_worker_integrate_submissions_and_return_receipts(celery_processes):
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
