"""The ledger's JSON API: entries by digest, inclusion and consistency proofs, checkpoint,
the RFC 3161 timestamps and the chain anchors of a checkpoint."""

from __future__ import annotations

import base64

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from anchoring import chain_anchors, leaf, merkle, store, timestamps
from anchoring.checkpoint import format_proof
from anchoring.digest import parse_hex
from anchoring.models import Entry, PublishedCheckpoint
from plumbing import error_codes
from plumbing.errors import ERROR_SCHEMA, ApiError

_ERROR = ERROR_SCHEMA


def _int_param(request: Request, name: str, *, default: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if default is not None:
            return default
        raise ApiError(error_codes.MISSING_PARAMETER, field=name, name=name)
    if not raw.isascii() or not raw.isdigit() or (len(raw) > 1 and raw[0] == "0"):
        raise ApiError(error_codes.INVALID_INTEGER, field=name, name=name)
    return int(raw)


def _out_of_range(name: str, value: int, low: int, high: int) -> ApiError:
    return ApiError(
        error_codes.OUT_OF_RANGE, field=name, name=name, value=value, low=low, high=high
    )


def _digest_param(request: Request) -> tuple[str, bytes]:
    given = [name for name in ("sha256", "sm3") if name in request.query_params]
    if len(given) != 1:
        raise ApiError(error_codes.ONE_DIGEST_PARAMETER, field="sha256")
    name = given[0]
    digest = parse_hex(request.query_params[name].strip())
    if digest is None:
        raise ApiError(error_codes.MALFORMED_DIGEST, field=name, name=name)
    return name, digest


def _subject_param(request: Request) -> str:
    value = request.query_params["record_code"].strip()
    if not (0 < len(value) <= leaf.SUBJECT_MAX and value.isascii() and value.isalnum()):
        raise ApiError(error_codes.MALFORMED_RECORD_CODE, field="record_code")
    return value.upper()


def entry_json(entry: Entry) -> dict:
    """The public JSON form of one ledger entry."""
    data = bytes(entry.data)
    parsed = leaf.decode(data)
    return {
        "index": entry.index,
        "kind": parsed.kind.name.lower(),
        "time": parsed.time.isoformat().replace("+00:00", "Z"),
        "sha256": parsed.sha256.hex(),
        "sm3": parsed.sm3.hex(),
        "leaf": data.hex(),
        "leaf_hash": merkle.leaf_hash(data).hex(),
        "integrated_at": entry.integrated_at.isoformat(),
    }


_ENTRY_FIELDS: dict[str, serializers.Field] = {
    "index": serializers.IntegerField(),
    "kind": serializers.ChoiceField([k.name.lower() for k in leaf.Kind]),
    "time": serializers.DateTimeField(help_text="The time written in the leaf (UTC)."),
    "sha256": serializers.CharField(),
    "sm3": serializers.CharField(),
    "leaf": serializers.CharField(help_text="The leaf bytes, hex (docs/formats.md)."),
    "leaf_hash": serializers.CharField(help_text="SHA-256(0x00 || leaf), hex."),
    "integrated_at": serializers.DateTimeField(),
}


class EntriesView(APIView):
    """Entries whose content has the given SHA-256 or SM3 digest, or that concern a record."""

    throttle_scope = "ledger"  # LEDGER_READ_RATE per client

    @extend_schema(
        parameters=[
            OpenApiParameter("sha256", str, description="64 hex characters"),
            OpenApiParameter("sm3", str, description="64 hex characters"),
            OpenApiParameter(
                "record_code",
                str,
                description="a record code as written in leaves (no dashes): the entries "
                "about that record, its registration first",
            ),
        ],
        responses={
            200: inline_serializer(
                "LedgerEntries",
                {
                    "tree_size": serializers.IntegerField(),
                    "entries": inline_serializer("LedgerEntry", _ENTRY_FIELDS, many=True),
                },
            ),
            400: _ERROR,
        },
    )
    def get(self, request: Request) -> Response:
        size = store.tree_size()
        found: dict[str, str | bytes]
        if "record_code" in request.query_params:
            found = {"subject": _subject_param(request)}
        else:
            name, digest = _digest_param(request)
            found = {name: digest}
        rows = Entry.objects.filter(**found, index__lt=size).order_by("index")
        entries = [entry_json(e) for e in rows[: settings.LEDGER_LOOKUP_LIMIT]]
        return Response({"tree_size": size, "entries": entries})


class InclusionProofView(APIView):
    """RFC 9162 inclusion proof of one entry, as JSON and in C2SP tlog-proof form."""

    throttle_scope = "ledger"  # LEDGER_READ_RATE per client

    @extend_schema(
        parameters=[
            OpenApiParameter("index", int, required=True),
            OpenApiParameter("size", int, description="Tree size; default the newest."),
        ],
        responses={
            200: inline_serializer(
                "InclusionProof",
                {
                    "index": serializers.IntegerField(),
                    "tree_size": serializers.IntegerField(),
                    "leaf_hash": serializers.CharField(),
                    "root_hash": serializers.CharField(),
                    "hashes": serializers.ListField(child=serializers.CharField()),
                    "checkpoint": serializers.CharField(allow_null=True),
                    "tlog_proof": serializers.CharField(allow_null=True),
                },
            ),
            400: _ERROR,
            503: _ERROR,  # ledger_damaged
        },
    )
    def get(self, request: Request) -> Response:
        newest = store.tree_size()
        size = _int_param(request, "size", default=newest)
        index = _int_param(request, "index")
        if not 1 <= size <= newest:
            raise _out_of_range("size", size, 1, newest)
        if index >= size:
            raise _out_of_range("index", index, 0, size - 1)
        entry = Entry.objects.get(index=index)
        hashes = store.inclusion_proof(index, size)
        cp = PublishedCheckpoint.objects.filter(tree_size=size).first()
        return Response(
            {
                "index": index,
                "tree_size": size,
                "leaf_hash": merkle.leaf_hash(bytes(entry.data)).hex(),
                "root_hash": (bytes(cp.root_hash) if cp else store.root_hash(size)).hex(),
                "hashes": [h.hex() for h in hashes],
                # Published checkpoints exist for most batches' sizes; other sizes get
                # the bare proof, to be checked against a root computed elsewhere.
                "checkpoint": cp.note if cp else None,
                "tlog_proof": format_proof(index, hashes, cp.note) if cp else None,
            }
        )


class ConsistencyProofView(APIView):
    """RFC 9162 consistency proof between two tree sizes."""

    throttle_scope = "ledger"  # LEDGER_READ_RATE per client

    @extend_schema(
        parameters=[
            OpenApiParameter("from", int, required=True),
            OpenApiParameter("to", int, description="Default the newest size."),
        ],
        responses={
            200: inline_serializer(
                "ConsistencyProof",
                {
                    "from": serializers.IntegerField(),
                    "to": serializers.IntegerField(),
                    "from_root": serializers.CharField(),
                    "to_root": serializers.CharField(),
                    "hashes": serializers.ListField(child=serializers.CharField()),
                },
            ),
            400: _ERROR,
            503: _ERROR,  # ledger_damaged
        },
    )
    def get(self, request: Request) -> Response:
        newest = store.tree_size()
        new = _int_param(request, "to", default=newest)
        old = _int_param(request, "from")
        if new > newest:
            raise _out_of_range("to", new, 0, newest)
        if old > new:
            raise _out_of_range("from", old, 0, new)
        return Response(
            {
                "from": old,
                "to": new,
                "from_root": store.root_hash(old).hex(),
                "to_root": store.root_hash(new).hex(),
                "hashes": [h.hex() for h in store.consistency_proof(old, new)],
            }
        )


class CheckpointView(APIView):
    """The newest checkpoint, or the one of a given size, parsed, with its signed note."""

    throttle_scope = "ledger"  # LEDGER_READ_RATE per client

    @extend_schema(
        parameters=[OpenApiParameter("size", int, description="Default the newest.")],
        responses={
            200: inline_serializer(
                "LedgerCheckpoint",
                {
                    "origin": serializers.CharField(),
                    "tree_size": serializers.IntegerField(),
                    "root_hash": serializers.CharField(),
                    "note": serializers.CharField(),
                },
            ),
            400: _ERROR,
            404: _ERROR,
            503: _ERROR,
        },
    )
    def get(self, request: Request) -> Response:
        cp = store.latest_checkpoint()
        if cp is None:
            raise ApiError(error_codes.LEDGER_NOT_READY)
        if "size" in request.query_params:
            size = _int_param(request, "size")
            cp = PublishedCheckpoint.objects.filter(tree_size=size).first()
            if cp is None:
                raise ApiError(error_codes.NO_SUCH_CHECKPOINT, field="size", size=size)
        return Response(
            {
                "origin": settings.LEDGER_ORIGIN,
                "tree_size": cp.tree_size,
                "root_hash": bytes(cp.root_hash).hex(),
                "note": cp.note,
            }
        )


def timestamp_json(row) -> dict:
    """The public JSON form of one stored timestamp token (docs/formats.md)."""
    return {
        "tsa": row.tsa,
        "gen_time": row.gen_time.isoformat().replace("+00:00", "Z"),
        "token": base64.b64encode(bytes(row.token)).decode(),
        "ca": base64.b64encode(bytes(row.ca)).decode(),
    }


def _size_or_covering(request: Request, earliest_covering) -> int | None:
    """The published size `?size=N` names, or with `?covering=I` the first one at or above
    entry I that has the evidence (`earliest_covering`); None when none has it yet."""
    if store.latest_checkpoint() is None:
        raise ApiError(error_codes.LEDGER_NOT_READY)
    if "covering" in request.query_params and "size" not in request.query_params:
        return earliest_covering(_int_param(request, "covering"))
    size = _int_param(request, "size")
    if not PublishedCheckpoint.objects.filter(tree_size=size).exists():
        raise ApiError(error_codes.NO_SUCH_CHECKPOINT, field="size", size=size)
    return size


class TimestampsView(APIView):
    """The RFC 3161 timestamp tokens of a published checkpoint: of exactly `size`, or of
    the first timestamped checkpoint that covers entry `covering` (size null if none yet).
    Tokens are evidence to verify, never to trust: each is over SHA-256 of the checkpoint's
    body and chains to its `ca`, which a verifier pins by fingerprint."""

    throttle_scope = "ledger"  # LEDGER_READ_RATE per client

    @extend_schema(
        parameters=[
            OpenApiParameter("size", int, description="A published checkpoint's size."),
            OpenApiParameter(
                "covering",
                int,
                description="Instead of size: an entry index; the first timestamped "
                "checkpoint whose size is above it.",
            ),
        ],
        responses={
            200: inline_serializer(
                "LedgerTimestamps",
                {
                    "size": serializers.IntegerField(allow_null=True),
                    "timestamps": serializers.ListField(
                        child=inline_serializer(
                            "LedgerTimestamp",
                            {
                                "tsa": serializers.CharField(),
                                "gen_time": serializers.DateTimeField(),
                                "token": serializers.CharField(),
                                "ca": serializers.CharField(),
                            },
                        )
                    ),
                },
            ),
            400: _ERROR,
            404: _ERROR,
            503: _ERROR,
        },
    )
    def get(self, request: Request) -> Response:
        size = _size_or_covering(request, timestamps.earliest_covering)
        if size is None:
            return Response({"size": None, "timestamps": []})
        rows = timestamps.for_size(size)
        return Response({"size": size, "timestamps": [timestamp_json(r) for r in rows]})


def chain_anchor_json(row) -> dict:
    """The public JSON form of one confirmed chain anchor (docs/api.md)."""
    return {
        "chain_id": row.chain_id,
        "transaction_hash": row.transaction_hash,
        "block_number": row.block_number,
        "block_hash": row.block_hash,
        "block_time": row.block_time.isoformat().replace("+00:00", "Z"),
        "confirmations": row.confirmations,
    }


class ChainAnchorsView(APIView):
    """The confirmed anchors of a published checkpoint on the EVM chain: of exactly
    `size`, or of the first anchored checkpoint that covers entry `covering` (size null if
    none yet). Evidence to check on a node, never to trust: each transaction's data is the
    checkpoint's byte form (docs/formats.md)."""

    throttle_scope = "ledger"  # LEDGER_READ_RATE per client

    @extend_schema(
        parameters=[
            OpenApiParameter("size", int, description="A published checkpoint's size."),
            OpenApiParameter(
                "covering",
                int,
                description="Instead of size: an entry index; the first anchored "
                "checkpoint whose size is above it.",
            ),
        ],
        responses={
            200: inline_serializer(
                "LedgerChainAnchors",
                {
                    "size": serializers.IntegerField(allow_null=True),
                    "anchors": serializers.ListField(
                        child=inline_serializer(
                            "LedgerChainAnchor",
                            {
                                "chain_id": serializers.IntegerField(),
                                "transaction_hash": serializers.CharField(),
                                "block_number": serializers.IntegerField(),
                                "block_hash": serializers.CharField(),
                                "block_time": serializers.DateTimeField(),
                                "confirmations": serializers.IntegerField(),
                            },
                        )
                    ),
                },
            ),
            400: _ERROR,
            404: _ERROR,
            503: _ERROR,
        },
    )
    def get(self, request: Request) -> Response:
        size = _size_or_covering(request, chain_anchors.earliest_covering)
        if size is None:
            return Response({"size": None, "anchors": []})
        rows = chain_anchors.confirmed(size)
        return Response({"size": size, "anchors": [chain_anchor_json(r) for r in rows]})
