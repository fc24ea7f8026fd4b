"""Content digests: SHA-256 and SM3 (GB/T 32905-2016) side by side, streamed in one pass."""

import hashlib
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes

CHUNK_SIZE = 1 << 20


def sm3(data: bytes) -> bytes:
    """SM3 digest of data held in memory."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def digests(data: bytes) -> tuple[bytes, bytes]:
    """SHA-256 and SM3 digests of data held in memory."""
    return hashlib.sha256(data).digest(), sm3(data)


def stream_digests(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> tuple[bytes, bytes, int]:
    """SHA-256, SM3 and length of a stream read once in chunks (memory stays bounded)."""
    sha, sm, size = hashlib.sha256(), hashes.Hash(hashes.SM3()), 0
    while chunk := stream.read(chunk_size):
        sha.update(chunk)
        sm.update(chunk)
        size += len(chunk)
    return sha.digest(), sm.finalize(), size
