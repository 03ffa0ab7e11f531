"""The digest a checkpoint signs: a Merkle tree over every stream's chain head, hashed as
Certificate Transparency's signed tree heads are (RFC 6962 section 2.1, RFC 9162 section 2.1).

    leaf_hash(leaf) = SHA-256(0x00 || leaf_bytes)
    node_hash(l, r) = SHA-256(0x01 || l || r)
    root of no leaf = SHA-256("")

The prefixes keep a leaf from ever passing for an inner node. The leaves are the streams'
heads in (program id, stream id) order, byte by byte (the log's "C" collation), each encoded as

    u32 big-endian length || program id (UTF-8) || u32 length || stream id (UTF-8)
    || u64 big-endian version || the hash of the event at that version (32 bytes)

and the tree splits n leaves at the largest power of two below n, as RFC 6962 does. What is
signed is the checkpoint statement (`statement`), plain UTF-8 text. docs/VERIFY.md spells all
of this out for an auditor; tools/verify_export.py does it with the standard library alone.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
STATEMENT_HEADER = "loyalty-ledger checkpoint v1"


@dataclass(frozen=True)
class Head:
    """A stream's chain head: the version of its last event and that event's hash."""

    program_id: str
    stream_id: str
    version: int
    hash: bytes

    @property
    def key(self) -> tuple[str, str]:
        return (self.program_id, self.stream_id)


def leaf_bytes(program_id: str, stream_id: str, version: int, head_hash: bytes) -> bytes:
    program = program_id.encode("utf-8")
    stream = stream_id.encode("utf-8")
    return b"".join(
        (
            len(program).to_bytes(4, "big"),
            program,
            len(stream).to_bytes(4, "big"),
            stream,
            version.to_bytes(8, "big"),
            head_hash,
        )
    )


def leaf_hash(head: Head) -> bytes:
    return head_leaf_hash(head.program_id, head.stream_id, head.version, head.hash)


def head_leaf_hash(program_id: str, stream_id: str, version: int, head_hash: bytes) -> bytes:
    """leaf_hash without building a Head: run for every stream of every checkpoint."""
    return hashlib.sha256(
        LEAF_PREFIX + leaf_bytes(program_id, stream_id, version, head_hash)
    ).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


class TreeBuilder:
    """The root of leaves given one at a time, holding only one perfect subtree per bit of
    the count: a checkpoint over millions of streams never holds their hashes at once. Its
    root equals RFC 6962's recursive definition (a unit test holds it to it)."""

    def __init__(self) -> None:
        self.size = 0
        self._subtrees: list[tuple[int, bytes]] = []
        """(leaves, hash) of perfect subtrees, largest first."""

    def add(self, hashed_leaf: bytes) -> None:
        self.size += 1
        subtrees = self._subtrees
        subtrees.append((1, hashed_leaf))
        while len(subtrees) > 1 and subtrees[-1][0] == subtrees[-2][0]:
            right_size, right = subtrees.pop()
            left_size, left = subtrees.pop()
            subtrees.append((left_size + right_size, node_hash(left, right)))

    def root(self) -> bytes:
        if not self._subtrees:
            return hashlib.sha256(b"").digest()
        # The subtrees left over are the left children of the right spine, largest first.
        _, result = self._subtrees[-1]
        for _, left in reversed(self._subtrees[:-1]):
            result = node_hash(left, result)
        return result


def tree_root(hashed_leaves: Iterable[bytes]) -> tuple[int, bytes]:
    """The number of leaves and the root of the tree over them."""
    builder = TreeBuilder()
    for hashed in hashed_leaves:
        builder.add(hashed)
    return builder.size, builder.root()


def statement(made_at: str, tree_size: int, root: bytes) -> bytes:
    """The bytes a checkpoint's signature covers: when it was made (UTC, spelled as events
    spell instants), how many streams it covers and the root over their heads."""
    return (
        f"{STATEMENT_HEADER}\nmade_at {made_at}\ntree_size {tree_size}\nroot {root.hex()}\n"
    ).encode()
