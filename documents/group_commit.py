"""Group commit: the rows of concurrent requests written by one of them, in one go.

One record per request costs two INSERTs, a commit (a WAL flush) and their round trips;
under load that was half of a court request's CPU. Here each caller queues its item, and
the first caller that finds no write in progress becomes the writer: it takes what is
queued (up to a maximum), writes it with one call, hands every caller its result and
passes the role to the oldest caller still queued. Nothing waits for a timer: a caller
alone writes its own item at once, and under load the queue fills while a write is in
flight, so groups grow with the load (PostgreSQL's own group commit, and Trillian
Tessera's batching of appends, work the same way).

Plain Python, no Django: the write function decides what a group's transaction is.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence


class GroupWriteFailed(RuntimeError):
    """Another caller's write of this group failed with an error that cannot be copied."""


class _Slot:
    __slots__ = ("item", "ready", "lead", "done", "result", "error", "shared")

    def __init__(self, item) -> None:
        self.item = item
        self.ready = threading.Event()  # set when done, or when this caller is to write
        self.lead = False  # this caller holds one of the writer roles (set under the lock)
        self.done = False
        self.result: object = None  # the write's result for this item
        self.error: BaseException | None = None
        self.shared = False  # the error is the whole group's, raised in several threads


class GroupCommit[Item, Result]:
    """Run `write` over the items of concurrent callers, a group at a time.

    `write(items)` returns one result per item, in order; a result that is an exception
    is raised to that item's caller only. If `write` itself raises, every caller of the
    group gets the error (a copy of it, so that no two threads raise one object).
    """

    def __init__(
        self,
        write: Callable[[list[Item]], Sequence[Result | Exception]],
        max_size: Callable[[], int],
        writers: Callable[[], int] = lambda: 1,
    ) -> None:
        self._write = write
        self._max_size = max_size
        self._writers = writers
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._writing = 0  # callers writing a group now

    def run(self, item: Item) -> Result:
        """Write `item` with whatever else is queued; its result (or its error, raised)."""
        slot = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            if self._writing < max(1, self._writers()):
                self._writing += 1
                slot.lead = True
        if not slot.lead:
            # Woken when another writer wrote this item, or when a writer handed its role
            # here; a role is only handed to an item still queued, so `lead` is set first.
            slot.ready.wait()
        if slot.lead:
            try:
                while not slot.done:  # other role holders may be queued ahead of it
                    self._write_one_group()
            finally:
                self._pass_on()
        return self._outcome(slot)

    def _write_one_group(self) -> None:
        with self._lock:
            size = max(1, self._max_size())
            group, self._queue[:size] = self._queue[:size], []
        try:
            results = self._write([slot.item for slot in group])
            if len(results) != len(group):
                raise RuntimeError(f"write() gave {len(results)} results for {len(group)} items")
        except BaseException as exc:
            for slot in group:
                slot.error, slot.shared, slot.done = exc, True, True
                slot.ready.set()
            if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: the writer's
                raise
            return
        for slot, result in zip(group, results, strict=True):
            if isinstance(result, Exception):
                slot.error = result
            else:
                slot.result = result
            slot.done = True
            slot.ready.set()

    def _pass_on(self) -> None:
        """Hand the writer's role to the oldest queued caller without one, or end it.

        Each role is passed on exactly once by its holder, so at most `writers` callers
        write at a time and a role never goes astray, even when another writer takes the
        successor's item before it wakes (it then finds its item done and passes on).
        """
        with self._lock:
            successor = next((s for s in self._queue if not s.lead), None)
            if successor is None:
                self._writing -= 1
            else:
                successor.lead = True
        if successor is not None:
            successor.ready.set()

    @staticmethod
    def _outcome(slot: _Slot):
        error = slot.error
        if error is None:
            return slot.result
        if not slot.shared:
            raise error
        try:
            own = copy.copy(error) if isinstance(error, Exception) else None
        except Exception:
            own = None
        if own is None:
            own = GroupWriteFailed(f"the group's write failed: {error!r}")
        raise own.with_traceback(None) from error
