"""docs/formats.md's worked example must be what the code produces, byte for byte."""

import re
from pathlib import Path

from anchoring import merkle
from anchoring.digest import digests
from anchoring.leaf import Kind, Leaf, decode

DOC = Path(__file__).resolve().parents[2] / "docs" / "formats.md"


def test_the_documented_leaf_example_is_exact():
    text = DOC.read_text()
    block = text.split("<!-- leaf-example")[1].split("```")[1]
    content = bytes.fromhex(re.search(r"content:\s+(\w+)", block)[1])
    leaf_part = block.split("leaf:")[1].split("leaf hash:")[0]
    leaf_bytes = bytes.fromhex("".join(leaf_part.split()))
    leaf_hash = bytes.fromhex(re.search(r"leaf hash:\s+(\w+)", block)[1])

    sha, sm = digests(content)
    assert Leaf(Kind.ANCHOR, 1_767_225_600_000, sha, sm).encode() == leaf_bytes
    assert decode(leaf_bytes).sha256 == sha
    assert merkle.leaf_hash(leaf_bytes) == leaf_hash
