"""Each kind of verification page in one language at a time: in English no Chinese is left
of the catalogue, in Chinese no English; what remains in the other language is data (a
record's title, a case number, names) or code (digests, commands)."""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile

from documents import codes, qr
from tests.court_ledger import check, sha
from verification import certificate
from verification.models import Verification

pytestmark = pytest.mark.django_db(transaction=True)

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+")
# Two English words in a row: a sentence or a heading, not a code or an abbreviation.
ENGLISH = re.compile(r"\b[A-Za-z]{2,}[,;:.]?\s+[A-Za-z]{2,}\b")
# Elements whose text is code, not prose; and elements that are not shown.
CODE = {"code", "pre", "script", "style"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
SHOWN_ATTRIBUTES = ("alt", "aria-label", "placeholder", "title")


class _Visible(HTMLParser):
    """The text a reader sees or hears (with alt texts and labels), leaving out code and
    what is marked with a language of its own (the language switch's "English", "中文")."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []  # per open element: whether its text is left out
        self.parts: list[str] = []

    def _skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        skip = self._skipping() or tag in CODE or (tag != "html" and "lang" in attrs)
        if not skip:
            self.parts += [attrs[a] for a in SHOWN_ATTRIBUTES if attrs.get(a)]
        if tag not in VOID:
            self.stack.append(skip)

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self._skipping():
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Visible()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def _left_over(text: str, language: str, data: list[str]) -> list[str]:
    """Words of the other language in the text, once its data are taken out."""
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    if language == "en":
        return CJK.findall(text)
    return [m.group(0) for m in ENGLISH.finditer(text)]


def test_every_verification_page_is_in_one_language(client, ledger, monkeypatch):
    judgment, evidence = ledger.judgment, ledger.evidence
    code = codes.display(judgment.code)
    verified = check(sha256=sha(ledger.judgment_pdf), filename="judgment.pdf")
    number = codes.display(verified.certificate_number)
    pending = Verification.objects.create(source="digest", sha256=sha(b"still running"))
    unknown = check(sha256=sha(b"no court recorded this"), filename="unknown.bin")
    changed = check(code=judgment.code, source="code", sha256=sha(b"another file"))
    judge = User.objects.create_user("judge", password="pw-for-tests")
    judge.groups.add(Group.objects.get(name="judges"))
    evil = SimpleUploadedFile("qr.png", qr.png(f"https://evil.example/v/{code}", "M", 6))

    def busy(v, backend=None):
        raise certificate.Busy

    # The data of these pages: what the court recorded, in the language it recorded it.
    data = [
        judgment.title,
        evidence.title,
        judgment.case_number,
        "（2026）京0105民初***45号",
        *judgment.parties,
        "张*",
        "李*",
        "judgment.pdf",
        "unknown.bin",
    ]
    pages = {
        "home": lambda c: c.get("/"),
        "record": lambda c: c.get(f"/v/{code}"),
        "record without pages": lambda c: c.get(f"/v/{codes.display(evidence.code)}"),
        "record missing": lambda c: c.get("/v/7K3M9Q-XD4RTW-2HVBPZ"),
        "pending": lambda c: c.get(f"/verifications/{pending.id}"),
        "verified": lambda c: c.get(f"/verifications/{verified.id}"),
        "not found": lambda c: c.get(f"/verifications/{unknown.id}"),
        "not identical": lambda c: c.get(f"/verifications/{changed.id}"),
        "certificate": lambda c: c.get(f"/c/{number}"),
        "certificate missing": lambda c: c.get("/c/7K3M9Q-XD4RTW-2HVBPZ"),
        "foreign QR code": lambda c: (evil.seek(0), c.post("/verify/photo", {"photo": evil}))[1],
        "certificate busy": lambda c: c.get(f"/c/{number}/certificate.pdf"),
        "judge's record": lambda c: c.get(f"/v/{code}"),
        "original refused": lambda c: c.get(f"/v/{code}/file"),
    }
    found = {}
    for language, header in [("zh", "zh-CN,zh"), ("en", "en-GB,en")]:
        for name, get in pages.items():
            if name == "certificate busy":
                monkeypatch.setattr(certificate, "issue", busy)
            if name == "judge's record":
                client.force_login(judge)
            if name == "original refused":
                _damage(judgment)
            client.defaults["HTTP_ACCEPT_LANGUAGE"] = header
            response = get(client)
            assert response.status_code in (200, 404, 409, 503), (name, response.status_code)
            assert response.status_code == 503 or name != "certificate busy"
            page = response.content.decode()
            assert f'<html lang="{"en" if language == "en" else "zh-Hans"}"' in page, name
            left = _left_over(visible_text(page), language, data)
            if left:
                found[f"{name} ({language})"] = left
        monkeypatch.undo()
        client.logout()
        _restore(judgment, ledger.judgment_pdf)
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())


def _damage(record) -> None:
    """A byte of the portal's copy changed: the original is refused (409)."""
    with open(record.file.path, "r+b") as f:
        f.seek(-10, 2)
        byte = f.read(1)
        f.seek(-10, 2)
        f.write(bytes([byte[0] ^ 1]))


def _restore(record, content: bytes) -> None:
    with open(record.file.path, "wb") as f:
        f.write(content)
