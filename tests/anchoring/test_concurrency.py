"""Sequencers as real processes: two at once never fork the log, a kill loses nothing."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.db import connection

from anchoring import merkle, sequencer
from anchoring.models import Checkpoint, Entry, Submission
from tests.anchoring.ledger import content_leaf, verify_each_consistent_with_the_next

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def process_env():
    """Environment for a manage.py child process that uses this test's database."""
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env["LEDGER_BATCH_PERIOD"] = "0.05"
    env["LEDGER_BATCH_SIZE"] = "64"
    env["LEDGER_SIGNING_KEY_FILE"] = str(settings.LEDGER_SIGNING_KEY_FILE)
    return env


def _start_sequencer(env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "sequencer"],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _assert_log_is_one_unforked_tree(expected_entries: set[bytes]) -> None:
    entries = list(Entry.objects.order_by("index").values_list("index", "data"))
    assert [i for i, _ in entries] == list(range(len(entries))), "the log has a gap"
    assert {bytes(d) for _, d in entries} == expected_entries
    assert len(entries) == len(expected_entries), "an entry was integrated twice"
    cps = list(Checkpoint.objects.order_by("tree_size"))
    leaf_hashes = [merkle.leaf_hash(bytes(d)) for _, d in entries]
    for cp in cps:
        assert bytes(cp.root_hash) == merkle.root(leaf_hashes[: cp.tree_size])
    verify_each_consistent_with_the_next(cps)


def _submit_in_background(count: int, prefix: str) -> tuple[threading.Thread, set[bytes]]:
    datas = [content_leaf(f"{prefix} {i}".encode()).encode() for i in range(count)]

    def submit():
        for i in range(0, count, 10):
            Submission.objects.bulk_create(Submission(data=d) for d in datas[i : i + 10])
            time.sleep(0.002)
        connection.close()

    thread = threading.Thread(target=submit)
    thread.start()
    return thread, set(datas)


def _drain_pool(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while Submission.objects.exists():
        assert time.monotonic() < deadline, "the sequencers stopped integrating"
        time.sleep(0.05)


def test_two_sequencer_processes_never_fork_the_log(process_env):
    sequencer.integrate()  # the first checkpoint, so both start from the same head
    procs = [_start_sequencer(process_env) for _ in range(2)]
    try:
        thread, expected = _submit_in_background(3000, "two sequencers")
        thread.join()
        _drain_pool()
    finally:
        for proc in procs:
            proc.terminate()
        errors = [proc.communicate(timeout=10)[1].decode() for proc in procs]
    assert all(proc.returncode in (0, -signal.SIGTERM) for proc in procs), errors
    _assert_log_is_one_unforked_tree(expected)


def test_killing_a_sequencer_mid_batch_loses_nothing_and_leaves_no_gap(process_env):
    sequencer.integrate()
    thread, expected = _submit_in_background(3000, "killed")
    # Kill the sequencer several times while it integrates; each time start another.
    for delay in (0.3, 0.45, 0.6, 0.75):
        proc = _start_sequencer(process_env)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    thread.join()
    survivor = _start_sequencer(process_env)
    try:
        _drain_pool()
    finally:
        survivor.terminate()
        survivor.wait(timeout=10)
    _assert_log_is_one_unforked_tree(expected)
