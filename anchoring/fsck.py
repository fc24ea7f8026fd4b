"""ledger_fsck's ledger half: every tile, entry and checkpoint re-derived from the entries.

In the manner of Trillian Tessera's fsck, the entries are read once, in index order and
in chunks, and everything else the log stores is recomputed from them and compared: the
full tiles, the columns derived from each leaf, each checkpoint's signature and root, and
the consistency of successive checkpoints. Nothing is read through store's per-process
tile cache. Memory stays bounded: the recomputed tree is held as its right edge (one
partial tile per level) plus the full tiles made since the last checkpoint.

Apps that keep rows about entries (the court side) look at each entry as it streams past
(`on_entry`) and compare their rows afterwards; the whole check runs in one snapshot
(`snapshot()`), and `keep_result` turns its findings into alarms and a FsckRun row.
"""

from __future__ import annotations

import contextlib
import logging
import operator
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import reduce
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django.db.models import Max, Q

from anchoring import alarms, keys, leaf, merkle
from anchoring.checkpoint import CheckpointError, open_checkpoint
from anchoring.models import Alarm, Checkpoint, Entry, FsckRun, PublishedCheckpoint, Tile
from anchoring.note import NoteError, Verifier, parse_note, parse_verifier_key
from anchoring.tiles import TILE_WIDTH, TileNodes, TileRef, grow, level_size, with_tiles

log = logging.getLogger(__name__)

# Entries read per query (a few hundred bytes each) and grown into the tree at once.
CHUNK = 8192
_CHECKPOINT_CHUNK = 1000

EntryObserver = Callable[[int, leaf.Leaf], None]


class Unusable(RuntimeError):
    """The check cannot run at all (no log key, no database): exit code 2."""


@dataclass(frozen=True)
class Discrepancy:
    """One thing the database holds that the ledger's entries do not bear out."""

    table: str  # the table of the row, e.g. "anchoring_tile"
    row: str  # which row(s), e.g. "level 0 index 3"
    subject: str  # a short name for its alarm, e.g. "tile 0/3"
    what: str  # what is wrong, in plain English
    expected: str | None = None  # what the entries imply
    found: str | None = None  # what the row holds
    index: int | None = None  # the first ledger index concerned, when there is one

    def line(self) -> str:
        """The discrepancy as one line of text: where, what, expected and found."""
        text = f"{self.table} {self.row}: {self.what}"
        if self.expected is not None or self.found is not None:
            text += f" (expected {self.expected}, found {self.found})"
        return text

    def as_dict(self) -> dict:
        """The discrepancy as JSON-ready fields."""
        return asdict(self)


@dataclass
class Report:
    """What one run found, what it covered and how long it took."""

    started_at: datetime
    seconds: float = 0.0
    discrepancies: list[Discrepancy] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""  # why the check could not run

    @property
    def exit_code(self) -> int:
        """0 clean, 1 discrepancies found, 2 the check could not run."""
        if self.error:
            return 2
        return 1 if self.discrepancies else 0

    def summary(self) -> str:
        """One line: what was checked, how long it took, and the verdict."""
        if self.error:
            return f"ledger_fsck: cannot run: {self.error}"
        checked = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in self.counts.items())
        n = len(self.discrepancies)
        verdict = "clean" if not n else f"{n} discrepanc{'y' if n == 1 else 'ies'}"
        return f"ledger_fsck: checked {checked} in {self.seconds:.2f} s: {verdict}"

    def as_dict(self) -> dict:
        """The report as JSON-ready fields."""
        return {
            "exit_code": self.exit_code,
            "clean": self.exit_code == 0,
            "summary": self.summary(),
            "started_at": self.started_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "counts": self.counts,
            "error": self.error,
            "discrepancies": [d.as_dict() for d in self.discrepancies],
        }


def log_verifier() -> Verifier:
    """The log key: LEDGER_VERIFIER_KEY where set (processes that hold no signing key), else
    this deployment's signing key. Never creates a key: a new one would fail every checkpoint."""
    if settings.LEDGER_VERIFIER_KEY:
        try:
            return parse_verifier_key(settings.LEDGER_VERIFIER_KEY)
        except ValueError as exc:
            raise Unusable(f"LEDGER_VERIFIER_KEY is not a verifier key ({exc})") from None
    if not settings.LEDGER_SIGNING_KEY_FILE.exists():
        raise Unusable(
            "no log key: LEDGER_VERIFIER_KEY is not set and the signing key "
            f"{settings.LEDGER_SIGNING_KEY_FILE} does not exist"
        )
    try:
        return keys.verifier()
    except (ImproperlyConfigured, OSError, ValueError) as exc:
        raise Unusable(f"the log key cannot be read ({exc})") from None


@contextlib.contextmanager
def snapshot() -> Iterator[None]:
    """One consistent, read-only view of the database for the whole check (on PostgreSQL a
    REPEATABLE READ transaction), so that rows committed meanwhile by the sequencer or the
    court side never look like discrepancies."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def keep_result(report: Report) -> None:
    """Raise an alarm for every discrepancy and keep the run for /health and the admin.

    Call it outside the snapshot. A database that cannot take the rows still gets the
    alarms' log lines."""
    for d in report.discrepancies:
        alarms.raise_alarm(Alarm.Source.FSCK, d.line(), subject=d.subject[:100], index=d.index)
    try:
        FsckRun.objects.create(
            started_at=report.started_at,
            seconds=report.seconds,
            exit_code=report.exit_code,
            discrepancies=len(report.discrepancies),
            entries=report.counts.get("entries", 0),
            summary=report.summary(),
        )
    except DatabaseError as exc:
        log.error("the ledger_fsck run could not be stored (%s)", exc)


def hexed(value: bytes | memoryview | None) -> str:
    """A digest as it is shown in a discrepancy."""
    return "nothing" if value is None else bytes(value).hex()


class LedgerFsck:
    """The ledger half of ledger_fsck; `run()` yields each discrepancy as it is found.

    `counts` holds how many entries, full tiles and checkpoints were checked once it is
    done. `on_entry(index, leaf)` sees every entry that decodes, in index order.
    """

    def __init__(
        self,
        verifier: Verifier,
        origin: str,
        *,
        on_entry: EntryObserver | None = None,
        chunk: int | None = None,
    ) -> None:
        self._verifier = verifier
        self._origin = origin
        self._on_entry = on_entry
        self._chunk = chunk or CHUNK
        self.counts = {"entries": 0, "full_tiles": 0, "checkpoints": 0, "published": 0}
        # The tree recomputed from the entries: its size, its right edge, the leaf hashes
        # not yet grown into it, and the full tiles made since the last signed checkpoint
        # (what a consistency proof from that checkpoint needs besides the edge).
        self._size = 0
        self._edge: dict[int, list[bytes]] = {}
        self._pending: list[bytes] = []
        self._recent: dict[tuple[int, int], TileNodes] = {}
        self._edge_nodes: dict[int, TileNodes] = {}  # the edge's last TileNodes, per level
        self._missing_from: int | None = None  # the first missing entry: the tree stops there
        self._previous: tuple[int, bytes] | None = None  # last checkpoint with a good note
        self._reproduced = 0  # size of the last checkpoint whose root the entries reproduce
        self._unchecked: list[int] = []  # checkpoints past a missing entry
        self._last_checkpoint: tuple[int, datetime] | None = None

    # --- The run ---------------------------------------------------------------------

    def run(self) -> Iterator[Discrepancy]:
        """Check everything; yield each discrepancy as it is found."""
        newest = Checkpoint.objects.aggregate(size=Max("tree_size"))["size"]
        checkpoints = self._checkpoints()
        cp = next(checkpoints, None)
        if cp is not None and cp[0] != 0:
            yield Discrepancy(
                "anchoring_checkpoint",
                "tree_size 0",
                "checkpoint 0",
                "the empty tree's checkpoint (size 0), which a log signs first, is missing",
            )
        expected = 0
        batch: tuple[int, datetime] | None = None  # first index and time of the batch read
        for rows in self._entry_chunks():
            for index, data, kind, sha, sm, subject, integrated_at in rows:
                if index != expected:
                    yield from self._gap(expected, index, newest)
                    batch = None  # its end is unknown
                while cp is not None and cp[0] <= index:
                    yield from self._checkpoint(*cp)
                    cp = next(checkpoints, None)
                if batch is not None and integrated_at != batch[1]:
                    yield from self._batch_end(batch, index, newest)
                    batch = None
                if batch is None:
                    batch = (index, integrated_at)
                yield from self._entry(index, bytes(data), kind, sha, sm, subject)
                expected = index + 1
        while cp is not None and cp[0] <= expected:
            yield from self._checkpoint(*cp)
            cp = next(checkpoints, None)
        if batch is not None:
            yield from self._batch_end(batch, expected, newest)
        if newest is not None and newest > expected:
            yield from self._gap(expected, newest, newest)
        while cp is not None:
            yield from self._checkpoint(*cp)
            cp = next(checkpoints, None)
        yield from self._flush()
        yield from self._tail(expected, newest)
        yield from self._published()

    def _entry_chunks(self) -> Iterator[list[tuple]]:
        """The entries in index order, a chunk per query (keyset pagination)."""
        after = -1
        while True:
            rows = list(
                Entry.objects.filter(index__gt=after)
                .order_by("index")
                .values_list("index", "data", "kind", "sha256", "sm3", "subject", "integrated_at")[
                    : self._chunk
                ]
            )
            if not rows:
                return
            yield rows
            after = rows[-1][0]

    def _checkpoints(self) -> Iterator[tuple[int, bytes | memoryview, str, datetime]]:
        """The checkpoints by tree size, a chunk per query."""
        after = -1
        while True:
            rows = list(
                Checkpoint.objects.filter(tree_size__gt=after)
                .order_by("tree_size")
                .values_list("tree_size", "root_hash", "note", "created_at")[:_CHECKPOINT_CHUNK]
            )
            if not rows:
                return
            yield from rows
            after = rows[-1][0]

    def _published(self) -> Iterator[Discrepancy]:
        """Each published checkpoint (what readers are given): its note verifies with the
        log key and states exactly the size and root the log signed, which its columns hold."""
        after = -1
        while True:
            rows = list(
                PublishedCheckpoint.objects.filter(tree_size__gt=after)
                .order_by("tree_size")
                .values_list("tree_size", "root_hash", "note")[:_CHECKPOINT_CHUNK]
            )
            if not rows:
                return
            sizes = [row[0] for row in rows]
            signed = dict(
                Checkpoint.objects.filter(tree_size__in=sizes).values_list("tree_size", "note")
            )
            for tree_size, root_hash, note in rows:
                self.counts["published"] += 1
                yield from self._one_published(tree_size, bytes(root_hash), note, signed)
            after = rows[-1][0]

    def _one_published(
        self, tree_size: int, root_hash: bytes, note: str, signed: dict
    ) -> Iterator[Discrepancy]:
        where = (
            "anchoring_publishedcheckpoint",
            f"tree_size {tree_size}",
            f"published checkpoint {tree_size}",
        )
        try:
            body = open_checkpoint(note, self._verifier, origin=self._origin)
        except (NoteError, CheckpointError) as exc:
            yield Discrepancy(*where, f"its note does not verify with the log key ({exc})")
            return
        # The signed row itself is checked above (its note, its batch); here only that the
        # published one states the same tree.
        signed_body = _body(signed.get(tree_size))
        if body.size != tree_size or (signed_body is not None and signed_body != body.body()):
            yield Discrepancy(
                *where,
                "its note does not state the tree the log signed for this size",
                expected=_text(signed_body),
                found=repr(body.body()),
            )
        elif root_hash != body.root_hash:
            yield Discrepancy(
                *where,
                "its root_hash column is not the root its note signs",
                expected=body.root_hash.hex(),
                found=root_hash.hex(),
            )

    # --- Entries ---------------------------------------------------------------------

    def _entry(
        self, index: int, data: bytes, kind: int, sha: bytes, sm: bytes, subject: str | None
    ) -> Iterator[Discrepancy]:
        """One entry's derived columns against its leaf; then into the tree."""
        self.counts["entries"] += 1
        where = ("anchoring_entry", f"index {index}", f"entry {index}")
        try:
            parsed = leaf.decode(data)
        except leaf.LeafError as exc:
            yield Discrepancy(*where, f"its data is not a well-formed leaf ({exc})", index=index)
        else:
            # Each column: its name, its value, the leaf's value, how both are shown.
            columns: tuple[tuple[str, Any, Any, Callable[[Any], str]], ...] = (
                ("kind", kind, int(parsed.kind), _kind_name),
                ("sha256", bytes(sha), parsed.sha256, hexed),
                ("sm3", bytes(sm), parsed.sm3, hexed),
                ("subject", subject, leaf.subject(parsed), _text),
            )
            for column, found, expected, show in columns:
                if found != expected:
                    yield Discrepancy(
                        *where,
                        f"its {column} column is not what its leaf holds",
                        expected=show(expected),
                        found=show(found),
                        index=index,
                    )
            if self._on_entry is not None:
                self._on_entry(index, parsed)
        if self._missing_from is None:
            self._pending.append(merkle.leaf_hash(data))
            if len(self._pending) >= self._chunk:
                yield from self._flush()

    def _gap(self, first: int, end: int, newest: int | None) -> Iterator[Discrepancy]:
        """Entries [first, end) are missing: the recomputed tree stops at `first`."""
        count = end - first
        them = "it" if count == 1 else "them"
        covered = (
            f"; checkpoint {newest} covers {them}" if newest is not None and newest >= end else ""
        )
        yield Discrepancy(
            "anchoring_entry",
            f"index {first}" if count == 1 else f"indexes {first} to {end - 1}",
            f"entry {first}",
            f"{'entry' if count == 1 else f'{count} entries'} missing from the log{covered}",
            index=first,
        )
        if self._missing_from is None:
            yield from self._flush()
            self._missing_from = first

    def _batch_end(
        self, batch: tuple[int, datetime], end: int, newest: int | None
    ) -> Iterator[Discrepancy]:
        """The sequencer signs a checkpoint for every batch, at the batch's time."""
        first, at = batch
        if newest is None or end > newest:
            return  # reported as entries beyond the newest checkpoint
        if self._last_checkpoint is None or self._last_checkpoint[0] != end:
            yield Discrepancy(
                "anchoring_checkpoint",
                f"tree_size {end}",
                f"checkpoint {end}",
                f"the checkpoint of the batch of entries {first} to {end - 1} (integrated "
                f"together at {at.isoformat()}) is missing; or their integrated_at was changed",
                index=first,
            )
        elif self._last_checkpoint[1] != at:
            yield Discrepancy(
                "anchoring_checkpoint",
                f"tree_size {end}",
                f"checkpoint {end}",
                f"its created_at is not the integrated_at of the batch of entries {first} to "
                f"{end - 1} it was signed for",
                expected=at.isoformat(),
                found=self._last_checkpoint[1].isoformat(),
                index=first,
            )

    def _tail(self, end: int, newest: int | None) -> Iterator[Discrepancy]:
        """Entries nothing signed, checkpoints nothing could check, tiles nothing fills."""
        signed = newest or 0
        if end > signed:
            yield Discrepancy(
                "anchoring_entry",
                f"index {signed}" if end - signed == 1 else f"indexes {signed} to {end - 1}",
                f"entry {signed}",
                f"{end - signed} entr{'y lies' if end - signed == 1 else 'ies lie'} beyond the "
                + (
                    f"newest checkpoint (size {newest}): no signed tree covers them"
                    if newest is not None
                    else "newest checkpoint: the log has no checkpoint at all"
                ),
                index=signed,
            )
        if self._unchecked:
            n = len(self._unchecked)
            yield Discrepancy(
                "anchoring_checkpoint",
                f"tree_size {self._unchecked[0]}"
                if n == 1
                else f"tree_size {self._unchecked[0]} to {self._unchecked[-1]}",
                f"checkpoint {self._unchecked[0]}",
                f"{n} checkpoint{'s' if n > 1 else ''} cannot be checked against the entries: "
                f"entry {self._missing_from} is missing",
                index=self._missing_from,
            )
        if self._missing_from is None:
            yield from self._extra_tiles()

    # --- Tiles -----------------------------------------------------------------------

    def _flush(self) -> Iterator[Discrepancy]:
        """Grow the pending leaf hashes into the tree; check the full tiles they complete."""
        if not self._pending:
            return
        growth = grow(self._size, self._edge, self._pending)
        self._pending = []
        self._size, self._edge = growth.tree_size, growth.edge
        if not growth.full_tiles:
            return
        by_level: dict[int, list[tuple[int, TileNodes]]] = defaultdict(list)
        for ref, nodes in growth.full_tiles:
            by_level[ref.level].append((ref.index, nodes))
            self._recent[ref.level, ref.index] = nodes
        for level, made in by_level.items():
            stored = {
                index: (bytes(hashes), None if inner is None else bytes(inner), bytes(root))
                for index, hashes, inner, root in Tile.objects.filter(
                    level=level, index__gte=made[0][0], index__lte=made[-1][0]
                ).values_list("index", "hashes", "inner", "root")
            }
            for index, nodes in made:
                self.counts["full_tiles"] += 1
                yield from _compare_tile(level, index, nodes, stored.get(index))

    def _extra_tiles(self) -> Iterator[Discrepancy]:
        """Stored tiles the entries do not fill."""
        full = []
        level = 0
        while level_size(level, self._size) >= TILE_WIDTH:
            full.append(Q(level=level, index__lt=level_size(level, self._size) // TILE_WIDTH))
            level += 1
        extra = Tile.objects.exclude(reduce(operator.or_, full)) if full else Tile.objects.all()
        extra = extra.order_by("level", "index")
        for level, index in extra.values_list("level", "index").iterator():
            first = index * TILE_WIDTH ** (level + 1)
            yield Discrepancy(
                "anchoring_tile",
                f"level {level} index {index}",
                f"tile {level}/{index}",
                f"the tile is stored, but the log's {self._size} entries do not fill it "
                f"(it would cover entries {first} to {first + TILE_WIDTH ** (level + 1) - 1})",
                index=min(first, self._size),
            )

    # --- Checkpoints -----------------------------------------------------------------

    def _checkpoint(
        self, tree_size: int, root_hash: bytes | memoryview, note: str, created_at: datetime
    ) -> Iterator[Discrepancy]:
        """One checkpoint: its note, its columns, its root, its consistency with the last."""
        self.counts["checkpoints"] += 1
        self._last_checkpoint = (tree_size, created_at)
        where = ("anchoring_checkpoint", f"tree_size {tree_size}", f"checkpoint {tree_size}")
        signed = None
        try:
            body = open_checkpoint(note, self._verifier, origin=self._origin)
        except (NoteError, CheckpointError) as exc:
            yield Discrepancy(*where, f"its note does not verify with the log key ({exc})")
        else:
            if body.size != tree_size:
                yield Discrepancy(
                    *where,
                    "its tree_size column is not the size its note signs",
                    expected=str(body.size),
                    found=str(tree_size),
                )
            elif bytes(root_hash) != body.root_hash:
                yield Discrepancy(
                    *where,
                    "its root_hash column is not the root its note signs",
                    expected=body.root_hash.hex(),
                    found=hexed(root_hash),
                )
            if body.size == tree_size:
                signed = body.root_hash
        if self._missing_from is not None and tree_size > self._missing_from:
            self._unchecked.append(tree_size)
            return
        if signed is None:
            return
        yield from self._flush()
        previous = self._previous
        root, proof = self._root_and_proof(previous[0] if previous else 0, tree_size)
        if root != signed:
            yield Discrepancy(
                *where,
                f"the root its note signs is not the root of entries 0 to {tree_size - 1} "
                "recomputed from the entries",
                expected=root.hex(),
                found=signed.hex(),
                index=self._reproduced,
            )
        else:
            self._reproduced = tree_size
        if previous is not None:
            try:
                merkle.verify_consistency(previous[0], tree_size, previous[1], signed, proof)
            except merkle.ProofError as exc:
                yield Discrepancy(
                    *where,
                    f"it is not consistent with checkpoint {previous[0]}: the consistency "
                    f"proof computed from the entries fails ({exc})",
                    index=previous[0] if root == signed else self._reproduced,
                )
        self._previous = (tree_size, signed)
        self._recent = {}

    def _root_and_proof(self, old: int, size: int) -> tuple[bytes, list[bytes]]:
        """The recomputed root of the tree of `size` entries and the consistency proof from
        `old`, from its right edge and the full tiles made since `old`."""

        def read(refs: list[TileRef]) -> dict[TileRef, TileNodes]:
            out = {}
            for ref in refs:
                if ref.full:
                    out[ref] = self._recent[ref.level, ref.index]
                    continue
                data = b"".join(self._edge[ref.level])
                if len(data) != ref.width * merkle.HASH_SIZE:
                    raise AssertionError(f"the edge of level {ref.level} is not {ref}")
                # Upper levels of the edge seldom change from one checkpoint to the next.
                nodes = self._edge_nodes.get(ref.level)
                if nodes is None or nodes.data != data:
                    nodes = self._edge_nodes[ref.level] = TileNodes(data)
                out[ref] = nodes
            return out

        def compute(subtree: Callable[[int, int], bytes]) -> tuple[bytes, list[bytes]]:
            root = subtree(0, size) if size else merkle.EMPTY_ROOT
            return root, merkle.consistency_proof(old, size, subtree)

        return with_tiles(size, compute, read)


def _compare_tile(
    level: int, index: int, nodes: TileNodes, stored: tuple[bytes, bytes | None, bytes] | None
) -> Iterator[Discrepancy]:
    """A stored full tile against the one recomputed from the entries."""
    span = TILE_WIDTH**level  # entries under one hash of this level
    first = index * TILE_WIDTH * span
    where = ("anchoring_tile", f"level {level} index {index}", f"tile {level}/{index}")
    if stored is None:
        yield Discrepancy(
            *where,
            f"the tile is missing; the tree needs it (entries {first} to "
            f"{first + TILE_WIDTH * span - 1})",
            index=first,
        )
        return
    hashes, inner, root = stored
    if hashes != nodes.data:
        wrong = _differing(hashes, nodes.data)
        p = wrong[0]
        yield Discrepancy(
            *where,
            f"{len(wrong)} of its hashes differ from those recomputed from the entries, the "
            f"first being hash {p} (entries {first + p * span} to {first + (p + 1) * span - 1})",
            expected=nodes.data[p * 32 : (p + 1) * 32].hex(),
            found=hashes[p * 32 : (p + 1) * 32].hex() or "nothing",
            index=first + p * span,
        )
    if inner is not None and inner != nodes.inner:
        wrong = _differing(inner, nodes.inner)
        p = wrong[0]
        yield Discrepancy(
            *where,
            f"{len(wrong)} of its inner hashes differ from those recomputed from the entries, "
            f"the first being inner hash {p}",
            expected=nodes.inner[p * 32 : (p + 1) * 32].hex(),
            found=inner[p * 32 : (p + 1) * 32].hex() or "nothing",
            index=first,
        )
    if root != nodes.root:
        yield Discrepancy(
            *where,
            "its root is not the root recomputed from the entries",
            expected=nodes.root.hex(),
            found=hexed(root),
            index=first,
        )


def _differing(stored: bytes, recomputed: bytes) -> list[int]:
    """Positions of the 32-byte hashes that differ (a short or long stored value counts)."""
    count = max(len(stored), len(recomputed)) // 32 + (len(stored) % 32 != 0)
    return [
        p
        for p in range(count)
        if stored[p * 32 : (p + 1) * 32] != recomputed[p * 32 : (p + 1) * 32]
    ]


def _body(note: str | None) -> str | None:
    """The text of a note (unverified), or None."""
    if note is None:
        return None
    try:
        return parse_note(note).text
    except NoteError:
        return None


def _kind_name(kind: int) -> str:
    try:
        return f"{kind} ({leaf.Kind(kind).name})"
    except ValueError:
        return f"{kind} (no such kind)"


def _text(value: str | None) -> str:
    return "nothing" if value is None else repr(value)
