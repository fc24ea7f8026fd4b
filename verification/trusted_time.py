"""The trusted-time step: "this record was on the ledger no later than T", T from an RFC 3161
token over a checkpoint that covers the entry and is proven to be in the same history.

The covering checkpoint (size S > the entry's index) need not be the one a verification
uses (size N >= S): its root is proven by the consistency proof from S to N against the
verified root of N, the entry's inclusion at S against that root, and only then is each
token checked over S's body against the pinned TSA CAs (anchoring.timestamp_token.check).
The earliest genTime of the tokens that verify is the answer.

No token yet, or none whose CA is pinned: INCONCLUSIVE, and the time is the court's own
clock (the outcome is unchanged: trusted time is an addition to the proof, not part of
it). A token that chains to a pinned CA and fails its check, or proofs that do not hold:
FAILED, never shown as trusted time.

Plain Python (no Django): the verification job and `judicial-verify` both use it.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import datetime

from anchoring import merkle
from anchoring import timestamp_token as tokens
from anchoring.checkpoint import Checkpoint, CheckpointError, parse_checkpoint
from anchoring.note import NoteError, parse_note
from verification.steps import FAILED, INCONCLUSIVE, PASSED, Step

NAME = "timestamp"
DEV_MARK = "DEVELOPMENT"


@dataclass(frozen=True)
class Covering:
    """What a ledger gives for trusted time: the covering checkpoint's note (size S), the
    entry's inclusion proof at S, the consistency proof from S to the checkpoint used, and
    the tokens of S as (DER token, DER CA certificate) pairs."""

    note: str
    inclusion: Sequence[bytes]
    consistency: Sequence[bytes]
    tokens: Sequence[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Found:
    """The trusted time proven: the earliest verified token's genTime and authority."""

    size: int
    gen_time: datetime
    tsa: str

    @property
    def development(self) -> bool:
        return DEV_MARK in self.tsa


class TimeFailed(Exception):
    """Trusted-time evidence that is present and wrong; the message says what."""


def shown(moment: datetime) -> str:
    """A genTime as the step and the certificate show it (UTC, to the second)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def covering_checkpoint(note: str, index: int, data: bytes, cp: Checkpoint, c: Covering):
    """The covering checkpoint, its root proven against `cp` and the entry included in it;
    TimeFailed otherwise."""
    try:
        covering = parse_checkpoint(parse_note(note).text)
    except (NoteError, CheckpointError) as exc:
        raise TimeFailed(f"the covering checkpoint is malformed ({exc})") from None
    if covering.origin != cp.origin or not index < covering.size <= cp.size:
        raise TimeFailed(
            f"the covering checkpoint (size {covering.size}) does not lie between entry "
            f"{index} and the checkpoint used (size {cp.size})"
        )
    try:
        merkle.verify_consistency(
            covering.size, cp.size, covering.root_hash, cp.root_hash, list(c.consistency)
        )
        merkle.verify_inclusion(
            merkle.leaf_hash(data), index, covering.size, list(c.inclusion), covering.root_hash
        )
    except (merkle.ProofError, ValueError) as exc:
        raise TimeFailed(f"the covering checkpoint is not proven in this history ({exc})") from None
    return covering


def prove(
    index: int, data: bytes, cp: Checkpoint, covering: Covering, pinned: Set[str]
) -> Found | None:
    """The trusted time `covering` proves for entry `index` under the checkpoint used;
    None when no token can be checked (none chains to a pinned CA); TimeFailed when the
    evidence is wrong."""
    checkpoint = covering_checkpoint(covering.note, index, data, cp, covering)
    body = checkpoint.body().encode()
    verified: list[tokens.Stamp] = []
    for token, ca in covering.tokens:
        try:
            verified.append(tokens.check(token, body, pinned, [ca]))
        except tokens.UnpinnedError:
            continue
        except tokens.TokenError as exc:
            raise TimeFailed(f"a timestamp token does not verify: {exc}") from None
    if not verified:
        return None
    first = min(verified, key=lambda s: s.gen_time)
    return Found(checkpoint.size, first.gen_time, first.tsa)


def step(
    index: int,
    data: bytes,
    cp: Checkpoint,
    covering: Covering | None,
    pinned: Set[str],
    court_time: str,
) -> Step:
    """The `timestamp` step; `court_time` is the entry's own time (the court's clock)."""
    pending_zh = f"账本条目所记时间 {court_time} 仅来自法院自己的时钟"
    pending_en = f"the entry's time, {court_time}, is the court's own clock"
    if covering is None:
        return Step(
            NAME,
            INCONCLUSIVE,
            f"可信时间待定：{pending_zh}；覆盖本记录的检查点尚未取得可信时间戳，稍后核验即可取得。",
            f"Trusted time pending: {pending_en}; no checkpoint covering this record has an "
            "RFC 3161 timestamp yet. Verify again later to get one.",
            {"court_time": court_time},
        )
    try:
        found = prove(index, data, cp, covering, pinned)
    except TimeFailed as exc:
        return Step(
            NAME,
            FAILED,
            f"可信时间未通过核验：账本提供的时间戳证据不成立，不能作为可信时间。{pending_zh}。",
            f"Trusted time failed: the ledger's timestamp evidence does not hold ({exc}); it "
            f"is not trusted time. {pending_en[0].upper()}{pending_en[1:]}.",
            {"court_time": court_time},
        )
    if found is None:
        return Step(
            NAME,
            INCONCLUSIVE,
            f"可信时间未能核验：时间戳机构的根证书不在本方信任策略之内（tsa-ca）。{pending_zh}。",
            "Trusted time not checked: no timestamp authority of this checkpoint chains to a "
            f"CA pinned by the trust policy (tsa-ca). {pending_en[0].upper()}{pending_en[1:]}.",
            {"court_time": court_time, "size": covering_size(covering)},
        )
    when = shown(found.gen_time)
    dev_zh = "（开发用时间戳服务，并非可信时间）" if found.development else ""
    dev_en = " (a DEVELOPMENT timestamp authority: not trusted time)" if found.development else ""
    return Step(
        NAME,
        PASSED,
        f"本记录最迟于 {when} 已在账本上（可信时间来自 {found.tsa}{dev_zh}；"
        f"时间戳覆盖第 {found.size} 个检查点，与本次使用的检查点属同一历史）。",
        f"This record was on the ledger no later than {when} (trusted time from "
        f"{found.tsa}{dev_en}; the timestamp covers checkpoint {found.size}, proven to be "
        "in the same history as the checkpoint used).",
        {
            "gen_time": found.gen_time.isoformat().replace("+00:00", "Z"),
            "tsa": found.tsa,
            "size": found.size,
            "development": found.development,
            "court_time": court_time,
        },
    )


def covering_size(covering: Covering) -> int | None:
    try:
        return parse_checkpoint(parse_note(covering.note).text).size
    except (NoteError, CheckpointError):
        return None
