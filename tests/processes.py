"""Real processes on the test database: a Celery worker and the ledger sequencer.

For integration and browser tests, which must meet the real components. Each process
gets the test database's URL, a Redis database of its own for the broker, and the
suite's signing key; the caller's test must use committed data (transaction=True).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def environment(**extra: str) -> dict[str, str]:
    """The environment of a child process that shares this test's database, broker and key."""
    db = connection.settings_dict
    broker = settings.CELERY_BROKER_URL
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "LEDGER_SIGNING_KEY_FILE": str(settings.LEDGER_SIGNING_KEY_FILE),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        **extra,
    }


def celery_worker(*options: str) -> list[str]:
    """The command of a Celery worker of the portal, with the given options."""
    return [sys.executable, "-m", "celery", "-A", "portal", "worker", *options]


@contextlib.contextmanager
def running(commands: list[list[str]], env: dict[str, str], log: Path) -> Iterator[None]:
    """Run the commands as child processes for the duration of the block."""
    with log.open("w") as out:
        procs = [
            subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
            for cmd in commands
        ]
        try:
            yield
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


@contextlib.contextmanager
def worker_and_sequencer(tmp_path: Path) -> Iterator[None]:
    """A Celery worker (verification jobs, from this process's broker) and a sequencer."""
    from anchoring import keys

    keys.signer()  # the key file exists before the children need it
    env = environment(LEDGER_SEQUENCER="off", LEDGER_BATCH_PERIOD="0.1")
    redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
    commands = [
        celery_worker(
            "--queues",
            "portal,certificates",
            "--pool",
            "threads",
            "--concurrency",
            "4",
            "--loglevel",
            "WARNING",
        ),
        [sys.executable, "manage.py", "sequencer"],
    ]
    with running(commands, env, tmp_path / "processes.log"):
        yield
