"""A real EVM JSON-RPC node for the tests: `anvil` (npm @foundry-rs/anvil, installed into
./node_modules by scripts/setup) on a free port, stoppable and restartable."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import ROOT, free_port

ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
CHAIN_ID = 31337
# anvil's first development account (its well-known mnemonic): funded on every anvil chain.
KEY = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class Anvil:
    """A running anvil on a fixed port: a node that can go down and come back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        command = [str(ANVIL), "--port", str(self.port), "--chain-id", str(CHAIN_ID), "--silent"]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                self.rpc("eth_chainId")
                return
            time.sleep(0.05)
        raise RuntimeError("anvil did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def rpc(self, method: str, *params):
        """Call a JSON-RPC method (anvil_mine, evm_snapshot, anvil_reorg, ...)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        request = urllib.request.Request(
            self.url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            reply = json.loads(answer.read())
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def mine(self, blocks: int) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def settle(self) -> None:
        """Wait until the node has mined what it was sent (anvil mines just after answering)."""
        deadline = time.monotonic() + 5
        while self.rpc("txpool_status")["pending"] != "0x0" and time.monotonic() < deadline:
            time.sleep(0.02)


def key_file(folder: Path) -> Path:
    path = folder / "chain.key"
    path.write_text(KEY + "\n")
    return path


@pytest.fixture(scope="module")
def anvil():
    """A real anvil for the module (skipped only where scripts/setup could not install it)."""
    if not ANVIL.exists():
        pytest.skip("anvil is not installed (scripts/setup installs it when npm is present)")
    node = Anvil()
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def chain_configured(anvil, settings, tmp_path):
    """Chain anchors on the test anvil: 3 confirmations, no period, no backoff wait."""
    settings.LEDGER_CHAIN_RPC_URL = anvil.url
    settings.LEDGER_CHAIN_ID = CHAIN_ID
    settings.LEDGER_CHAIN_KEY_FILE = str(key_file(tmp_path))
    settings.LEDGER_CHAIN_CONFIRMATIONS = 3
    settings.LEDGER_CHAIN_ANCHOR_PERIOD = 0.0
    settings.LEDGER_CHAIN_RETRY = 0.0
    settings.LEDGER_CHAIN_TIMEOUT = 2.0
    return anvil
