"""judicial-verify: the offline verifier, a console command of this package.

It imports nothing from Django and touches no database or network: what it checks, it
checks with the published keys it is given. `certificate` and `bundle` check this
portal's certificates and proof bundles against a trust policy (anchoring/policy.py);
`checkpoint` and `proof` verify any C2SP checkpoint and tlog-proof, from any log (the Go
checksum database's, Sigstore's, ours). The one exception to "no network": with `--rpc
URL`, chain anchors are read from that EVM node, the user's choice; without it they are
reported as not checked and everything else is still verified.

Exit codes: 0 everything verified; 1 something failed to verify (the step is named);
2 the input cannot be used (unreadable file, malformed key, not the expected document).
For a bundle, "verified" is the verifier's own verdict: it prints as proven ("ok  ...")
only what it recomputed from leaves included under a checkpoint the policy trusts, lists
everything else in the bundle as not checked, and treats the portal's recorded outcome
and steps as claims.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from anchoring import merkle
from anchoring.checkpoint import (
    PROOF_HEADER,
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    parse_proof,
)
from anchoring.note import NoteError, Verifier, parse_verifier_key
from anchoring.policy import Policy, PolicyError, parse_policy
from verification import bundle as bundles

if TYPE_CHECKING:
    from verification import pades

VERIFIED, FAILED, UNUSABLE = 0, 1, 2
CONFIRMATIONS = 12  # as LEDGER_CHAIN_CONFIRMATIONS: the depth after which a reorg is unlikely


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


def _checkpoint(note: str, verifiers: list[Verifier], origin: str | None, say) -> Checkpoint:
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
    except merkle.ProofError as exc:
        raise Failed(f"proof format: {exc}") from None
    cp = _checkpoint(proof.checkpoint, verifiers, args.origin, say)
    try:
        merkle.verify_inclusion(leaf, proof.index, cp.size, list(proof.hashes), cp.root_hash)
    except (merkle.ProofError, ValueError) as exc:
        raise Failed(f"inclusion proof: {exc}") from None
    say(f"ok  entry {proof.index} is included in the tree of size {cp.size}")


def _policy(path: str) -> Policy:
    try:
        return parse_policy(_read(path).decode("utf-8"))
    except UnicodeDecodeError:
        raise Unusable(f"the policy {path} is not UTF-8 text") from None
    except PolicyError as exc:
        raise Unusable(f"the policy {path}: {exc}") from None


def _original(path: str | None, say) -> bundles.Digests | None:
    if path is None:
        return None
    from anchoring.digest import stream_digests

    try:
        with open(path, "rb") as f:
            sha, sm, size = stream_digests(f)
    except OSError as exc:
        raise Unusable(f"cannot read {path}: {exc.strerror}") from None
    say(f"    {path}: {size} bytes, SHA-256 {sha.hex()}, SM3 {sm.hex()}")
    return bundles.Digests(sha, sm)


def _verify_bundle(data: bytes, args, say) -> None:
    policy = _policy(args.policy)
    try:
        bundle = bundles.loads(data)
    except bundles.BundleError as exc:
        raise Unusable(str(exc)) from None
    original = _original(args.file, say)
    try:
        bundles.verify_bundle(bundle, policy, say, original, _chain_check(args))
    except bundles.ProofFailed as exc:
        raise Failed(str(exc)) from None
    except bundles.BundleError as exc:
        raise Unusable(f"the bundle is incomplete: {exc}") from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise Unusable(f"the bundle is malformed ({type(exc).__name__}: {exc})") from None


def _chain_check(args) -> bundles.ChainCheck | None:
    """The node of --rpc, if given: only then are chain anchors read and checked."""
    if not args.rpc:
        return None
    if args.confirmations < 1:
        raise Unusable("--confirmations must be at least 1")
    from anchoring import chain

    if not args.rpc.startswith(("http://", "https://")):
        raise Unusable(f"--rpc {args.rpc!r}: give the node's JSON-RPC URL (http:// or https://)")
    return bundles.ChainCheck(chain.Node(args.rpc, args.rpc_timeout), args.confirmations)


def check_bundle(args, say) -> None:
    """`judicial-verify bundle BUNDLE.json [--file ORIGINAL] --policy POLICY`."""
    _verify_bundle(_read(args.bundle), args, say)


def check_certificate(args, say) -> None:
    """`judicial-verify certificate CERT.pdf [--file ORIGINAL] --policy POLICY`."""
    from verification import pades  # pyHanko: a third of a second to import, only needed here

    pdf = _read(args.certificate)
    policy = _policy(args.policy)
    try:
        signature = pades.check(pdf, policy.portal_cas, policy.tsa_cas)
    except pades.PdfUnusable as exc:
        if pdf.startswith(b"%PDF-"):
            raise Failed(f"PDF signature: {exc}") from None
        raise Unusable(f"{args.certificate}: {exc}") from None
    if not signature.intact:
        raise Failed("PDF signature: the signed content was changed after signing")
    if not signature.whole_file:
        raise Failed("PDF signature: content was added to the PDF after it was signed")
    if not signature.trusted:
        raise Failed(
            f"PDF signature: the signer ({signature.signer}) does not chain to a portal CA "
            "of the policy ('portal-ca' lines)"
        )
    when = f", signed {signature.signed_at:%Y-%m-%d %H:%M:%S %Z}" if signature.signed_at else ""
    say(f"ok  PDF signature intact, covers the whole file, by {signature.signer}{when}")
    say(f"    chains to the portal CA {signature.ca}")
    _timestamp(signature, policy, say)
    name = bundles.ATTACHMENT_NAME
    data = pades.embedded_file(pdf, name)
    if data is None:
        raise Failed(f"PDF: the signed certificate carries no {name}")
    say(f"ok  proof bundle {name} taken from the signed PDF")
    _verify_bundle(data, args, say)


def _timestamp(signature: pades.SignatureCheck, policy: Policy, say) -> None:
    """An attached RFC 3161 timestamp must be intact, and trusted when the policy names TSAs."""
    if not signature.timestamped:
        if policy.tsa_cas:
            raise Failed("timestamp: the policy requires one ('tsa-ca'), the PDF has none")
        say("    no RFC 3161 timestamp (none was configured when it was signed)")
        return
    if not signature.timestamp_intact:
        raise Failed("timestamp: the RFC 3161 timestamp does not match the signature")
    if policy.tsa_cas and not signature.timestamp_trusted:
        raise Failed("timestamp: its authority does not chain to a 'tsa-ca' of the policy")
    trust = (
        "by a trusted authority" if signature.timestamp_trusted else "(no 'tsa-ca' in the policy)"
    )
    say(f"ok  RFC 3161 timestamp {signature.timestamp_at:%Y-%m-%d %H:%M:%S %Z} {trust}")


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
    certificate = commands.add_parser(
        "certificate", help="verify a certificate PDF: its signature and every proof it carries"
    )
    certificate.add_argument("certificate", help="the certificate PDF")
    certificate.set_defaults(run=check_certificate)
    bundle = commands.add_parser("bundle", help="verify a proof bundle (JSON) on its own")
    bundle.add_argument("bundle", help="the proof bundle (a file, or - for stdin)")
    bundle.set_defaults(run=check_bundle)
    for sub in (certificate, bundle):
        sub.add_argument("--file", help="the original file, to check it is the one recorded")
        sub.add_argument("--policy", required=True, help="the trust policy: log and portal CA keys")
        sub.add_argument(
            "--rpc",
            help="an EVM node's JSON-RPC URL, to read the chain anchors from (without it they "
            "are reported as not checked)",
        )
        sub.add_argument(
            "--confirmations",
            type=int,
            default=CONFIRMATIONS,
            help=f"blocks an anchor's transaction must be deep to count (default {CONFIRMATIONS})",
        )
        sub.add_argument(
            "--rpc-timeout",
            type=float,
            default=10.0,
            help="seconds the node has to answer (default 10)",
        )
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
