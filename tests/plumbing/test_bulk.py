"""The hand-written SQL of plumbing/bulk.py writes exactly what the ORM would."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from anchoring.models import Entry, Submission
from plumbing import bulk
from verification.models import Verification, VerificationStep

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("count", [1, bulk.INSERT_MIN_ROWS, 50])
def test_insert_sets_each_primary_key_in_order(count):
    rows = [Submission(data=bytes([i])) for i in range(count)]
    bulk.insert(Submission, rows)
    assert [r._state.adding for r in rows] == [False] * count
    stored = dict(Submission.objects.values_list("pk", "data"))
    assert [bytes(stored[r.pk]) for r in rows] == [bytes([i]) for i in range(count)]
    assert all(r.submitted_at is not None for r in rows)  # auto_now_add, as bulk_create


def test_insert_refuses_an_over_long_value_rather_than_truncating_it():
    rows = [VerificationStep(name="n" * 41) for _ in range(bulk.INSERT_MIN_ROWS)]
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 - the driver's error
        bulk.insert(VerificationStep, rows)


def test_copy_writes_rows_given_as_field_values():
    now = timezone.now()
    fields = ("index", "data", "kind", "sha256", "sm3", "subject", "submission", "integrated_at")
    bulk.copy(Entry, fields, [(7, b"a", 1, b"s" * 32, b"m" * 32, "CODE", 3, now)])
    e = Entry.objects.get()
    assert (e.index, bytes(e.data), e.kind, e.subject, e.submission) == (7, b"a", 1, "CODE", 3)
    assert (bytes(e.sha256), bytes(e.sm3), e.integrated_at) == (b"s" * 32, b"m" * 32, now)


def test_delete_removes_exactly_the_rows_named():
    rows = [Submission(data=b"x") for _ in range(6)]
    bulk.insert(Submission, rows)
    bulk.delete(Submission, [rows[1].pk, rows[4].pk])
    assert sorted(Submission.objects.values_list("pk", flat=True)) == sorted(
        r.pk for r in rows if r not in (rows[1], rows[4])
    )


def _verification(*steps: dict) -> tuple[Verification, list[VerificationStep]]:
    now = timezone.now()
    v = Verification(source="digest", sha256="00" * 32, status="done", started_at=now)
    return v, [VerificationStep(verification=v, position=i, **s) for i, s in enumerate(steps)]


def test_insert_with_children_writes_the_row_and_its_children():
    v, steps = _verification(
        {"name": "digest", "status": "passed", "explanation_zh": "摘要", "explanation_en": "d"},
        {
            "name": "leaf",
            "status": "failed",
            "explanation_zh": "叶",
            "explanation_en": "l",
            "detail": {"index": 3, "note": '引号"与\\反斜杠'},
        },
    )
    bulk.insert_with_children(v, steps, "verification")
    stored = Verification.objects.get(pk=v.pk)
    assert stored.sha256 == "00" * 32 and not v._state.adding
    assert list(
        stored.steps.order_by("position").values_list("name", "status", "explanation_zh", "detail")
    ) == [
        ("digest", "passed", "摘要", {}),
        ("leaf", "failed", "叶", {"index": 3, "note": '引号"与\\反斜杠'}),
    ]


def test_insert_with_children_is_one_atomic_step():
    """A child the database refuses leaves no parent behind."""
    v, steps = _verification(
        {"name": "x" * 41, "status": "passed", "explanation_zh": "", "explanation_en": ""}
    )
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 - the driver's error
        bulk.insert_with_children(v, steps, "verification")
    assert not Verification.objects.filter(pk=v.pk).exists()


def test_insert_with_children_refuses_a_second_row_with_the_same_key():
    v, steps = _verification()
    bulk.insert_with_children(v, steps, "verification")
    again, _ = _verification()
    again.pk = v.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert_with_children(again, [], "verification")


def _entries(*indexes: int) -> None:
    now = timezone.now()
    fields = ("index", "data", "kind", "sha256", "sm3", "integrated_at")
    bulk.copy(Entry, fields, [(i, bytes([i]), i % 2, b"s" * 32, b"m" * 32, now) for i in indexes])


def test_select_by_keys_finds_exactly_the_pairs_asked_for():
    _entries(1, 2, 3, 4)
    rows = bulk.select_by_keys(Entry, ("index", "kind"), [(1, 1), (2, 0), (3, 0)], ["data"])
    assert sorted((i, k, bytes(d)) for i, k, d in rows) == [(1, 1, b"\x01"), (2, 0, b"\x02")]
    assert bulk.select_by_keys(Entry, ("index", "kind"), [], ["data"]) == []


def test_select_range_is_ordered_half_open_and_filtered():
    _entries(5, 1, 4, 2, 3, 6)
    assert [bytes(d) for d in bulk.select_range(Entry, "data", "index", 2, 6)] == [
        b"\x02",
        b"\x03",
        b"\x04",
        b"\x05",
    ]
    assert [bytes(d) for d in bulk.select_range(Entry, "data", "index", 1, 7, kind=0)] == [
        b"\x02",
        b"\x04",
        b"\x06",
    ]
