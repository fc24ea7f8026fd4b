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
        operation_id="ledger_entries",
        tags=["ledger"],
        summary="按摘要或核验码查找账本条目 · Find ledger entries by digest or record code",
        description=(
            "给出 `sha256` 或 `sm3`（64 位十六进制）之一，返回内容具有该摘要的条目；或给出 "
            "`record_code`（不含连字符的核验码），返回与该记录有关的条目，登记条目在先。按时间先后"
            "排列，至多 LEDGER_LOOKUP_LIMIT 条。每条都附叶子的原始字节，供自行解码核对。\n\n"
            "Exactly one of `sha256` and `sm3` (64 hex digits): the entries whose content has that "
            "digest; or `record_code` (a record code without its dashes): the entries about that "
            "record, its registration first. Oldest first, at most `LEDGER_LOOKUP_LIMIT`. Each "
            "carries the leaf's bytes, for the reader to decode and check."
        ),
        auth=[],  # public: no token
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
        operation_id="ledger_proof_inclusion",
        tags=["ledger"],
        summary="条目的包含证明 · Inclusion proof of an entry",
        description=(
            "条目 `index` 在大小为 `size`（默认为最新检查点的大小）的树中的 RFC 9162 包含证明，同时"
            "给出 C2SP tlog-proof 格式；该大小有已发布的签名检查点时一并返回。\n\n"
            "The RFC 9162 inclusion proof of entry `index` in the tree of size `size` (by default "
            "the newest checkpoint's), also in C2SP tlog-proof form, with the signed checkpoint of "
            "that size when one was published."
        ),
        auth=[],  # public: no token
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
        operation_id="ledger_proof_consistency",
        tags=["ledger"],
        summary="两个树大小之间的一致性证明 · Consistency proof between two tree sizes",
        description=(
            "证明大小为 `from` 的树是大小为 `to`（默认为最新大小）的树的前缀，即账本只增不改。请用"
            "签名检查点中的根哈希核对 `from_root` 和 `to_root`，不要直接信任它们。\n\n"
            "Proves that the tree of size `from` is a prefix of the tree of size `to` (by default "
            "the newest): the ledger only grew. Compare `from_root` and `to_root` with the roots "
            "of signed checkpoints; do not trust them as given."
        ),
        auth=[],  # public: no token
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
        operation_id="ledger_checkpoint",
        tags=["ledger"],
        summary="账本检查点 · Ledger checkpoint",
        description=(
            "最新发布的检查点，或 `size` 指定大小的检查点：来源、树大小、根哈希，以及带见证人联署的"
            "签名笔记。首次发布之前返回 503 `ledger_not_ready`。\n\n"
            "The newest published checkpoint, or the one of size `size`: origin, tree size, root "
            "hash, and the signed note with its witnesses' cosignatures. 503 `ledger_not_ready` "
            "before the first publication."
        ),
        auth=[],  # public: no token
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
        operation_id="ledger_timestamps",
        tags=["ledger"],
        summary="检查点的可信时间戳 · Trusted timestamps of a checkpoint",
        description=(
            "大小为 `size` 的已发布检查点的 RFC 3161 时间戳令牌；或用 `covering` 给出条目序号，返回"
            "覆盖该条目的第一个有时间戳的检查点的令牌。令牌是待核对的证据：请按指纹固定时间戳机构的"
            " CA 证书。\n\n"
            "The RFC 3161 timestamp tokens of the published checkpoint of size `size`; or, with "
            "`covering`, those of the first timestamped checkpoint that covers that entry. Tokens "
            "are evidence to check: pin the authority's CA by its fingerprint."
        ),
        auth=[],  # public: no token
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
        operation_id="ledger_anchors",
        tags=["ledger"],
        summary="检查点的区块链锚定 · Chain anchors of a checkpoint",
        description=(
            "大小为 `size` 的已发布检查点在 EVM 链上已确认的锚定交易；或用 `covering` 给出条目序号"
            "，返回覆盖该条目的第一个已锚定检查点的交易。请从自己选择的节点读取交易加以核对。\n\n"
            "The confirmed anchors of the published checkpoint of size `size` on the EVM chain; "
            "or, with `covering`, those of the first anchored checkpoint that covers that entry. "
            "Read each transaction from a node of your own choosing to check it."
        ),
        auth=[],  # public: no token
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
