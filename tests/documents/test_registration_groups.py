"""register()'s group commit on real PostgreSQL: concurrent records written together.

A lock on the pool table, held from another connection, keeps the first writer's INSERT
waiting; the requests that arrive meanwhile queue, and the next write takes them all.
"""

import threading
import time

import psycopg
import pytest
from django.db import DataError, connection, transaction

from documents import registration
from documents.models import Court, Record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def court():
    return Court.objects.create(code="GZ0101", name_zh="广州互联网法院", name_en="Guangzhou Court")


@pytest.fixture
def one_writer(settings):
    settings.COURT_GROUP_COMMIT_WRITERS = 1


@pytest.fixture
def group_sizes(monkeypatch):
    """The size of each register_many() call, which is one transaction."""
    sizes = []
    real = registration.register_many

    def counted(news):
        sizes.append(len(news))
        return real(news)

    monkeypatch.setattr(registration, "register_many", counted)
    return sizes


@pytest.fixture
def pool_locked():
    """Hold a lock that makes INSERTs into the pool table wait; release() ends it."""
    params = connection.settings_dict
    other = psycopg.connect(
        host=params["HOST"],
        port=params["PORT"] or 5432,
        user=params["USER"],
        dbname=params["NAME"],
        autocommit=False,
    )
    other.execute("LOCK TABLE anchoring_submission IN SHARE ROW EXCLUSIVE MODE")
    yield other.commit
    other.close()


def _new(court, n, **extra):
    return registration.NewRecord(
        court=court,
        category=Record.Category.EVIDENCE,
        title=f"证据 {n}",
        sha256=bytes([n]) * 32,
        sm3=bytes([n + 1]) * 32,
        **extra,
    )


def _register_in_threads(news):
    outcomes = {}

    def call(i, new):
        try:
            outcomes[i] = registration.register(new)
        except Exception as exc:  # the test inspects it
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(i, new)) for i, new in enumerate(news)]
    for thread in threads:
        thread.start()
    return outcomes, threads


def _wait_until(condition, what):
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _join(threads):
    for thread in threads:
        thread.join(20)
        assert not thread.is_alive()


def _behind_a_held_write(court, news, group_sizes, release) -> tuple[Record, dict]:
    """Record one file whose INSERT waits on the lock while `news` queue behind it, then
    release the lock; the first record and the outcomes of `news`, by position."""
    first, first_threads = _register_in_threads([_new(court, 0)])
    _wait_until(lambda: group_sizes == [1], "the first write did not start")
    outcomes, threads = _register_in_threads(news)
    _wait_until(lambda: len(registration._group._queue) == len(news), "the others did not queue")
    release()  # the first INSERT goes through
    _join(first_threads + threads)
    return first[0], outcomes


def test_requests_arriving_during_a_write_are_committed_together(
    court, one_writer, group_sizes, pool_locked
):
    news = [_new(court, n) for n in range(1, 16)]
    first, rest = _behind_a_held_write(court, news, group_sizes, pool_locked)

    assert group_sizes == [1, 15]
    records = [first, *rest.values()]
    assert all(isinstance(r, Record) for r in records), records
    stored = Record.objects.filter(court=court)
    assert stored.count() == 16
    assert len({r.code for r in stored}) == 16
    assert len({r.submission for r in stored}) == 16
    for record in records:  # each caller got its own row, with its own digests
        row = stored.get(code=record.code)
        assert row.title == record.title and row.sha256 == record.sha256


def test_a_row_the_database_refuses_fails_only_its_own_request(
    court, one_writer, group_sizes, pool_locked
):
    news = [_new(court, 1), _new(court, 2, filename="x" * 300 + ".pdf"), _new(court, 3)]
    _, outcomes = _behind_a_held_write(court, news, group_sizes, pool_locked)

    assert isinstance(outcomes[1], DataError)  # varchar(255): refused by PostgreSQL
    assert isinstance(outcomes[0], Record) and isinstance(outcomes[2], Record)
    # The group failed as a whole, then each was written alone.
    assert group_sizes == [1, 3, 1, 1, 1]
    titles = set(Record.objects.values_list("title", flat=True))
    assert titles == {"证据 0", "证据 1", "证据 3"}


def test_inside_a_transaction_the_record_is_part_of_it(court, group_sizes):
    with pytest.raises(RuntimeError), transaction.atomic():
        registration.register(_new(court, 7))
        assert Record.objects.filter(title="证据 7").exists()
        raise RuntimeError("roll back")
    assert not Record.objects.filter(title="证据 7").exists()
    assert registration._group._queue == [] and group_sizes == [1]
