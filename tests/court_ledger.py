"""A small ledger with a court, a stamped served judgment, evidence and a plain anchor."""

import functools
import hashlib
from dataclasses import dataclass

import pytest

from anchoring import sequencer
from anchoring.digest import digests
from anchoring.leaf import Kind, Leaf
from demo.builders import judgment_pdf, record_file, serve
from documents.models import Court, Record
from verification.models import Verification
from verification.tasks import verify


@dataclass
class Ledger:
    court: Court
    judgment: Record
    judgment_pdf: bytes
    evidence: Record
    evidence_bytes: bytes
    anchored: bytes


@functools.cache
def _judgment_pdf() -> bytes:
    """The judgment PDF, rendered once per test session (WeasyPrint takes seconds)."""
    court = Court(name_zh="北京市朝阳区人民法院")
    return judgment_pdf(court, "（2026）京0105民初12345号", "民事判决书", ["原告张三诉被告李四。"])


@pytest.fixture
def ledger(running_sequencer, settings, tmp_path) -> Ledger:
    settings.MEDIA_ROOT = tmp_path / "media"
    court = Court.objects.create(
        code="BJ0105", name_zh="北京市朝阳区人民法院", name_en="Chaoyang Court"
    )
    judgment = record_file(
        court,
        Record.Category.LITIGATION_DOCUMENT,
        "民事判决书",
        _judgment_pdf(),
        "judgment.pdf",
        case_number="（2026）京0105民初12345号",
        parties=["张三", "李四"],
        stamp=True,
        allow_download=True,
    )
    serve(judgment, "李四")
    evidence_bytes = "聊天记录 chat log".encode() * 50
    evidence = record_file(court, Record.Category.EVIDENCE, "聊天记录", evidence_bytes, "chat.txt")
    anchored = b"annual statistics report 2026"
    sha, sm = digests(anchored)
    sequencer.submit_and_wait(Leaf(Kind.ANCHOR, 1_767_225_600_000, sha, sm))
    judgment.refresh_from_db()
    return Ledger(court, judgment, judgment.file.read(), evidence, evidence_bytes, anchored)


def check(**fields) -> Verification:
    """Create a verification and run its job in this process (the worker tests run it for real)."""
    fields.setdefault("source", Verification.Source.DIGEST)
    v = Verification.objects.create(**fields)
    verify(v.pk)
    v.refresh_from_db()
    return v


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
