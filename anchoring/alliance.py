"""Who vouches for this ledger: the log, each witness of its policy with what it last
cosigned and how it is doing, the quorum, and the timestamp authorities that give its
checkpoints trusted time, for the alliance page and /health.

The states come from the publisher's WitnessState rows, the cosigned size and time from
the newest published checkpoint's own cosignature lines where it carries them (a row is
the portal's memory; the note is what a verifier checks).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from anchoring import keys, store
from anchoring.cosignature import CosignatureVerifier
from anchoring.models import TimestampAuthority, WitnessState
from anchoring.note import NoteError, open_note
from anchoring.policy import Policy


@dataclass(frozen=True)
class Member:
    """One witness as the alliance page shows it."""

    name: str
    organisation_zh: str
    organisation_en: str
    vkey: str
    url: str | None
    cosigned_size: int | None
    cosigned_at: datetime.datetime | None
    lag_entries: int | None  # published size minus what it last cosigned
    state: str  # "ok", "failing", "unknown" (never asked yet)
    failing_since: datetime.datetime | None
    error: str
    on_published: bool  # its cosignature is on the newest published checkpoint


@dataclass(frozen=True)
class Authority:
    """One timestamp authority of LEDGER_TSA_URLS as the alliance page shows it."""

    url: str
    name: str  # from its certificate; empty before its first token
    development: bool  # the embedded default's DEVELOPMENT TSA: not trusted time
    timestamped_size: int | None
    timestamped_at: datetime.datetime | None  # the genTime of its last token
    state: str  # "ok", "failing", "unknown" (never asked yet)
    failing_since: datetime.datetime | None
    error: str


def authorities() -> list[Authority]:
    """The TSAs that timestamp this log's checkpoints, each with its last size and state."""
    urls = settings.LEDGER_TSA_URLS
    states = {s.url: s for s in TimestampAuthority.objects.filter(url__in=urls)}
    found = []
    for url in urls:
        state = states.get(url)
        known = state is not None and state.checked_at is not None
        development = settings.DEMO_TSA and url == settings.DEMO_TSA_URL
        found.append(
            Authority(
                url=url,
                name=state.name if state else "",
                development=development or "DEVELOPMENT" in (state.name if state else ""),
                timestamped_size=state.timestamped_size if state and state.timestamped_at else None,
                timestamped_at=timezone.localtime(state.timestamped_at)
                if state and state.timestamped_at
                else None,
                state=("ok" if state.ok else "failing") if known and state else "unknown",
                failing_since=state.failing_since if state else None,
                error=state.last_error if state else "",
            )
        )
    return found


@dataclass(frozen=True)
class Chain:
    """The EVM chain of LEDGER_CHAIN_RPC_URL as the alliance page shows it."""

    configured: bool  # False: chain anchors are off
    chain_id: int
    development: bool  # the embedded default's local test chain
    anchored_size: int | None
    anchored_block: int | None
    anchored_at: datetime.datetime | None  # the newest confirmed anchor's block time
    state: str  # "ok", "failing", "unknown" (never reached yet)
    failing_since: datetime.datetime | None
    error: str


def chain() -> Chain:
    """The chain this log's checkpoints are anchored on, its last anchored size and state."""
    from anchoring.models import ChainState

    url = settings.LEDGER_CHAIN_RPC_URL
    state = ChainState.objects.filter(url=url).first() if url else None
    known = state is not None and state.checked_at is not None
    confirmed = state is not None and state.anchored_at is not None
    return Chain(
        configured=bool(url),
        chain_id=settings.LEDGER_CHAIN_ID,
        development=settings.DEMO_CHAIN,
        anchored_size=state.anchored_size if state and confirmed else None,
        anchored_block=state.anchored_block if state and confirmed else None,
        anchored_at=timezone.localtime(state.anchored_at) if state and state.anchored_at else None,
        state=("ok" if state.ok else "failing") if known and state else "unknown",
        failing_since=state.failing_since if state else None,
        error=state.last_error if state else "",
    )


@dataclass(frozen=True)
class Overview:
    """The log and its alliance."""

    origin: str
    log_vkey: str | None
    published_size: int | None
    published_at: datetime.datetime | None
    quorum_met: bool | None  # of the newest published checkpoint; None before one
    signed_size: int | None
    quorum_zh: str
    quorum_en: str
    members: list[Member]
    configured: bool
    timestamp_authorities: list[Authority] = field(default_factory=list)
    chain: Chain | None = None


def overview() -> Overview:
    """The alliance of this deployment's log (LEDGER_WITNESS_POLICY) as it stands now."""
    policy = keys.witness_policy() or Policy()
    published, signed = store.latest_checkpoint(), store.latest_signed()
    states = {s.name: s for s in WitnessState.objects.filter(name__in=policy.witness_list)}
    members = [
        _member(
            name,
            policy,
            states.get(name),
            published.note if published else None,
            published.tree_size if published else None,
        )
        for name in policy.witness_list
    ]
    zh, en = policy.describe_quorum()
    return Overview(
        origin=settings.LEDGER_ORIGIN,
        log_vkey=keys.vkey() if keys.has_signing_key() else settings.LEDGER_VERIFIER_KEY or None,
        published_size=published.tree_size if published else None,
        published_at=published.published_at if published else None,
        quorum_met=published.quorum_met if published else None,
        signed_size=signed.tree_size if signed else None,
        quorum_zh=zh,
        quorum_en=en,
        members=members,
        configured=bool(policy.witness_list),
        timestamp_authorities=authorities(),
        chain=chain(),
    )


def _member(
    name: str, policy: Policy, state: WitnessState | None, note: str | None, size: int | None
) -> Member:
    witness = policy.witness_list[name]
    on_published, cosigned_at = False, state.cosigned_at if state else None
    cosigned_size = state.cosigned_size if state and state.cosigned_at else None
    if note is not None and isinstance(witness.verifier, CosignatureVerifier):
        verifier = CosignatureVerifier(witness.verifier.name, witness.verifier.public_key)
        try:
            open_note(note, [verifier])
        except NoteError:
            pass
        else:
            on_published, cosigned_size = True, max(cosigned_size or 0, size or 0)
            if verifier.last_timestamp is not None:
                cosigned_at = max(
                    cosigned_at or datetime.datetime.min.replace(tzinfo=datetime.UTC),
                    datetime.datetime.fromtimestamp(verifier.last_timestamp, datetime.UTC),
                )
    if state is None or state.checked_at is None:
        condition = "unknown"
    else:
        condition = "ok" if state.ok else "failing"
    return Member(
        name=name,
        organisation_zh=state.organisation_zh if state else "",
        organisation_en=state.organisation_en if state else "",
        vkey=witness.vkey,
        url=witness.url,
        cosigned_size=cosigned_size,
        cosigned_at=timezone.localtime(cosigned_at) if cosigned_at else None,
        lag_entries=(size - cosigned_size)
        if size is not None and cosigned_size is not None
        else None,
        state=condition,
        failing_since=state.failing_since if state else None,
        error=state.last_error if state else "",
        on_published=on_published,
    )
