"""Every column that feeds a verification, a page or a certificate, changed as a superuser.

The cases are generated from the models: each concrete field of each table below is
either changed (by a rule chosen from its type) or listed in NOT_SHOWN with the reason it
feeds nothing the portal presents as verified, so that a new column fails this test until
someone decides which it is. For every change, on one real ledger, restored after each:
- the API never answers "verified" with anything but the untouched answer's record;
- the record page never says the ledger agrees while it shows a changed value;
- the operator is alerted (an open alarm, from verification, a download or ledger_fsck);
- ledger_fsck exits 1 and names the table.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, models
from django.test import Client

from anchoring.backend import get_backend
from anchoring.models import Alarm, Checkpoint, Entry, PublishedCheckpoint, Submission, Tile
from documents import codes
from documents.models import Addressee, Court, Record, ServiceEvent
from tests.anchoring.ledger import grow_ledger
from tests.court_ledger import sha
from tests.tampering.conftest import superuser_sql
from verification import bundle as bundles
from verification import certificate, offline
from verification.models import TrustedCheckpoint, Verification

pytestmark = pytest.mark.django_db(transaction=True)

# Columns that feed nothing shown as verified, and why. Everything else is changed.
NOT_SHOWN = {
    (Entry, "integrated_at"): "when the row was written; not part of the leaf, never shown",
    (Entry, "submission"): "links a pool row to its entry for the waiting submitter only",
    (Submission, "*"): "pool rows: tests/tampering/test_reproductions.py 1 and 2",
    (Record, "submission"): "links the row to its pool row; the entry is found by code",
    (Record, "stamped"): "whether the portal stamped the PDF; the digest covers the result",
    (Record, "allow_download"): "the court's permission; what is served is checked",
    (Record, "code"): "the row's key: a changed code is another record, not this one",
    (Record, "id"): "a surrogate key",
    (Record, "claim"): "links the row to the court request that made it, for its retries",
    (ServiceEvent, "claim"): "as on Record",
    (ServiceEvent, "id"): "a surrogate key",
    (ServiceEvent, "submission"): "links the row to its pool row",
    (Addressee, "id"): "a surrogate key",
    (Addressee, "record"): "in no leaf: an event names its addressee, and that is checked",
    (Addressee, "link_digest"): "the personal link's credential, not a fact shown",
    (Addressee, "created_at"): "when the row was written, never shown",
    (TrustedCheckpoint, "seen_at"): "when the portal first saw it, never shown",
    (Checkpoint, "created_at"): "when it was signed by the clock of the log's own server: "
    "only /health's age of the ledger; the times shown come from leaves",
    (PublishedCheckpoint, "published_at"): "when it was published, by the log server's own "
    "clock: only /health's age of the ledger",
    (PublishedCheckpoint, "quorum_met"): "the publisher's label for operators (/health); "
    "verification counts the cosignatures in the note against its own trust policy",
    (Tile, "id"): "a surrogate key",
    (Tile, "inner"): "inner hashes are recomputed from `hashes` when absent: see the test",
    (Court, "id"): "a surrogate key",
    (Court, "name_zh"): "the court directory's name for the code every leaf carries; shown "
    "beside the proven code, not proven itself (docs/api.md)",
    (Court, "name_en"): "as name_zh",
    (Court, "phone"): "the court's contact details: a directory entry shown beside results "
    "to say whom to ask, never a fact the ledger proves",
    (Court, "address_zh"): "as phone",
    (Court, "address_en"): "as phone",
    (Court, "website"): "as phone",
    (Court, "created_at"): "when the row was written, never shown",
}

# Where each table's target row is in the ledger fixture.
TARGETS: dict[type[models.Model], Callable] = {
    Entry: lambda w: Entry.objects.filter(index=w.judgment.ledger_index),
    Tile: lambda w: Tile.objects.filter(level=0, index=0),
    Checkpoint: lambda w: Checkpoint.objects.order_by("-tree_size")[:1],
    PublishedCheckpoint: lambda w: PublishedCheckpoint.objects.order_by("-tree_size")[:1],
    Record: lambda w: Record.objects.filter(pk=w.judgment.pk),
    ServiceEvent: lambda w: ServiceEvent.objects.filter(record=w.judgment, event="sent"),
    Addressee: lambda w: Addressee.objects.filter(record=w.judgment).order_by("pk"),
    TrustedCheckpoint: lambda w: TrustedCheckpoint.objects.order_by("-tree_size")[:1],
    Court: lambda w: Court.objects.filter(pk=w.court.pk),
}


@dataclass(frozen=True)
class Change:
    model: type[models.Model]
    field: models.Field

    @property
    def name(self) -> str:
        return f"{self.model._meta.db_table}.{self.field.column}"


def _changes() -> list[Change]:
    found = []
    for model in (*TARGETS, Submission):
        for field in model._meta.concrete_fields:
            if (model, field.name) in NOT_SHOWN or (model, "*") in NOT_SHOWN:
                continue
            found.append(Change(model, field))
    return found


def _changed_value(change: Change, value):
    """Another value of the same type, as a forger would write."""
    field = change.field
    if field.choices:
        return next(c for c, _ in field.choices if c != value)
    if isinstance(field, models.ForeignKey):
        other = field.related_model.objects.exclude(pk=value).order_by("pk").first()
        if other is None and field.related_model is Court:
            other = Court.objects.create(code="FORGED", name_zh="伪造法院", name_en="Forged")
        return other.pk
    if isinstance(field, models.BinaryField):
        raw = bytearray(value)
        raw[min(len(raw) - 1, 12)] ^= 1
        return bytes(raw)
    if isinstance(field, models.DateTimeField):
        return value + timedelta(days=3)
    if isinstance(field, models.JSONField):
        return [*value, "伪造"] if isinstance(value, list) else {**value, "forged": "伪造"}
    if isinstance(field, models.BooleanField):
        return not value
    if isinstance(field, models.PositiveSmallIntegerField):  # a kind or a tile level
        return (value or 0) + 1
    if isinstance(field, models.IntegerField):  # indexes, sizes: far from any other row's
        return (value or 0) + 1_000_003
    if isinstance(field, models.FileField):
        return "records/forged.pdf"
    if isinstance(field, models.CharField | models.TextField):
        if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            return ("0" if value[0] != "0" else "1") + value[1:]
        if field.name == "note":
            return value.replace("\n", "\nforged ", 1)
        return value + "伪"
    raise AssertionError(f"no rule changes {change.name}: add one or list it in NOT_SHOWN")


def _sql_value(field: models.Field, value):
    if isinstance(field, models.JSONField):
        return json.dumps(value, ensure_ascii=False)
    return value


def _fsck() -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        try:
            call_command("ledger_fsck", stdout=out, stderr=out)
            code = 0
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue()


def _judicial_verify(verification_id: str, policy: Path) -> tuple[int, list[str]]:
    """Run judicial-verify on the bundle of a verification: its exit code and its "ok"
    lines (what it recomputed)."""
    v = Verification.objects.get(pk=verification_id)
    bundle = certificate.build_bundle(v, list(v.steps.all()), codes.new_code(), get_backend())
    path = policy.parent / "bundle.json"
    path.write_bytes(bundles.dumps(bundle))
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        code = offline.main(["bundle", str(path), "--policy", str(policy)])
    lines = out.getvalue().splitlines()
    # What it proved of the file and the record (the consistency proof depends on which
    # checkpoint the portal trusted before, which a change may move).
    return code, [ln for ln in lines if ln.startswith("ok  ") and "consistency" not in ln]


def _verify(client: Client, **payload) -> dict:
    response = client.post("/api/v1/verifications", payload, content_type="application/json")
    assert response.status_code in (200, 201, 202), response.content
    return response.json()


def _page(client: Client, code: str) -> str:
    """The record page, less its per-request CSRF token."""
    page = client.get(f"/v/{codes.display(code)}").content.decode()
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)


def _record_shown(answer: dict) -> dict | None:
    record = answer.get("record")
    return (
        {k: v for k, v in record.items() if k != "timeline"}
        | {
            "timeline": [
                {k: v for k, v in step.items() if k not in ("label", "channel_label")}
                for step in record["timeline"]
            ]
        }
        if record
        else None
    )


def _check(change: Change, world, baseline: dict, client: Client) -> list[str]:
    """Apply one change, ask everything, restore; the failures, in words."""
    table, column = change.model._meta.db_table, change.field.column
    rows = list(TARGETS[change.model](world).values_list("pk", change.field.attname))
    if not rows:
        return [f"{change.name}: the fixture has no row to change"]
    pk, original = rows[0]
    changed = _changed_value(change, original)
    pk_column = change.model._meta.pk.column
    superuser_sql(
        f'UPDATE {table} SET "{column}" = %s WHERE "{pk_column}" = %s',
        [_sql_value(change.field, changed), pk],
    )
    if change.field.primary_key:
        pk = changed
    Alarm.objects.all().delete()
    failures = []
    try:
        by_file = _verify(client, sha256=sha(world.judgment_pdf))
        by_code = _verify(
            client, code=codes.display(world.judgment.code), sha256=sha(world.judgment_pdf)
        )
        for how, answer in (("by file", by_file), ("by code", by_code)):
            if answer["outcome"] == "verified" and _record_shown(answer) != baseline[how]:
                failures.append(f"{change.name}: verified {how} showing changed values")
        result = client.get(f"/verifications/{by_file['id']}").content.decode()
        genuine = by_file["outcome"] == "verified" and (
            _record_shown(by_file) == baseline["by file"]
        )
        if 'data-outcome="verified"' in result and not genuine:
            failures.append(f"{change.name}: the result page says verified")
        page = _page(client, world.judgment.code)
        if 'data-ledger="agrees"' in page and page != baseline["page"]:
            failures.append(f"{change.name}: the record page says the ledger agrees")
        download = client.get(f"/v/{codes.display(world.judgment.code)}/file")
        if download.status_code == 200 and (
            b"".join(download.streaming_content) != world.judgment_pdf
        ):
            failures.append(f"{change.name}: another file is served as the original")
        verdict, proven = _judicial_verify(by_file["id"], world.policy)
        if verdict == 0 and proven != baseline["bundle"]:
            failures.append(f"{change.name}: judicial-verify says VERIFIED with other values")
        code, report = _fsck()
        if code != 1:
            failures.append(f"{change.name}: ledger_fsck exited {code}, not 1")
        elif table.split("_", 1)[1] not in report.lower() and table not in report.lower():
            failures.append(f"{change.name}: ledger_fsck does not name {table}: {report[:300]}")
        if not Alarm.objects.filter(resolved_at__isnull=True).exists():
            failures.append(f"{change.name}: no alarm")
    finally:
        if change.field.primary_key:  # a row the portal made meanwhile at the old key
            superuser_sql(f'DELETE FROM {table} WHERE "{pk_column}" = %s', [original])
        superuser_sql(
            f'UPDATE {table} SET "{column}" = %s WHERE "{pk_column}" = %s',
            [_sql_value(change.field, original), pk],
        )
    return failures


def test_every_column_is_either_changed_or_explained():
    for change in _changes():
        if not isinstance(change.field, models.ForeignKey):  # changed to another row
            _changed_value(change, _sample(change.field))


def _sample(field: models.Field):
    if isinstance(field, models.BinaryField):
        return b"\0" * 32
    if isinstance(field, models.DateTimeField):
        from django.utils import timezone

        return timezone.now()
    if isinstance(field, models.JSONField):
        return []
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.IntegerField):
        return 1
    if isinstance(field, models.FileField):
        return "records/x.pdf"
    return "a" * 64 if field.choices is None else field.choices[0][0]


def test_no_changed_column_is_ever_verified(ledger, tmp_path):
    grow_ledger(300)  # the judgment's tile is full and stored
    # A second addressee, for the event whose addressee is changed.
    Addressee.objects.create(
        record=ledger.judgment, name="王五", salt=b"\1" * 16, link_digest="f" * 64
    )
    client = Client()
    policy_text = io.StringIO()
    call_command("trust_policy", stdout=policy_text)
    ledger.policy = tmp_path / "policy.txt"
    ledger.policy.write_text(policy_text.getvalue())
    baseline = {
        "by file": _record_shown(_verify(client, sha256=sha(ledger.judgment_pdf))),
        "by code": _record_shown(
            _verify(
                client, code=codes.display(ledger.judgment.code), sha256=sha(ledger.judgment_pdf)
            )
        ),
        "page": _page(client, ledger.judgment.code),
    }
    assert baseline["by file"]["ledger_agrees"] is True
    first = Verification.objects.order_by("created_at").first()
    verdict, baseline["bundle"] = _judicial_verify(first.pk, ledger.policy)
    assert verdict == 0 and baseline["bundle"]
    clean, report = _fsck()
    assert clean == 0, report
    Alarm.objects.all().delete()
    failures = []
    changes = [c for c in _changes() if c.model in TARGETS]
    assert len(changes) > 30
    for change in changes:
        failures += _check(change, ledger, baseline, client)
        connection.close()
    assert not failures, "\n".join(failures)
