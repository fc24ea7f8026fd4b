#!/usr/bin/env python
"""The hand-written SQL of plumbing/bulk.py against the ORM code it replaces.

Each fast path is timed beside the ORM code it replaces, on the same rows, in this
process on PostgreSQL: alternating runs, each in a transaction rolled back afterwards so
every run starts from the same tables, after --warmup untimed pairs. The figure is the
median wall time of --runs runs; "gain" is the ORM's median over the fast path's. A fast
path is worth its code where the gain is large on a path the product runs per request or
per batch (docs/benchmarks.md, "SQL fast paths").
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import harness
from harness import Table

QUICK = {"runs": 20, "warmup": 3, "entries": 20_000}
FULL = {"runs": 200, "warmup": 20, "entries": 200_000}


def _timed(make: Callable[[], Any], run: Callable[[Any], object]) -> float:
    """Seconds `run(make())` takes, `make()` untimed; all writes are rolled back."""
    from django.db import transaction

    with transaction.atomic():
        rows = make()
        start = time.perf_counter()
        run(rows)
        seconds = time.perf_counter() - start
        transaction.set_rollback(True)
    return seconds


def compare(table: Table, name: str, make, fast, orm, args) -> None:
    """Median of each over alternating runs on rows `make()` builds untimed."""
    for _ in range(args.warmup):
        _timed(make, fast), _timed(make, orm)
    times: dict[str, list[float]] = {"fast": [], "orm": []}
    for _ in range(args.runs):
        times["fast"].append(_timed(make, fast))
        times["orm"].append(_timed(make, orm))
    f, o = (statistics.median(times[k]) * 1e3 for k in ("fast", "orm"))
    table.add(name, f"fast {f:.3f} ms, ORM {o:.3f} ms, gain x{o / f:.2f}")


def main() -> None:
    p = harness.parser("sql_paths", __doc__ or "")
    p.add_argument("--runs", type=int)
    p.add_argument("--warmup", type=int)
    p.add_argument("--entries", type=int, help="ledger size the tile reads run on")
    args = harness.parse(p, QUICK, FULL)
    harness.prepare(args)
    harness.describe("SQL fast paths against the ORM", args)

    from django.utils import timezone

    from anchoring import sequencer, store
    from anchoring.digest import digests
    from anchoring.leaf import Kind, Leaf
    from anchoring.models import Entry, Submission, Tile
    from documents import codes
    from documents.models import Court, Record
    from documents.registration import NewRecord, _row
    from plumbing import bulk
    from verification.models import Verification, VerificationStep

    for start in range(0, args.entries, 10_000):
        sequencer.submit_many(
            [
                Leaf(Kind.ANCHOR, 1_767_225_600_000 + i, *digests(i.to_bytes(8, "big")))
                for i in range(start, min(args.entries, start + 10_000))
            ]
        )
        while sequencer.integrate():
            pass
    court = Court.objects.create(code="BENCH1", name_zh="法院", name_en="Court")
    size = store.latest_checkpoint().tree_size
    table = Table(f"SQL fast paths (median of {args.runs} runs, ledger of {size} entries)")

    def records(n: int) -> list[Record]:
        out = []
        for i in range(n):
            new = NewRecord(
                court=court,
                category=Record.Category.LITIGATION_DOCUMENT,
                title="民事判决书",
                case_number="（2026）京0105民初12345号",
                parties=["张三", "李四"],
                **dict(zip(("sha256", "sm3"), digests(i.to_bytes(8, "big")), strict=True)),
                size=1000,
            )
            record, _ = _row(new, codes.new_code(), new.sha256, new.sm3, new.size)
            record.submission = i
            out.append(record)
        return out

    for n in (bulk.INSERT_MIN_ROWS, 10, 100):
        compare(
            table,
            f"bulk.insert: {n} records (group commit)",
            lambda n=n: records(n),
            lambda rows: bulk.insert(Record, rows),
            Record.objects.bulk_create,
            args,
        )
    sub = [Leaf(Kind.ANCHOR, 1, *digests(b"x")).encode()] * 1000
    compare(
        table,
        "bulk.insert: 1000 submissions (submit_many)",
        lambda: [Submission(data=d) for d in sub],
        lambda rows: bulk.insert(Submission, rows),
        Submission.objects.bulk_create,
        args,
    )

    now = timezone.now()
    first = size + 1000
    entry_rows = [
        (first + i, d, 1, digests(d)[0], digests(d)[1], None, None) for i, d in enumerate(sub)
    ]

    fields = ("index", "data", "kind", "sha256", "sm3", "subject", "submission", "integrated_at")

    def copy_entries(rows) -> None:
        bulk.copy(Entry, fields, ((*row, now) for row in rows))

    def orm_entries(rows) -> None:
        Entry.objects.bulk_create(
            Entry(
                index=i, data=d, kind=k, sha256=s, sm3=m, subject=j, submission=b, integrated_at=now
            )
            for i, d, k, s, m, j, b in rows
        )

    compare(
        table,
        "bulk.copy: 1000 entries (a sequencer batch)",
        lambda: entry_rows,
        copy_entries,
        orm_entries,
        args,
    )

    def pooled() -> list[int]:
        rows = [Submission(data=d) for d in sub]
        bulk.insert(Submission, rows)
        return [row.pk for row in rows]

    def orm_delete(ids: list[int]) -> None:
        for i in range(0, len(ids), 500):
            Submission.objects.filter(id__in=ids[i : i + 500]).delete()

    compare(
        table,
        "bulk.delete: 1000 submissions",
        pooled,
        lambda ids: bulk.delete(Submission, ids),
        orm_delete,
        args,
    )

    def verification() -> tuple[Verification, list[VerificationStep]]:
        v = Verification(
            source="digest",
            sha256="00" * 32,
            status="done",
            outcome="verified",
            started_at=now,
            finished_at=now,
            attempts=1,
        )
        steps = [
            VerificationStep(
                verification=v,
                position=i,
                name=f"step{i}",
                status="passed",
                explanation_zh="步骤",
                explanation_en="step",
                detail={"i": i},
            )
            for i in range(7)
        ]
        return v, steps

    def fast_verification(made) -> None:
        bulk.insert_with_children(*made, "verification")

    def orm_verification(made) -> None:
        v, steps = made
        v.save(force_insert=True)
        VerificationStep.objects.bulk_create(steps)

    compare(
        table,
        "bulk.insert_with_children: a verification, 7 steps",
        verification,
        fast_verification,
        orm_verification,
        args,
    )

    from django.db.models import Q

    from anchoring import merkle, tiles
    from anchoring.tiles import TILE_WIDTH

    refs: list = []
    proof_size = size - 7  # partial tiles at the right edge, as in most proofs
    tiles.with_tiles(
        proof_size,
        lambda st: merkle.inclusion_proof(proof_size // 2, proof_size, st),
        lambda wanted: refs.extend(wanted) or store._read_nodes(wanted),
    )

    def orm_nodes(refs) -> None:
        wanted = Q()
        for ref in refs:
            wanted |= Q(level=ref.level, index=ref.index)
        found = {
            (lv, ix)
            for lv, ix, _, _ in Tile.objects.filter(wanted).values_list(
                "level", "index", "hashes", "inner"
            )
        }
        for ref in refs:
            if (ref.level, ref.index) in found:
                continue
            first = ref.index * TILE_WIDTH
            span = {"index__gte": first, "index__lt": first + ref.width}
            if ref.level == 0:
                rows = Entry.objects.filter(**span).order_by("index").values_list("data")
                [merkle.leaf_hash(bytes(d)) for (d,) in rows]
            else:
                rows = Tile.objects.filter(level=ref.level - 1, **span).order_by("index")
                [bytes(r) for (r,) in rows.values_list("root")]

    compare(
        table,
        f"bulk.select_by_keys and select_range: the {len(refs)} tiles of a cold proof",
        lambda: refs,
        store._read_nodes,
        orm_nodes,
        args,
    )
    table.print()


if __name__ == "__main__":
    main()
