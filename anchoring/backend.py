"""LedgerBackend: the only way verification reaches the ledger.

Everything a backend returns is untrusted input: the verifier recomputes leaves, checks
proofs and signatures against pinned keys. Two implementations:
- LocalBackend reads this deployment's own ledger tables;
- HttpBackend reads another deployment's ledger API, so a public portal can run with no
  signing key and no write access to the ledger.
A backend that cannot answer raises BackendUnavailable: "could not check", never "invalid".
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings


class BackendUnavailable(RuntimeError):
    """The ledger could not be reached or answered nonsense; try again later."""


@dataclass(frozen=True)
class LedgerEntry:
    """An entry as a backend reports it: index and leaf bytes (to be rehashed by the caller)."""

    index: int
    leaf: bytes


@dataclass(frozen=True)
class Timestamp:
    """An RFC 3161 token over a checkpoint as a backend reports it (unverified): the TSA's
    name, the genTime it claims, the DER token and the DER CA certificate it chains to."""

    tsa: str
    gen_time: str
    token: bytes
    ca: bytes


@dataclass(frozen=True)
class ChainAnchor:
    """A confirmed anchor of a checkpoint on an EVM chain as a backend reports it
    (unverified: verification reads the transaction from a node itself)."""

    chain_id: int
    transaction_hash: str
    block_number: int
    block_hash: str
    block_time: str
    confirmations: int


class LedgerBackend(Protocol):
    """What verification may ask of a ledger."""

    def entries_by_digest(self, algorithm: str, digest: bytes) -> list[LedgerEntry]:
        """Entries whose content digest (algorithm "sha256" or "sm3") is `digest`."""

    def entries_by_subject(self, code: str) -> list[LedgerEntry]:
        """Entries whose leaf concerns record code `code` (leaf.subject), by index: the
        record's registration entry first, then its service events and any later entry
        that reuses the code."""

    def entry(self, index: int) -> LedgerEntry:
        """The entry at `index`."""

    def latest_checkpoint(self) -> str:
        """The newest published checkpoint note, with its witnesses' cosignatures."""

    def checkpoint(self, size: int) -> str | None:
        """The published checkpoint note of exactly `size`, if the log published one."""

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry `index` in the tree of `size`."""

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 consistency proof from tree size `old` to `new`."""

    def timestamps(self, size: int) -> list[Timestamp]:
        """The timestamp tokens of the published checkpoint of `size`, earliest first."""

    def covering_timestamps(self, index: int) -> tuple[int, list[Timestamp]] | None:
        """The first published checkpoint above entry `index` that has timestamp tokens:
        its size and tokens; None when none has one yet."""

    def chain_anchors(self, size: int) -> list[ChainAnchor]:
        """The confirmed chain anchors of the published checkpoint of `size`."""

    def covering_chain_anchors(self, index: int) -> tuple[int, list[ChainAnchor]] | None:
        """The first published checkpoint above entry `index` with a confirmed chain
        anchor: its size and anchors; None when none has one yet."""


class LocalBackend:
    """The ledger in this deployment's own database."""

    def _guard(self, call):
        from django.db import DatabaseError

        from anchoring.store import LedgerDamaged

        try:
            return call()
        except DatabaseError as exc:
            raise BackendUnavailable(f"ledger database error: {exc}") from exc
        except LedgerDamaged as exc:  # an alarm is raised: the operators must repair it
            raise BackendUnavailable(f"the ledger is damaged: {exc.what} is missing") from exc

    def entries_by_digest(self, algorithm: str, digest: bytes) -> list[LedgerEntry]:
        from anchoring.models import Entry

        # No checkpoint read to bound the indexes: entries commit with their batch's
        # checkpoint, so every entry found is covered by any checkpoint read after this.
        def find():
            rows = Entry.objects.filter(**{algorithm: digest}).order_by("index")
            return [LedgerEntry(i, bytes(d)) for i, d in rows.values_list("index", "data")]

        return self._guard(find)

    def entries_by_subject(self, code: str) -> list[LedgerEntry]:
        from anchoring.models import Entry

        def find():
            rows = Entry.objects.filter(subject=code).order_by("index")
            limit = settings.LEDGER_LOOKUP_LIMIT
            return [LedgerEntry(i, bytes(d)) for i, d in rows.values_list("index", "data")[:limit]]

        return self._guard(find)

    def entry(self, index: int) -> LedgerEntry:
        from anchoring.models import Entry

        def get():
            data = Entry.objects.filter(index=index).values_list("data", flat=True).first()
            if data is None:
                raise BackendUnavailable(f"the ledger has no entry {index}")
            return LedgerEntry(index, bytes(data))

        return self._guard(get)

    def latest_checkpoint(self) -> str:
        from anchoring import store

        def get():
            cp = store.latest_checkpoint()
            if cp is None:
                raise BackendUnavailable("the ledger has no checkpoint yet")
            return cp.note

        return self._guard(get)

    def checkpoint(self, size: int) -> str | None:
        from anchoring import store

        return self._guard(lambda: store.published_note(size))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        from anchoring import store

        return self._guard(lambda: store.inclusion_proof(index, size))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        from anchoring import store

        return self._guard(lambda: store.consistency_proof(old, new))

    def timestamps(self, size: int) -> list[Timestamp]:
        from anchoring import timestamps

        def get():
            return [
                Timestamp(r.tsa, r.gen_time.isoformat(), bytes(r.token), bytes(r.ca))
                for r in timestamps.for_size(size)
            ]

        return self._guard(get)

    def covering_timestamps(self, index: int) -> tuple[int, list[Timestamp]] | None:
        from anchoring import timestamps

        size = self._guard(lambda: timestamps.earliest_covering(index))
        return None if size is None else (size, self.timestamps(size))

    def chain_anchors(self, size: int) -> list[ChainAnchor]:
        from anchoring import chain_anchors

        return self._guard(lambda: [anchor_of(a) for a in chain_anchors.confirmed(size)])

    def covering_chain_anchors(self, index: int) -> tuple[int, list[ChainAnchor]] | None:
        from anchoring import chain_anchors

        size = self._guard(lambda: chain_anchors.earliest_covering(index))
        return None if size is None else (size, self.chain_anchors(size))


def anchor_of(row) -> ChainAnchor:
    """A stored ChainAnchor row as the backend reports it."""
    return ChainAnchor(
        int(row.chain_id),
        row.transaction_hash,
        int(row.block_number),
        row.block_hash,
        row.block_time.isoformat().replace("+00:00", "Z"),
        int(row.confirmations),
    )


class HttpBackend:
    """Another deployment's ledger, through its JSON API and tlog-tiles read side."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: dict | None = None) -> bytes:
        url = f"{self.base_url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                return response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise BackendUnavailable(f"ledger at {self.base_url} unreachable: {exc}") from exc

    def _json(self, path: str, params: dict | None = None) -> dict:
        try:
            return json.loads(self._get(path, params))
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            raise BackendUnavailable(f"ledger answered malformed JSON for {path}") from exc

    def _entries(self, params: dict) -> list[LedgerEntry]:
        body = self._json("/api/v1/ledger/entries", params)
        try:
            return [LedgerEntry(e["index"], bytes.fromhex(e["leaf"])) for e in body["entries"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable("ledger answered malformed entries") from exc

    def entries_by_digest(self, algorithm: str, digest: bytes) -> list[LedgerEntry]:
        return self._entries({algorithm: digest.hex()})

    def entries_by_subject(self, code: str) -> list[LedgerEntry]:
        return self._entries({"record_code": code})

    def entry(self, index: int) -> LedgerEntry:
        from anchoring.tiles import TILE_WIDTH, TileRef, decode_bundle

        size = self._checkpoint_size(self.latest_checkpoint())
        tile_index, offset = divmod(index, TILE_WIDTH)
        width = min(TILE_WIDTH, size - tile_index * TILE_WIDTH)
        if index >= size:
            raise BackendUnavailable(f"the ledger has no entry {index}")
        bundle = self._get("/ledger/" + TileRef(0, tile_index, width).entries_path())
        try:
            return LedgerEntry(index, decode_bundle(bundle)[offset])
        except (ValueError, IndexError) as exc:
            raise BackendUnavailable("ledger answered a malformed entry bundle") from exc

    @staticmethod
    def _checkpoint_size(note: str) -> int:
        try:
            return int(note.split("\n")[1])
        except (IndexError, ValueError) as exc:
            raise BackendUnavailable("ledger answered a malformed checkpoint") from exc

    def latest_checkpoint(self) -> str:
        return self._get("/ledger/checkpoint").decode("utf-8", "replace")

    def checkpoint(self, size: int) -> str | None:
        try:
            return self._json("/api/v1/ledger/checkpoint", {"size": size}).get("note")
        except BackendUnavailable as exc:
            if isinstance(exc.__cause__, urllib.error.HTTPError) and exc.__cause__.code == 404:
                return None
            raise

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        body = self._json("/api/v1/ledger/proof/inclusion", {"index": index, "size": size})
        return self._hashes(body)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        body = self._json("/api/v1/ledger/proof/consistency", {"from": old, "to": new})
        return self._hashes(body)

    def timestamps(self, size: int) -> list[Timestamp]:
        return self._timestamps(self._json("/api/v1/ledger/timestamps", {"size": size}))[1]

    def covering_timestamps(self, index: int) -> tuple[int, list[Timestamp]] | None:
        size, found = self._timestamps(self._json("/api/v1/ledger/timestamps", {"covering": index}))
        return None if size is None else (size, found)

    @staticmethod
    def _timestamps(body: dict) -> tuple[int | None, list[Timestamp]]:
        try:
            size = body["size"]
            found = [
                Timestamp(
                    str(t["tsa"]),
                    str(t["gen_time"]),
                    base64.b64decode(t["token"], validate=True),
                    base64.b64decode(t["ca"], validate=True),
                )
                for t in body["timestamps"]
            ]
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise BackendUnavailable("ledger answered malformed timestamps") from exc
        if size is not None and not isinstance(size, int):
            raise BackendUnavailable("ledger answered malformed timestamps")
        return size, found

    def chain_anchors(self, size: int) -> list[ChainAnchor]:
        return self._anchors(self._json("/api/v1/ledger/anchors", {"size": size}))[1]

    def covering_chain_anchors(self, index: int) -> tuple[int, list[ChainAnchor]] | None:
        size, found = self._anchors(self._json("/api/v1/ledger/anchors", {"covering": index}))
        return None if size is None else (size, found)

    @staticmethod
    def _anchors(body: dict) -> tuple[int | None, list[ChainAnchor]]:
        try:
            size = body["size"]
            found = [
                ChainAnchor(
                    int(a["chain_id"]),
                    str(a["transaction_hash"]),
                    int(a["block_number"]),
                    str(a["block_hash"]),
                    str(a["block_time"]),
                    int(a["confirmations"]),
                )
                for a in body["anchors"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable("ledger answered malformed chain anchors") from exc
        if size is not None and not isinstance(size, int):
            raise BackendUnavailable("ledger answered malformed chain anchors")
        return size, found

    @staticmethod
    def _hashes(body: dict) -> list[bytes]:
        try:
            return [bytes.fromhex(h) for h in body["hashes"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable("ledger answered a malformed proof") from exc


def get_backend() -> LedgerBackend:
    """The backend named by LEDGER_BACKEND."""
    if settings.LEDGER_BACKEND == "http":
        return HttpBackend(settings.LEDGER_BACKEND_URL, settings.LEDGER_BACKEND_TIMEOUT)
    return LocalBackend()
