"""add-checkpoint's check of `old` and its update are one atomic step: of concurrent
requests from one state, on real PostgreSQL connections, exactly one is cosigned."""

import threading

import pytest
from django.db import connection
from django.test import Client

from tests.witness.fake_log import FakeLog
from witness.models import Log

pytestmark = [pytest.mark.django_db(transaction=True)]
THREADS = 20


def _race(bodies: list[bytes]) -> list[tuple[int, bytes]]:
    """Post each body from its own thread (its own connection), all at once."""
    barrier = threading.Barrier(len(bodies))
    answers: list[tuple[int, bytes] | None] = [None] * len(bodies)

    def post(i: int) -> None:
        try:
            client = Client()
            barrier.wait()
            response = client.post(
                "/witness/add-checkpoint", data=bodies[i], content_type="text/plain"
            )
            answers[i] = (response.status_code, response.content)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(a is not None for a in answers)
    return answers  # type: ignore[return-value]


def test_twenty_identical_updates_at_once_one_200_the_rest_409():
    log = FakeLog(size=10)
    Log.objects.create(origin=log.origin, vkey=log.vkey, qpd=86400)
    assert (
        Client()
        .post("/witness/add-checkpoint", data=log.body(0), content_type="text/plain")
        .status_code
        == 200
    )
    log.grow(5)
    answers = _race([log.body(10)] * THREADS)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * (THREADS - 1)
    assert {body for status, body in answers if status == 409} == {b"15\n"}
    row = Log.objects.get(origin=log.origin)
    assert (row.size, bytes(row.root_hash)) == (15, log.root(15))


def test_concurrent_updates_to_different_sizes_never_roll_back():
    log = FakeLog(size=10)
    Log.objects.create(origin=log.origin, vkey=log.vkey, qpd=86400)
    log.grow(THREADS)
    # From size 0 to each of the sizes 11..30: whichever wins, the others are 409.
    answers = _race([log.body(0, 10 + i + 1) for i in range(THREADS)])
    won = [i for i, (status, _) in enumerate(answers) if status == 200]
    assert len(won) == 1
    size = 10 + won[0] + 1
    assert {body for status, body in answers if status == 409} == {f"{size}\n".encode()}
    row = Log.objects.get(origin=log.origin)
    assert (row.size, bytes(row.root_hash)) == (size, log.root(size))
