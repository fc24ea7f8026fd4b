"""Checkpoints anchored on an EVM chain: the byte form a transaction carries, and a node
read and written through its JSON-RPC (web3.py).

The byte form (docs/formats.md, "Chain anchors") is the transaction's data, 73 bytes:
a version byte (0x01), SHA-256 of the checkpoint's origin, the tree size (uint64
big-endian) and the root hash. A transaction carrying it, in a block some confirmations
deep, shows that the root existed no later than the block's time.

Plain Python (no Django): the anchoring loop (anchoring/chain_anchors.py), the
verification step and `judicial-verify --rpc` use it. web3 is imported only when a node
is first used, so reading bundles offline never pays for it.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_typing import HexStr

VERSION = 0x01
LENGTH = 1 + 32 + 8 + 32
_UINT64 = struct.Struct(">Q")


class FormError(ValueError):
    """Transaction data that is not a version-1 chain anchor; the message says why."""


@dataclass(frozen=True)
class Anchored:
    """What an anchor's data commits to."""

    origin_hash: bytes
    size: int
    root: bytes

    def covers(self, origin: str, size: int, root: bytes) -> bool:
        """Whether this is the anchor of the checkpoint (origin, size, root)."""
        return (self.origin_hash, self.size, self.root) == (origin_hash(origin), size, root)


def origin_hash(origin: str) -> bytes:
    return hashlib.sha256(origin.encode()).digest()


def encode(origin: str, size: int, root: bytes) -> bytes:
    """The transaction data anchoring the checkpoint (origin, size, root)."""
    if len(root) != 32 or not 0 <= size < 2**64:
        raise FormError("a root is 32 bytes and a size a uint64")
    return bytes([VERSION]) + origin_hash(origin) + _UINT64.pack(size) + root


def decode(data: bytes) -> Anchored:
    """The anchor a transaction's data holds; FormError when it holds none."""
    if len(data) != LENGTH:
        raise FormError(f"{len(data)} bytes, not {LENGTH}")
    if data[0] != VERSION:
        raise FormError(f"version {data[0]:#04x}, not {VERSION:#04x}")
    return Anchored(data[1:33], _UINT64.unpack(data[33:41])[0], data[41:73])


class NodeUnavailable(Exception):
    """The node could not be reached or answered nonsense: the chain could not be checked."""


@dataclass(frozen=True)
class Transaction:
    """A transaction as a node reports it, with the block it is in (None: not mined yet)."""

    chain_id: int
    transaction_hash: str
    sender: str
    nonce: int
    data: bytes
    block_number: int | None
    block_hash: str | None
    block_time: datetime | None
    succeeded: bool | None
    head: int

    @property
    def confirmations(self) -> int:
        """How many blocks hold it: its own and those above it (0: not mined)."""
        if self.block_number is None:
            return 0
        return max(0, self.head - self.block_number + 1)


def hex0x(value: bytes | str) -> str:
    """0x-prefixed lower-case hex, as the JSON-RPC writes hashes."""
    if isinstance(value, str):
        return "0x" + value.lower().removeprefix("0x")
    return "0x" + bytes(value).hex()


class Node:
    """An EVM node's JSON-RPC at `url`. Every failure to talk to it is NodeUnavailable."""

    def __init__(self, url: str, timeout: float) -> None:
        from web3 import Web3

        self.url = url
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))

    def _call(self, what: str, call):
        from web3.exceptions import TransactionNotFound

        try:
            return call()
        except TransactionNotFound:
            return None
        except Exception as exc:  # requests, web3 and RPC errors alike: the node failed us
            raise NodeUnavailable(f"{what}: {type(exc).__name__}: {exc}"[:500]) from exc

    def chain_id(self) -> int:
        return int(self._call("eth_chainId", lambda: self.w3.eth.chain_id))

    def head(self) -> int:
        return int(self._call("eth_blockNumber", lambda: self.w3.eth.block_number))

    def nonce(self, address: str, block: str = "pending") -> int:
        return int(
            self._call(
                "eth_getTransactionCount",
                lambda: self.w3.eth.get_transaction_count(address, block),  # type: ignore[arg-type]
            )
        )

    def transaction(self, transaction_hash: str) -> Transaction | None:
        """The transaction and its block as the node sees them now; None when the node
        does not know it (never sent, dropped, or reorganised away)."""
        wanted = HexStr(hex0x(transaction_hash))
        tx: Any = self._call(
            "eth_getTransactionByHash", lambda: self.w3.eth.get_transaction(wanted)
        )
        if tx is None:
            return None
        chain_id = self.chain_id()
        number = tx.get("blockNumber")
        block_hash = block_time = succeeded = None
        if number is not None:
            receipt: Any = self._call(
                "eth_getTransactionReceipt",
                lambda: self.w3.eth.get_transaction_receipt(wanted),
            )
            block: Any = self._call("eth_getBlockByNumber", lambda: self.w3.eth.get_block(number))
            if receipt is None or block is None or block["hash"] != receipt["blockHash"]:
                number = None  # between a reorganisation's two halves: not mined for now
            else:
                block_hash = hex0x(block["hash"])
                block_time = datetime.fromtimestamp(int(block["timestamp"]), UTC)
                succeeded = receipt["status"] == 1
        return Transaction(
            chain_id=chain_id,
            transaction_hash=hex0x(tx["hash"]),
            sender=str(tx["from"]),
            nonce=int(tx["nonce"]),
            data=bytes(tx["input"]),
            block_number=number,
            block_hash=block_hash,
            block_time=block_time,
            succeeded=succeeded,
            head=self.head(),
        )

    def send(self, key: str, chain_id: int, data: bytes, nonce: int | None = None) -> Transaction:
        """Send `data` in a transaction of no value from the key's account to itself;
        the transaction as sent (not mined yet). `nonce`: the next one of the account's
        pending transactions unless given."""
        from eth_account import Account

        account = Account.from_key(key)
        if nonce is None:
            nonce = self.nonce(account.address, "pending")
        tx: dict[str, Any] = {
            "from": account.address,
            "to": account.address,
            "value": 0,
            "data": data,
            "nonce": nonce,
            "chainId": chain_id,
        }
        latest: Any = self._call("eth_getBlockByNumber", lambda: self.w3.eth.get_block("latest"))
        base_fee = latest.get("baseFeePerGas")
        if base_fee is None:  # a chain without EIP-1559 (some consortium chains)
            tx["gasPrice"] = self._call("eth_gasPrice", lambda: self.w3.eth.gas_price)
        else:
            tip = self._call("eth_maxPriorityFeePerGas", lambda: self.w3.eth.max_priority_fee)
            tx["maxPriorityFeePerGas"] = tip
            tx["maxFeePerGas"] = 2 * int(base_fee) + int(tip)
        tx["gas"] = self._call("eth_estimateGas", lambda: self.w3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        del tx["from"]
        raw = account.sign_transaction(tx).raw_transaction
        sent = self._call("eth_sendRawTransaction", lambda: self.w3.eth.send_raw_transaction(raw))
        return Transaction(
            chain_id=chain_id,
            transaction_hash=hex0x(sent),
            sender=account.address,
            nonce=nonce,
            data=data,
            block_number=None,
            block_hash=None,
            block_time=None,
            succeeded=None,
            head=self.head(),
        )


def read_key(text: str) -> str:
    """A sender key file's content (hex, one line, 0x optional) as a 0x-prefixed key."""
    key = text.strip().lower().removeprefix("0x")
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise ValueError("a chain key is 32 bytes in hex, on one line")
    return "0x" + key
