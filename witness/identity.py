"""Who a witness is: its name, its Ed25519 key and the database holding what it cosigned.

The deployment's own witness is built from settings (witness.keys.identity()); other
in-process witnesses (demo ones) are other Identity values passed to the same service.
Its cosignatures are C2SP tlog-cosignature v1 (type 0x04) made with a Go note signer
key's seed. Pure Python: no Django.
"""

from __future__ import annotations

from dataclasses import dataclass

from anchoring import cosignature
from anchoring.cosignature import SIG_TYPE_COSIGNATURE_V1, CosignatureVerifier
from anchoring.note import InvalidKeyError, Signer, compute_key_id, encode_base64, is_valid_key_name


@dataclass(frozen=True)
class Identity:
    """A witness: `name` (its cosignature key's name), `signer` (its Ed25519 key) and
    `database` (the Django database alias of its Log table)."""

    name: str
    signer: Signer
    database: str = "default"

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise InvalidKeyError(f"invalid witness name {self.name!r}")

    @property
    def key_id(self) -> int:
        """The cosignature key id: SHA-256(name || 0x0A || 0x04 || public key)[:4]."""
        return compute_key_id(self.name, self.signer.public_key, SIG_TYPE_COSIGNATURE_V1)

    def vkey(self) -> str:
        """The witness's public key in C2SP vkey form, type 0x04."""
        return cosignature.vkey(self.name, self.signer.public_key)

    def verifier(self) -> CosignatureVerifier:
        """A verifier of this witness's cosignatures."""
        return CosignatureVerifier(self.name, self.signer.public_key)

    def cosign(self, body: str, timestamp: int) -> str:
        """The cosignature line on checkpoint `body` at `timestamp` (POSIX seconds, > 0)."""
        if not 0 < timestamp <= cosignature.MAX_TIMESTAMP:
            raise ValueError(f"a cosignature's timestamp must be 1 to 2**63-1, not {timestamp}")
        signature = self.signer.sign(cosignature.message(body.encode("utf-8"), timestamp))
        raw = self.key_id.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + signature
        return f"\u2014 {self.name} {encode_base64(raw)}\n"
