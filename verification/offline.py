"""judicial-verify: the offline verifier, a console command of this package.

It imports nothing from Django and touches no database or network: what it checks, it
checks with the published keys it is given. This part verifies any C2SP checkpoint and
any C2SP tlog-proof, from any log (the Go checksum database's, Sigstore's, ours).

Exit codes: 0 everything verified; 1 something failed to verify (the step is named);
2 the input cannot be used (unreadable file, malformed key, not the expected document).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from anchoring import merkle
from anchoring.checkpoint import (
    PROOF_HEADER,
    CheckpointError,
    ProofError,
    open_checkpoint,
    parse_proof,
)
from anchoring.note import NoteError, Verifier, parse_verifier_key

VERIFIED, FAILED, UNUSABLE = 0, 1, 2


class Unusable(Exception):
    """Input the verifier cannot work with; exit code 2."""


class Failed(Exception):
    """A check that did not verify; exit code 1. The message names the step."""


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes() if path != "-" else sys.stdin.buffer.read()
    except OSError as exc:
        raise Unusable(f"cannot read {path}: {exc.strerror}") from None


def _verifiers(vkeys: list[str]) -> list[Verifier]:
    verifiers = []
    for vkey in vkeys:
        try:
            verifiers.append(parse_verifier_key(vkey.strip()))
        except NoteError as exc:
            raise Unusable(f"malformed verifier key {vkey!r}: {exc}") from None
    return verifiers


def _checkpoint(note: str, verifiers: list[Verifier], origin: str | None, say) -> object:
    try:
        cp = open_checkpoint(note, verifiers, origin=origin)
    except (NoteError, CheckpointError) as exc:
        raise Failed(f"checkpoint signature: {exc}") from None
    names = ", ".join(f"{v.name} ({v.key_id:08x})" for v in verifiers)
    say(f"ok  checkpoint signed by a trusted key: {names}")
    say(f"    origin {cp.origin!r}, tree size {cp.size}, root {cp.root_hash.hex()}")
    return cp


def check_checkpoint(args, say) -> None:
    """`judicial-verify checkpoint NOTE --vkey VKEY`."""
    data = _read(args.note)
    try:
        note = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unusable(f"{args.note} is not UTF-8 text, so not a checkpoint") from None
    _checkpoint(note, _verifiers(args.vkey), args.origin, say)


def check_proof(args, say) -> None:
    """`judicial-verify proof PROOF --vkey VKEY (--leaf-hash HEX | --entry FILE)`."""
    text = _read(args.proof)
    if not text.startswith(PROOF_HEADER.encode()):
        raise Unusable(f"{args.proof} is not a C2SP tlog-proof (no {PROOF_HEADER!r} header)")
    verifiers = _verifiers(args.vkey)
    if args.entry:
        leaf = merkle.leaf_hash(_read(args.entry))
        say(f"    leaf hash of {args.entry}: {leaf.hex()}")
    else:
        try:
            leaf = bytes.fromhex(args.leaf_hash)
        except ValueError:
            raise Unusable("--leaf-hash must be hexadecimal") from None
        if len(leaf) != merkle.HASH_SIZE:
            raise Unusable("--leaf-hash must be 32 bytes (64 hex digits)")
    try:
        proof = parse_proof(text)
    except ProofError as exc:
        raise Failed(f"proof format: {exc}") from None
    cp = _checkpoint(proof.checkpoint, verifiers, args.origin, say)
    try:
        merkle.verify_inclusion(leaf, proof.index, cp.size, list(proof.hashes), cp.root_hash)
    except (merkle.ProofError, ValueError) as exc:
        raise Failed(f"inclusion proof: {exc}") from None
    say(f"ok  entry {proof.index} is included in the tree of size {cp.size}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="judicial-verify",
        description="Verify court ledger checkpoints and proofs offline, trusting only keys.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    checkpoint = commands.add_parser("checkpoint", help="verify a C2SP checkpoint of any log")
    checkpoint.add_argument("note", help="the signed checkpoint note (a file, or - for stdin)")
    checkpoint.set_defaults(run=check_checkpoint)
    proof = commands.add_parser("proof", help="verify a C2SP tlog-proof of any log")
    proof.add_argument("proof", help="the tlog-proof text (a file, or - for stdin)")
    leaf = proof.add_mutually_exclusive_group(required=True)
    leaf.add_argument("--leaf-hash", help="the RFC 9162 leaf hash, hex")
    leaf.add_argument("--entry", help="a file holding the log entry itself")
    proof.set_defaults(run=check_proof)
    for sub in (checkpoint, proof):
        sub.add_argument(
            "--vkey",
            action="append",
            required=True,
            help="a trusted verifier key, C2SP vkey form (repeatable)",
        )
        sub.add_argument("--origin", help="require this checkpoint origin")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one verification; print each step and one final verdict; return the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return UNUSABLE if exc.code else VERIFIED
    try:
        args.run(args, print)
    except Unusable as exc:
        print(f"UNUSABLE INPUT: {exc}", file=sys.stderr)
        return UNUSABLE
    except Failed as exc:
        print(f"FAILED at {exc}")
        return FAILED
    print("VERIFIED")
    return VERIFIED


if __name__ == "__main__":
    sys.exit(main())
