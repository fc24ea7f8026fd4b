"""Recording a court file: reserve a code, stamp if asked, hash, write the ledger entry.

The digest that is recorded is the digest of the file actually served, so stamping comes
before hashing. The record row and the ledger submission are committed together; the
caller then waits for the batch that integrates the entry. A record that keeps no file is
committed together with other requests' (group commit), which is what lets one record
per request scale.
"""

from __future__ import annotations

import dataclasses
import mimetypes
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from anchoring import sequencer
from anchoring.digest import digests, stream_digests
from anchoring.leaf import Leaf
from documents import codes, entries, ledger, stamping
from documents.group_commit import GroupCommit
from documents.idempotency import ClaimLost, fence
from documents.models import Court, IdempotentRequest, Record
from plumbing import bulk, cpu_bound, error_codes
from plumbing.errors import Refusal


class RegistrationError(Refusal):
    """A request that cannot become a record (or service event): a catalogue entry, and
    `field`, the part at fault. The API answers it in the shape of every API error."""


@dataclass
class NewRecord:
    """What a court sends: a file (or its digests) and the record's metadata."""

    court: Court
    category: str
    title: str
    case_number: str = ""
    parties: list[str] = field(default_factory=list)
    file: BinaryIO | None = None
    filename: str = ""
    media_type: str = ""
    sha256: bytes | None = None
    sm3: bytes | None = None
    size: int | None = None  # with the digests, when the file was hashed without being kept
    stamp: bool = False
    stamp_pages: str = "all"
    allow_download: bool = False
    claim: IdempotentRequest | None = None  # the keyed court request making it, if any


def verification_url(code: str) -> str:
    """The short URL printed in the QR code: <PUBLIC_BASE_URL>/v/<code>."""
    return f"{settings.PUBLIC_BASE_URL}/v/{codes.display(code)}"


def stamp_lines(code: str) -> str:
    """The two lines printed beside the QR code."""
    return f"扫码核验 Scan to verify: {code and codes.display(code)}\n{settings.STAMP_NOTICE}"


def stamp_font() -> Path:
    """The stamp's font, subset once from the configured CJK font (codes are ASCII)."""
    return stamping.subset_font(
        Path(settings.STAMP_FONT_FILE),
        settings.STAMP_FONT_FACE,
        stamp_lines(""),
        settings.FONT_CACHE_DIR,
    )


def _milliseconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _content(new: NewRecord, code: str) -> tuple[bytes, bytes, bytes, int]:
    """The bytes to keep (stamped, or the upload as it is), their digests and size."""
    assert new.file is not None  # register() keeps files; the others pass digests
    if new.stamp:
        pdf = new.file.read()
        if not pdf.startswith(b"%PDF-"):
            raise RegistrationError(error_codes.NOT_A_PDF, field="file")
        try:
            data = cpu_bound.run(
                stamping.stamp_pdf,
                pdf,
                url=verification_url(code),
                lines=stamp_lines(code),
                font=stamp_font(),
                pages=new.stamp_pages,
            )
        except stamping.StampError as exc:
            at_fault = isinstance(exc, stamping.PageSelectionError)
            field_name = "stamp_pages" if at_fault else "file"
            raise RegistrationError(
                error_codes.CANNOT_STAMP, field=field_name, reason=exc
            ) from None
        sha, sm = digests(data)
        return data, sha, sm, len(data)
    data = new.file.read()
    sha, sm = digests(data)
    return data, sha, sm, len(data)


def register(new: NewRecord) -> Record:
    """Create the record and pool its ledger entry, in one transaction.

    A record that keeps no file (digests sent, or an upload neither stamped nor kept for
    download) is written in one transaction with those of concurrent requests of this
    process. The code is not looked up first: 85 random bits practically never collide,
    and the unique constraint refuses the one that does, which is then retried with a new
    code (the content again too, since a stamped PDF carries its code).
    """
    if new.file is None or not (new.stamp or new.allow_download):
        return _register_without_file(new)
    while True:
        code = codes.new_code()
        try:
            return _register(new, code)
        except IntegrityError:
            if not Record.objects.filter(code=code).exists():
                raise
            new.file.seek(0)


def _register_without_file(new: NewRecord) -> Record:
    if new.file is not None:
        sha, sm, size = stream_digests(new.file)
        new = dataclasses.replace(new, file=None, sha256=sha, sm3=sm, size=size)
    if connection.in_atomic_block:  # the caller's transaction is not others' to join
        return register_many([new])[0]
    # Waiting for another request's write while holding a pooled connection could starve
    # that writer of one; the caller closes it right after anyway, to wait for the ledger.
    connection.close()
    return _group.run(new)


def _write_group(news: list[NewRecord]) -> Sequence[Record | Exception]:
    """The group commit's write: every record at once, or, if one row is refused (a
    value the database will not take, a key another request took over), each alone, so
    that only its request fails."""
    try:
        return register_many(news)
    except (DataError, IntegrityError, ClaimLost):
        if len(news) == 1:
            raise
    results: list[Record | Exception] = []
    for new in news:
        try:
            results.append(register_many([new])[0])
        except (DataError, IntegrityError, ClaimLost) as exc:
            results.append(exc)
    return results


_group = GroupCommit(
    _write_group,
    lambda: settings.COURT_GROUP_COMMIT_MAX,
    lambda: settings.COURT_GROUP_COMMIT_WRITERS,
)


def register_many(news: list[NewRecord]) -> list[Record]:
    """Create several records from their digests and pool their entries, in one transaction.

    For the court API's batch and register()'s group commit: all or nothing, one INSERT
    per table for the lot. Files (stamping, keeping them) are for register() only. A code
    collision, refused by the unique constraint, is retried with new codes for the whole
    batch, as register() does.
    """
    if any(new.file is not None for new in news):
        raise ValueError("register_many() records digests only")
    while True:
        made = [_row(new, codes.new_code(), new.sha256, new.sm3, new.size) for new in news]
        records = [record for record, _ in made]
        if len({r.code for r in records}) < len(records):
            continue
        try:
            with transaction.atomic():
                fence(new.claim for new in news)
                ids = sequencer.submit_many([entry for _, entry in made])
                for record, submission in zip(records, ids, strict=True):
                    record.submission = submission
                bulk.insert(Record, records)
            return records
        except IntegrityError:
            if not Record.objects.filter(code__in=[r.code for r in records]).exists():
                raise


def _register(new: NewRecord, code: str) -> Record:
    data, sha, sm, size = _content(new, code)
    record, leaf = _row(new, code, sha, sm, size)
    try:
        with transaction.atomic():
            fence([new.claim])
            record.submission = sequencer.submit(leaf)
            suffix = ".pdf" if new.stamp else Path(new.filename).suffix
            record.file.save(f"{code}{suffix}", ContentFile(data), save=False)
            record.save(force_insert=True)
    except IntegrityError:
        if record.file:
            record.file.delete(save=False)
        raise
    return record


def _row(
    new: NewRecord, code: str, sha: bytes | None, sm: bytes | None, size: int | None
) -> tuple[Record, Leaf]:
    """The record row (not saved) and its ledger leaf."""
    assert sha is not None and sm is not None  # the file was hashed, or its digests given
    media_type = new.media_type or mimetypes.guess_type(new.filename)[0] or ""
    if new.stamp:
        media_type = "application/pdf"
    now = _milliseconds(timezone.now())
    record = Record(
        code=code,
        court=new.court,
        category=new.category,
        title=new.title,
        case_number=new.case_number,
        parties=new.parties,
        sha256=sha.hex(),
        sm3=sm.hex(),
        size=size,
        media_type=media_type,
        filename=new.filename,
        stamped=new.stamp,
        allow_download=new.allow_download,
        metadata_salt=secrets.token_bytes(entries.SALT_SIZE),
        recorded_at=now,
        claim=new.claim,
    )
    leaf = ledger.record_leaf(record)
    record.submitted_leaf = leaf.encode()
    return record, leaf
