"""Real processes on the test database: a Celery worker and the ledger sequencer.

For integration and browser tests, which must meet the real components. Each process
gets the test database's URL, a Redis database of its own for the broker, and the
suite's signing key; the caller's test must use committed data (transaction=True).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
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
def worker_and_sequencer(tmp_path: Path, **extra: str) -> Iterator[None]:
    """A Celery worker (verification jobs, from this process's broker) and a sequencer,
    with `extra` settings in their environment."""
    from anchoring import keys

    keys.signer()  # the key file exists before the children need it
    env = environment(LEDGER_SEQUENCER="off", LEDGER_BATCH_PERIOD="0.1", **extra)
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayRedis:
    """A redis-server of the test's own, on its own port, started and stopped at will."""

    def __init__(self, directory: Path) -> None:
        self.port, self.dir = free_port(), directory
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        command = [shutil.which("redis-server") or "redis-server", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def _answers(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_connect_timeout=0.5).ping()
    except redis.ConnectionError:
        return False


class ThrowawayPostgres:
    """A PostgreSQL cluster of the test's own (initdb and pg_ctl in a temporary directory),
    which the test may crash and restart without touching the shared server."""

    def __init__(self) -> None:
        import tempfile

        self.root = Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self.root.chmod(0o755)  # the server runs as postgres when the tests run as root
        self.data, self.port = self.root / "data", free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/portal"

    def _run(self, *command: str) -> None:
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ("runuser", "-u", "postgres", "--", *command)
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        import psycopg

        with psycopg.connect(self.url.replace("/portal", "/postgres"), autocommit=True) as db:
            db.execute("CREATE DATABASE portal")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def crash(self) -> None:
        """Stop as a crash would (no checkpoint): the next start replays the WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
