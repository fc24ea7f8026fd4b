"""GroupCommit (documents/group_commit.py): concurrent callers' items written in groups.

Plain threads and a write function that records its groups; a write can be held open
with an Event, so that the callers arriving meanwhile must queue behind it.
"""

import threading
import time

import pytest

from documents.group_commit import GroupCommit


class Writes:
    """A write function that records each group, can be held, and fails on request."""

    def __init__(self) -> None:
        self.groups: list[list] = []
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def __call__(self, items: list) -> list:
        with self._lock:
            self.groups.append(list(items))
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        self.started.set()
        try:
            self.release.wait(10)
            if "boom" in items:
                raise ConnectionError("database down")
            return [
                ValueError(f"refused {i}") if str(i).startswith("bad") else f"row {i}"
                for i in items
            ]
        finally:
            with self._lock:
                self.active -= 1


def _run_all(group: GroupCommit, items: list) -> dict:
    """Run each item in its own thread; {item: result or the exception raised}."""
    outcomes: dict = {}

    def call(item):
        try:
            outcomes[item] = group.run(item)
        except Exception as exc:  # the test inspects it
            outcomes[item] = exc

    threads = [threading.Thread(target=call, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return outcomes, threads


def _queued(group: GroupCommit, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(group._queue) < count:
        assert time.monotonic() < deadline, f"{len(group._queue)} of {count} queued"
        time.sleep(0.005)


def _join(threads) -> None:
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive(), "a caller never got its result"


def _behind_a_held_write(max_size: int, items: list) -> tuple[Writes, GroupCommit, dict, dict]:
    """A first caller's write held open while `items` queue behind it, then released;
    the writes, the group, and the outcomes of the first caller and of the items."""
    writes = Writes()
    writes.release.clear()
    group = GroupCommit(writes, lambda: max_size)
    first, first_threads = _run_all(group, ["first"])
    assert writes.started.wait(10)
    outcomes, threads = _run_all(group, items)
    _queued(group, len(items))
    writes.release.set()
    _join(first_threads + threads)
    return writes, group, first, outcomes


def test_a_caller_alone_writes_at_once():
    writes = Writes()
    group = GroupCommit(writes, lambda: 100)
    assert group.run("a") == "row a"
    assert group.run("b") == "row b"
    assert writes.groups == [["a"], ["b"]]


def test_callers_arriving_during_a_write_share_the_next_one():
    writes, _, first, rest = _behind_a_held_write(100, [f"r{n}" for n in range(20)])
    assert first == {"first": "row first"}
    assert rest == {f"r{n}": f"row r{n}" for n in range(20)}
    assert writes.groups[0] == ["first"]
    assert sorted(writes.groups[1]) == sorted(rest)  # one write for all twenty
    assert len(writes.groups) == 2


def test_groups_are_bounded_and_every_caller_is_served():
    writes, _, _, rest = _behind_a_held_write(3, [f"r{n}" for n in range(10)])
    assert len(rest) == 10 and all(v == f"row {k}" for k, v in rest.items())
    assert [len(g) for g in writes.groups] == [1, 3, 3, 3, 1]


def test_an_item_refused_fails_only_its_own_caller():
    _, _, _, outcomes = _behind_a_held_write(100, ["a", "bad-1", "b"])
    assert outcomes["a"] == "row a" and outcomes["b"] == "row b"
    assert isinstance(outcomes["bad-1"], ValueError)
    assert str(outcomes["bad-1"]) == "refused bad-1"


def test_a_failed_write_fails_each_caller_of_its_group_with_its_own_error():
    _, group, _, outcomes = _behind_a_held_write(100, ["a", "boom", "b"])
    errors = list(outcomes.values())
    assert all(isinstance(e, ConnectionError) and str(e) == "database down" for e in errors)
    assert len({id(e) for e in errors}) == 3  # no exception object raised in two threads
    # The role was handed back: the next caller writes again.
    assert group.run("later") == "row later"


def test_several_writers_may_write_at_once():
    writes = Writes()
    writes.release.clear()
    group = GroupCommit(writes, lambda: 100, writers=lambda: 2)
    outcomes, threads = _run_all(group, ["a", "b"])
    deadline = time.monotonic() + 10
    while writes.active < 2:
        assert time.monotonic() < deadline, "the second caller did not write alongside"
        time.sleep(0.005)
    later, later_threads = _run_all(group, ["c", "d"])
    _queued(group, 2)
    assert writes.active == 2  # a third write waits for one of the two
    writes.release.set()
    _join(threads + later_threads)
    assert outcomes == {"a": "row a", "b": "row b"}
    assert later == {"c": "row c", "d": "row d"}
    assert writes.most_active == 2


def test_a_write_that_answers_the_wrong_number_of_results_is_an_error():
    group = GroupCommit(lambda items: [], lambda: 100)
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        group.run("a")


def test_many_callers_with_several_writers_all_finish_and_leave_no_writer_behind():
    import random

    rng = random.Random(7)

    def write(items):
        time.sleep(rng.random() / 500)
        return [f"row {i}" for i in items]

    group = GroupCommit(write, lambda: 2, writers=lambda: 3)
    for round_ in range(20):
        items = [f"{round_}-{n}" for n in range(40)]
        outcomes, threads = _run_all(group, items)
        _join(threads)
        assert outcomes == {i: f"row {i}" for i in items}
        assert group._writing == 0 and group._queue == []
