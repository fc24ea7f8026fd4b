"""The log's signing key: loaded from LEDGER_SIGNING_KEY_FILE, created only when allowed.

The file holds one signer key in the Go note package's form
(PRIVATE+KEY+<name>+<hexid>+<base64>), so operators can make and read it with the same
tools other transparency logs use. Its name must be the checkpoint origin.
"""

import functools
import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from anchoring.note import Signer, Verifier, new_signer_key, parse_signer_key, verifier_key
from anchoring.policy import Policy, PolicyError, parse_policy


@functools.cache
def signer() -> Signer:
    """The log's signer, creating the key file on first use in the embedded default."""
    path = settings.LEDGER_SIGNING_KEY_FILE
    if not path.exists():
        if not settings.LEDGER_GENERATE_KEY:
            raise ImproperlyConfigured(
                f"The ledger signing key {path} does not exist. Create one with "
                "'python manage.py ledger_keygen' and set LEDGER_SIGNING_KEY_FILE."
            )
        write_new_key(path, settings.LEDGER_ORIGIN)
    key = parse_signer_key(path.read_text().strip())
    if key.name != settings.LEDGER_ORIGIN:
        raise ImproperlyConfigured(
            f"The ledger key in {path} is named {key.name!r} but LEDGER_ORIGIN is "
            f"{settings.LEDGER_ORIGIN!r}; a checkpoint's key name must be its origin."
        )
    return key


def write_new_key(path, name: str) -> str:
    """Generate a signer key named `name` into a new file readable by its owner only."""
    skey, vkey = new_signer_key(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(skey + "\n")
    return vkey


def vkey() -> str:
    """The log's verifier key in C2SP vkey form, as published to verifiers."""
    return verifier_key(signer())


def has_signing_key() -> bool:
    """Whether this deployment can sign checkpoints (a read-only portal cannot)."""
    return settings.LEDGER_SIGNING_KEY_FILE.exists() or settings.LEDGER_GENERATE_KEY


def verifier() -> Verifier:
    """A verifier for the log's own key."""
    from anchoring.note import parse_verifier_key

    return parse_verifier_key(vkey())


def pinned_verifier() -> Verifier | None:
    """The log key verification trusts: LEDGER_VERIFIER_KEY, else, reading its own ledger,
    this deployment's key; None when neither is there (nothing can then be verified)."""
    from anchoring.note import parse_verifier_key

    if settings.LEDGER_VERIFIER_KEY:
        return parse_verifier_key(settings.LEDGER_VERIFIER_KEY)
    if settings.LEDGER_BACKEND == "local" and has_signing_key():
        return verifier()
    return None


def witness_policy() -> Policy | None:
    """The log's witnesses and quorum (LEDGER_WITNESS_POLICY), or None when it has none.

    Read again when the file changes, so a member joins or leaves without a restart. A
    file that cannot be read or parsed stops publication (ImproperlyConfigured), never
    silently drops the quorum.
    """
    path = settings.LEDGER_WITNESS_POLICY
    if not path:
        return None
    try:
        stat = Path(path).stat()
        return _parsed_policy(str(path), stat.st_mtime_ns, stat.st_size)
    except (OSError, PolicyError) as exc:
        raise ImproperlyConfigured(f"LEDGER_WITNESS_POLICY {path}: {exc}") from None


def has_witnesses() -> bool:
    """Whether publication waits for witnesses (a policy naming at least one)."""
    policy = witness_policy()
    return policy is not None and bool(policy.witness_list)


@functools.lru_cache(maxsize=4)
def _parsed_policy(path: str, mtime_ns: int, size: int) -> Policy:
    return parse_policy(Path(path).read_text(encoding="utf-8"), require_log=False)
