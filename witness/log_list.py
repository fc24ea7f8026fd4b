"""The witness network's log list (`logs/v0`): the logs a witness follows, read from a file.

Format (transparency-dev/witness-network, log-list-format.md): a `logs/v0` header, then
per log the lines `vkey VKEY`, `origin ORIGIN` (optional; `none` or absent: the vkey's
key name), `bastion HOST` (optional, accepted and ignored), `qpd N` (1 to 2**31 - 1,
add-checkpoint requests a day), `contact TEXT` (optional), in that order. Blank lines and
lines starting with `#` are ignored; every line is stripped first. Pure Python: no Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from anchoring.note import InvalidKeyError, parse_verifier_key

HEADER = "logs/v0"
MAX_QPD = 2**31 - 1
_QPD = re.compile(r"[1-9][0-9]*")
_KEYWORDS = ("vkey", "origin", "bastion", "qpd", "contact")


class LogListError(ValueError):
    """The list is malformed; the message names the line (1-based) at fault."""

    def __init__(self, line: int | None, reason: str) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"log list: {where}{reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class ListedLog:
    """One log of the list, its origin resolved (the vkey's key name when not given)."""

    vkey: str
    origin: str
    qpd: int
    contact: str
    line: int


@dataclass
class _Draft:
    """A log being read: the line of its vkey and what was read of it so far."""

    line: int
    vkey: str
    origin: str
    qpd: int | None = None
    contact: str = ""


def parse_log_list(text: str) -> list[ListedLog]:
    """Parse a `logs/v0` list, refusing anything out of order or malformed."""
    logs: list[ListedLog] = []
    seen: dict[str, int] = {}
    header = False
    draft: _Draft | None = None
    expect = {"vkey"}

    def finish(draft: _Draft) -> None:
        if draft.qpd is None:
            raise LogListError(draft.line, "the log has no qpd line")
        if draft.origin in seen:
            raise LogListError(
                draft.line, f"origin {draft.origin!r} is listed already (line {seen[draft.origin]})"
            )
        seen[draft.origin] = draft.line
        logs.append(ListedLog(draft.vkey, draft.origin, draft.qpd, draft.contact, draft.line))

    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not header:
            if line != HEADER:
                raise LogListError(number, f"expected the header {HEADER!r}, found {line!r}")
            header = True
            continue
        keyword, _, value = line.partition(" ")
        value = value.strip()
        if keyword not in _KEYWORDS:
            raise LogListError(number, f"unknown keyword {keyword!r}")
        if keyword not in expect:
            wanted = " or ".join(repr(k) for k in sorted(expect))
            raise LogListError(number, f"found {keyword!r} where {wanted} was expected")
        if not value:
            raise LogListError(number, f"{keyword!r} needs a value")
        if keyword == "vkey":
            if draft is not None:
                finish(draft)
            try:
                key = parse_verifier_key(value)
            except InvalidKeyError as exc:
                raise LogListError(number, f"invalid vkey: {exc}") from None
            draft = _Draft(number, value, key.name)
            expect = {"origin", "bastion", "qpd"}
            continue
        assert draft is not None  # every other keyword follows a vkey
        if keyword == "origin":
            if value != "none":
                draft.origin = value
            expect = {"bastion", "qpd"}
        elif keyword == "bastion":
            expect = {"qpd"}
        elif keyword == "qpd":
            if not _QPD.fullmatch(value) or int(value) > MAX_QPD:
                raise LogListError(number, f"qpd must be a whole number from 1 to {MAX_QPD}")
            draft.qpd = int(value)
            expect = {"contact", "vkey"}
        else:
            draft.contact = value
            expect = {"vkey"}
    if not header:
        raise LogListError(None, f"the {HEADER!r} header is missing")
    if draft is not None:
        finish(draft)
    return logs
