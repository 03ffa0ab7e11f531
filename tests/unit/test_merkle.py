"""The checkpoints' Merkle tree is RFC 6962's, and the outside verifier (tools/verify_export.py,
standard library only) computes the same roots and verifies the same Ed25519 signatures as the
ledger and the `cryptography` package."""

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.audit.merkle import Head, TreeBuilder, leaf_hash, node_hash, statement, tree_root
from ledger.audit.signing import Signer

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "verify_export.py"


@pytest.fixture(scope="module")
def verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_export", VERIFIER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["verify_export"] = module
    spec.loader.exec_module(module)
    return module


def _rfc6962_root(leaves: list[bytes]) -> bytes:
    """MTH as RFC 6962 section 2.1 defines it, recursively."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_rfc6962_root(leaves[:split]), _rfc6962_root(leaves[split:]))


def _heads(count: int) -> list[Head]:
    return [
        Head("prog", f"~s{index:04d}", index + 1, hashlib.sha256(bytes([index % 256])).digest())
        for index in range(count)
    ]


@pytest.mark.parametrize("count", [*range(18), 31, 32, 33, 100])
def test_the_streamed_root_is_rfc_6962s(count: int, verifier: ModuleType) -> None:
    hashed = [leaf_hash(head) for head in _heads(count)]

    size, root = tree_root(hashed)

    assert size == count
    assert root == _rfc6962_root(hashed)
    assert verifier.merkle_root(hashed) == root


def test_leaves_and_nodes_are_hashed_with_certificate_transparencys_prefixes() -> None:
    # RFC 6962's published values: the empty tree, and a tree of one empty leaf.
    assert TreeBuilder().root().hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    builder = TreeBuilder()
    builder.add(hashlib.sha256(b"\x00").digest())
    assert builder.root().hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_a_leaf_names_its_stream_and_version(verifier: ModuleType) -> None:
    head = _heads(1)[0]
    same = [leaf_hash(head)]
    for other in (
        Head("prog2", head.stream_id, head.version, head.hash),
        Head(head.program_id, head.stream_id + "x", head.version, head.hash),
        Head(head.program_id, head.stream_id, head.version + 1, head.hash),
        # The lengths keep one split of the same bytes from passing for another.
        Head("pro", "g" + head.stream_id, head.version, head.hash),
    ):
        assert leaf_hash(other) not in same
    assert verifier.leaf_hash(head.program_id, head.stream_id, head.version, head.hash) == same[0]


def test_the_outside_verifier_accepts_ed25519_signatures_and_nothing_else(
    verifier: ModuleType,
) -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    message = statement("2026-03-01T12:00:00.000000Z", 3, bytes(range(32)))
    signature = signer.sign(message)
    public = signer.public_key.raw

    assert verifier.ed25519_verifies(public, message, signature)
    assert signer.public_key.verifies(message, signature)
    assert not verifier.ed25519_verifies(public, message + b" ", signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not verifier.ed25519_verifies(public, message, flipped)
    other = Signer(Ed25519PrivateKey.generate()).public_key.raw
    assert not verifier.ed25519_verifies(other, message, signature)
    assert verifier.statement("2026-03-01T12:00:00.000000Z", 3, bytes(range(32))) == message
