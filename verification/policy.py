"""The offline verifier's trust policy: which log, witness and portal keys to trust.

A small text file in the style of Sigsum's policy file, with C2SP vkeys for the log and
its witnesses. One statement per line; `#` starts a comment:

    log <vkey>                          a log key; checkpoints must carry its signature
    witness <name> <vkey>               a witness key: C2SP tlog-cosignature/v1 (type 0x04)
    group <name> <k|all|any> <member>...  k of the members (witnesses or groups)
    quorum <name|none>                  the witness or group that must be satisfied
    portal-ca <sha256 hex>              a CA whose certificates may sign certificate PDFs
    tsa-ca <sha256 hex>                 a CA whose RFC 3161 timestamps are trusted

Plain Python, no Django: `judicial-verify` reads it; `manage.py trust_policy` writes it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from anchoring.cosignature import CosignatureVerifier, parse_witness_key
from anchoring.note import NoteError, Verifier, open_note, parse_verifier_key

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class PolicyError(ValueError):
    """The policy text is malformed; the message names the line."""


@dataclass(frozen=True)
class Group:
    """k of the named members must be satisfied."""

    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass
class Policy:
    """The keys the offline verifier trusts, and the witness quorum it requires."""

    logs: list[Verifier] = field(default_factory=list)
    witnesses: dict[str, CosignatureVerifier | Verifier] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str | None = None
    portal_cas: set[str] = field(default_factory=set)
    tsa_cas: set[str] = field(default_factory=set)

    def cosigners(self, note: str) -> set[str]:
        """The policy's witnesses whose valid cosignature the signed note carries."""
        cosigned = set()
        for name, verifier in self.witnesses.items():
            try:
                open_note(note, [verifier])
            except NoteError:
                continue
            cosigned.add(name)
        return cosigned

    def satisfied(self, name: str, cosigned: set[str]) -> bool:
        """Whether the witness or group `name` is satisfied by the witnesses in `cosigned`."""
        if name in self.witnesses:
            return name in cosigned
        group = self.groups[name]
        return sum(self.satisfied(m, cosigned) for m in group.members) >= group.threshold


def parse_policy(text: str) -> Policy:
    """Parse a policy; at least one log key is required."""
    policy = Policy()
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        keyword, args = words[0], words[1:]
        where = f"line {number}"
        try:
            if keyword == "log" and len(args) == 1:
                policy.logs.append(parse_verifier_key(args[0]))
            elif keyword == "witness" and len(args) == 2:
                _new_name(policy, args[0], where)
                policy.witnesses[args[0]] = parse_witness_key(args[1])
            elif keyword == "group" and len(args) >= 3:
                _new_name(policy, args[0], where)
                policy.groups[args[0]] = _group(policy, args, where)
            elif keyword == "quorum" and len(args) == 1:
                if policy.quorum is not None:
                    raise PolicyError(f"{where}: a second quorum")
                if args[0] != "none" and args[0] not in policy.witnesses | policy.groups:
                    raise PolicyError(f"{where}: quorum names unknown {args[0]!r}")
                policy.quorum = None if args[0] == "none" else args[0]
            elif keyword in ("portal-ca", "tsa-ca") and len(args) == 1:
                if not _FINGERPRINT.fullmatch(args[0].lower()):
                    raise PolicyError(f"{where}: {keyword} takes a SHA-256 fingerprint (64 hex)")
                cas = policy.portal_cas if keyword == "portal-ca" else policy.tsa_cas
                cas.add(args[0].lower())
            else:
                raise PolicyError(f"{where}: cannot read {raw.strip()!r}")
        except NoteError as exc:
            raise PolicyError(f"{where}: malformed key: {exc}") from None
    if not policy.logs:
        raise PolicyError("the policy names no log key ('log <vkey>')")
    return policy


def _new_name(policy: Policy, name: str, where: str) -> None:
    if name in policy.witnesses or name in policy.groups or name == "none":
        raise PolicyError(f"{where}: the name {name!r} is already used")


def _group(policy: Policy, args: list[str], where: str) -> Group:
    name, k, members = args[0], args[1], tuple(args[2:])
    for member in members:
        if member not in policy.witnesses and member not in policy.groups:
            raise PolicyError(f"{where}: group member {member!r} is not defined above")
    if k == "all":
        threshold = len(members)
    elif k == "any":
        threshold = 1
    elif k.isdigit() and 1 <= int(k) <= len(members):
        threshold = int(k)
    else:
        raise PolicyError(f"{where}: the threshold must be all, any or 1..{len(members)}")
    return Group(name, threshold, members)


def format_policy(
    log_vkeys: Sequence[str],
    portal_cas: Sequence[str],
    tsa_cas: Sequence[str] = (),
    comment: str = "",
) -> str:
    """A policy text for these log keys and CAs, with no witnesses required."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"log {vkey}" for vkey in log_vkeys]
    lines += [f"portal-ca {fingerprint}" for fingerprint in portal_cas]
    lines += [f"tsa-ca {fingerprint}" for fingerprint in tsa_cas]
    lines.append("quorum none")
    return "\n".join(lines) + "\n"
