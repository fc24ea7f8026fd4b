"""The deployment's witness key: loaded from WITNESS_SIGNING_KEY_FILE, created only when
WITNESS_GENERATE_KEY allows, and the Identity built from it and WITNESS_NAME.

The file holds one signer key in the Go note package's form
(PRIVATE+KEY+<name>+<hexid>+<base64>), as the ledger's does; its name must be
WITNESS_NAME. The same seed signs the witness's cosignatures (type 0x04 key id).
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import threading
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from anchoring.cosignature import vkey as cosignature_vkey
from anchoring.note import Signer, new_signer_key, parse_signer_key
from witness.identity import Identity

_creating = threading.Lock()


@functools.cache
def signer() -> Signer:
    """The witness's signer, creating the key file on first use when allowed."""
    path = Path(settings.WITNESS_SIGNING_KEY_FILE)
    if not path.exists():
        if not settings.WITNESS_GENERATE_KEY:
            raise ImproperlyConfigured(
                f"The witness key {path} does not exist. Create one with "
                "'python manage.py witness_keygen' and set WITNESS_SIGNING_KEY_FILE."
            )
        # Two first requests at once (threads or processes): one writes, both read it.
        with _creating, contextlib.suppress(FileExistsError):
            write_new_key(path, settings.WITNESS_NAME)
    key = parse_signer_key(path.read_text().strip())
    if key.name != settings.WITNESS_NAME:
        raise ImproperlyConfigured(
            f"The witness key in {path} is named {key.name!r} but WITNESS_NAME is "
            f"{settings.WITNESS_NAME!r}; a cosignature's key name is the witness's name."
        )
    return key


def write_new_key(path: Path, name: str) -> str:
    """Generate a signer key named `name` into a new file readable by its owner only, and
    return the witness's cosignature vkey (type 0x04). The file appears whole or not at
    all (FileExistsError if there is one): it is written aside, then linked in place."""
    skey, _ = new_signer_key(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, aside = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:  # mkstemp makes it 0600
            f.write(skey + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(aside, path)
    finally:
        os.unlink(aside)
    key = parse_signer_key(skey)
    return cosignature_vkey(key.name, key.public_key)


def identity() -> Identity:
    """This deployment's witness: WITNESS_NAME, its key, the default database."""
    return Identity(settings.WITNESS_NAME, signer(), "default")


def vkey() -> str:
    """This deployment's witness key in C2SP vkey form (type 0x04), as published."""
    return identity().vkey()


def forget() -> None:
    """Drop the loaded key (tests that change the key settings)."""
    signer.cache_clear()
