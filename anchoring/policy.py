"""The trust policy: which log and witness keys a checkpoint needs, in C2SP tlog-policy form.

One format for the log's own witnesses (LEDGER_WITNESS_POLICY), for what verification pins
(LEDGER_TRUST_POLICY) and for the offline verifier (`judicial-verify --policy`). One
statement per line; `#` starts a comment; words are separated by spaces and tabs:

    log <vkey> [<url>]                    a log key; checkpoints must carry its signature
    witness <name> <vkey> [<url>]         a witness: tlog-cosignature/v1 key (type 0x04);
                                          url = its tlog-witness submission prefix
    group <name> <k|all|any> <member>...  k of the members (witnesses or groups)
    quorum <name|none>                    the witness or group that must be satisfied
    portal-ca <sha256 hex>                a CA whose certificates may sign certificate PDFs
    tsa-ca <sha256 hex>                   a CA whose RFC 3161 timestamps are trusted

The last two are this project's own additions for the offline verifier. Plain Python, no
Django: the publisher, verification and `judicial-verify` all call Policy.quorum_check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from anchoring.cosignature import CosignatureVerifier, parse_witness_key
from anchoring.note import NoteError, Verifier, open_note, parse_verifier_key, verifier_key

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
# tlog-policy allows tab, newline, printable ASCII and any octet with the high bit set.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACE = re.compile(r"[ \t]+")


class PolicyError(ValueError):
    """The policy text is malformed; the message names the line."""


@dataclass(frozen=True)
class Group:
    """k of the named members must be satisfied."""

    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Witness:
    """A witness of the policy: its name there, its key, its submission prefix if given."""

    name: str
    verifier: CosignatureVerifier | Verifier
    vkey: str
    url: str | None = None


@dataclass(frozen=True)
class QuorumCheck:
    """Which of the policy's witnesses cosigned a checkpoint, and whether the quorum holds."""

    quorum: str | None  # None: the policy requires no witness
    cosigned: tuple[str, ...]  # witness names, in the policy's order
    met: bool


@dataclass
class Policy:
    """The keys a checkpoint must be signed and cosigned by."""

    logs: list[Verifier] = field(default_factory=list)
    log_urls: dict[str, str] = field(default_factory=dict)  # log vkey -> url
    witness_list: dict[str, Witness] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str | None = None
    portal_cas: set[str] = field(default_factory=set)
    tsa_cas: set[str] = field(default_factory=set)

    @property
    def witnesses(self) -> dict[str, CosignatureVerifier | Verifier]:
        """Each witness's verifier, by name."""
        return {name: w.verifier for name, w in self.witness_list.items()}

    def cosigners(self, note: str) -> set[str]:
        """The policy's witnesses whose valid cosignature the signed note carries."""
        cosigned = set()
        for name, witness in self.witness_list.items():
            try:
                open_note(note, [witness.verifier])
            except NoteError:
                continue
            cosigned.add(name)
        return cosigned

    def satisfied(self, name: str, cosigned: set[str]) -> bool:
        """Whether the witness or group `name` is satisfied by the witnesses in `cosigned`."""
        if name in self.witness_list:
            return name in cosigned
        group = self.groups[name]
        return sum(self.satisfied(m, cosigned) for m in group.members) >= group.threshold

    def quorum_check(self, note: str) -> QuorumCheck:
        """Who cosigned `note` and whether that meets the quorum: the one check of it."""
        cosigned = self.cosigners(note)
        ordered = tuple(name for name in self.witness_list if name in cosigned)
        met = self.quorum is None or self.satisfied(self.quorum, cosigned)
        return QuorumCheck(self.quorum, ordered, met)

    def describe_quorum(self) -> tuple[str, str]:
        """The quorum in plain words, Chinese and English."""
        if self.quorum is None:
            return "不要求见证方联署。", "No witness cosignature is required."
        return _words(self, self.quorum)

    def format(self, comment: str = "") -> str:
        """The policy as text that parse_policy reads back to an equal policy."""
        lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
        for log in self.logs:
            vkey = verifier_key(log)
            url = self.log_urls.get(vkey)
            lines.append(f"log {vkey}" + (f" {url}" if url else ""))
        for w in self.witness_list.values():
            lines.append(f"witness {w.name} {w.vkey}" + (f" {w.url}" if w.url else ""))
        for g in self.groups.values():
            k = "all" if g.threshold == len(g.members) and len(g.members) > 1 else g.threshold
            lines.append(f"group {g.name} {k} {' '.join(g.members)}")
        lines += [f"portal-ca {fingerprint}" for fingerprint in sorted(self.portal_cas)]
        lines += [f"tsa-ca {fingerprint}" for fingerprint in sorted(self.tsa_cas)]
        lines.append(f"quorum {self.quorum or 'none'}")
        return "\n".join(lines) + "\n"


def _words(policy: Policy, name: str) -> tuple[str, str]:
    if name in policy.witness_list:
        return f"须由 {name} 联署。", f"{name} must cosign."
    group = policy.groups[name]
    zh, en = "、".join(group.members), ", ".join(group.members)
    n = len(group.members)
    if group.threshold == n and n > 1:
        return f"须 {zh} 全部联署。", f"All of {en} must cosign."
    return (
        f"须 {zh} 这 {n} 方中至少 {group.threshold} 方联署。",
        f"At least {group.threshold} of these {n} must cosign: {en}.",
    )


def parse_policy(text: str, *, require_log: bool = True) -> Policy:
    """Parse a policy. A log key is required unless `require_log` is false (a log's own
    witness policy, whose log is itself); a policy without a quorum line means `none`."""
    policy = Policy()
    keys: set[bytes] = set()
    quorum_seen = False
    for number, raw in enumerate(text.split("\n"), 1):
        where = f"line {number}"
        if _FORBIDDEN.search(raw.rstrip("\r")):
            raise PolicyError(f"{where}: a control character")
        line = raw.rstrip("\r").strip(" \t")
        if not line or line.startswith("#"):
            continue
        keyword, *args = _SPACE.split(line)
        try:
            if keyword == "log" and len(args) in (1, 2):
                verifier = parse_verifier_key(args[0])
                _new_key(keys, verifier.public_key, where)
                policy.logs.append(verifier)
                if len(args) == 2:
                    policy.log_urls[verifier_key(verifier)] = args[1]
            elif keyword == "witness" and len(args) in (2, 3):
                _new_name(policy, args[0], where)
                witness_key = parse_witness_key(args[1])
                _new_key(keys, witness_key.public_key, where)
                url = args[2] if len(args) == 3 else None
                policy.witness_list[args[0]] = Witness(args[0], witness_key, args[1], url)
            elif keyword == "group" and len(args) >= 3:
                _new_name(policy, args[0], where)
                policy.groups[args[0]] = _group(policy, args, where)
            elif keyword == "quorum" and len(args) == 1:
                if quorum_seen:
                    raise PolicyError(f"{where}: a second quorum")
                if args[0] != "none" and args[0] not in policy.witness_list | policy.groups:
                    raise PolicyError(f"{where}: quorum names unknown {args[0]!r}")
                quorum_seen = True
                policy.quorum = None if args[0] == "none" else args[0]
            elif keyword in ("portal-ca", "tsa-ca") and len(args) == 1:
                if not _FINGERPRINT.fullmatch(args[0].lower()):
                    raise PolicyError(f"{where}: {keyword} takes a SHA-256 fingerprint (64 hex)")
                cas = policy.portal_cas if keyword == "portal-ca" else policy.tsa_cas
                cas.add(args[0].lower())
            else:
                raise PolicyError(f"{where}: cannot read {line!r}")
        except NoteError as exc:
            raise PolicyError(f"{where}: malformed key: {exc}") from None
    if require_log and not policy.logs:
        raise PolicyError("the policy names no log key ('log <vkey>')")
    return policy


def _new_name(policy: Policy, name: str, where: str) -> None:
    if name in policy.witness_list or name in policy.groups or name == "none":
        raise PolicyError(f"{where}: the name {name!r} is already used")


def _new_key(keys: set[bytes], public_key: bytes, where: str) -> None:
    # tlog-policy: two vkeys wrapping the same public key are duplicates, whatever names.
    if public_key in keys:
        raise PolicyError(f"{where}: this public key is already in the policy")
    keys.add(public_key)


def _group(policy: Policy, args: list[str], where: str) -> Group:
    name, k, members = args[0], args[1], tuple(args[2:])
    for member in members:
        if member not in policy.witness_list and member not in policy.groups:
            raise PolicyError(f"{where}: group member {member!r} is not defined above")
    if len(set(members)) != len(members):
        raise PolicyError(f"{where}: a group lists a member twice")
    if k == "all":
        threshold = len(members)
    elif k == "any":
        threshold = 1
    elif re.fullmatch(r"[1-9][0-9]*", k) and int(k) <= len(members):
        threshold = int(k)
    else:
        raise PolicyError(f"{where}: the threshold must be all, any or 1..{len(members)}")
    return Group(name, threshold, members)


def format_policy(
    log_vkeys: Sequence[str],
    portal_cas: Sequence[str],
    tsa_cas: Sequence[str] = (),
    comment: str = "",
    witnesses: Policy | None = None,
) -> str:
    """A policy text for these log keys and CAs, requiring the witnesses and quorum of
    `witnesses` (a parsed witness policy), or none."""
    policy = Policy(
        logs=[parse_verifier_key(vkey) for vkey in log_vkeys],
        portal_cas=set(portal_cas),
        tsa_cas=set(tsa_cas),
    )
    if witnesses is not None:
        policy.witness_list = dict(witnesses.witness_list)
        policy.groups = dict(witnesses.groups)
        policy.quorum = witnesses.quorum
    return policy.format(comment)
