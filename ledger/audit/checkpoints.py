"""Signed checkpoints: making one for the current interval, and holding the log to every one.

A checkpoint is every stream's chain head (its last version and that event's hash), the
Merkle root over them (ledger.audit.merkle) and an Ed25519 signature of the root, made with a
key the database never holds. A superuser can rewrite a stream and recompute every hash of
it, and the chain then holds; but the event at a checkpointed version no longer has the hash
the checkpoint signed. Streams that grew since still verify: a checkpoint's head must only be
a prefix of the stream's chain (the event at that version has that hash)."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.audit.merkle import TreeBuilder, head_leaf_hash, statement
from ledger.audit.report import Discrepancy
from ledger.audit.signing import PublicKey, Signer
from ledger.domain.clock import instant, parse_instant
from ledger.domain.errors import NotFound
from ledger.store import checkpoints as store

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def period_start(now: datetime, interval_seconds: int) -> datetime:
    """The start of the interval `now` falls in, counted in whole intervals from the Unix
    epoch (UTC), so every process agrees on it."""
    assert interval_seconds > 0
    elapsed = int((now - EPOCH).total_seconds())
    return EPOCH + timedelta(seconds=elapsed - elapsed % interval_seconds)


def make_checkpoint(
    conninfo: str,
    signer: Signer,
    now: datetime,
    interval_seconds: int,
    *,
    role: str | None = None,
) -> int | None:
    """Makes the checkpoint of the interval `now` falls in unless it exists (another process,
    or an earlier sweep, made it); returns its id, or None."""
    made_at = instant(now)

    def seal(heads: Iterator[tuple[Any, ...]]) -> tuple[int, bytes, bytes, bytes]:
        builder = TreeBuilder()
        add = builder.add
        for program_id, stream_id, version, head_hash in heads:
            add(head_leaf_hash(program_id, stream_id, version, head_hash))
        root = builder.root()
        signature = signer.sign(statement(made_at, builder.size, root))
        return builder.size, root, signer.public_key.key_id, signature

    return store.make_checkpoint(
        conninfo,
        role=role,
        period_start=period_start(now, interval_seconds),
        made_at=now,
        seal=seal,
    )


@dataclass
class CheckpointCheck:
    """What holding the log to its checkpoints found."""

    checkpoints: int = 0
    signatures_checked: bool = False
    """False when no public key was given: roots and heads are checked, signatures not."""
    key_ids: tuple[str, ...] = ()
    """The ids of the keys given."""
    latest: str | None = None
    """When the latest checkpoint was made."""
    found: list[Discrepancy] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checkpoints,
            "signatures_checked": self.signatures_checked,
            "key_ids": list(self.key_ids),
            "latest_made_at": self.latest,
        }


def verify_checkpoints(
    conninfo: str,
    program_id: str | None = None,
    public_keys: Sequence[PublicKey] = (),
    *,
    since: datetime | None = None,
) -> CheckpointCheck:
    """Holds the log (or one program's streams) to every checkpoint, in one snapshot: each
    checkpoint's signature (with the one of `public_keys` whose id it names: a key rotated
    out keeps verifying the checkpoints it signed), its root recomputed from its stored
    leaves, and each leaf of the streams audited against the event at its version. A stream
    that disagrees is reported once, at the earliest checkpoint it disagrees with.

    `since`: only the checkpoints made from then on (each reads all its leaves, so an audit of
    every checkpoint grows with their number; a routine audit takes those since the last)."""
    check = CheckpointCheck(
        signatures_checked=bool(public_keys),
        key_ids=tuple(key.key_id.hex() for key in public_keys),
    )
    keys = {key.key_id: key for key in public_keys}
    disagreeing: set[tuple[str, str]] = set()
    with store.log_snapshot(conninfo) as snapshot:
        if program_id is not None and not snapshot.holds_program(program_id):
            raise NotFound(
                f"no such program: {program_id!r}",
                field_name="program",
                reason="PROGRAM_NOT_FOUND",
            )
        for checkpoint in snapshot.checkpoints():
            if since is not None and parse_instant(checkpoint.made_at) < since:
                continue
            check.checkpoints += 1
            check.latest = checkpoint.made_at
            name = f"checkpoint {checkpoint.checkpoint_id} of {checkpoint.made_at}"
            if keys:
                problem = _signature_problem(checkpoint, keys)
                if problem:
                    check.found.append(_of_checkpoint("checkpoint_signature", f"{name}: {problem}"))
            builder = TreeBuilder()
            with snapshot.leaves(checkpoint.checkpoint_id) as leaves:
                for leaf in leaves:
                    builder.add(
                        head_leaf_hash(leaf.program_id, leaf.stream_id, leaf.version, leaf.hash)
                    )
                    key = (leaf.program_id, leaf.stream_id)
                    if (
                        (program_id is None or leaf.program_id == program_id)
                        and leaf.event_hash != leaf.hash
                        and key not in disagreeing
                    ):
                        disagreeing.add(key)
                        check.found.append(_disagreement(name, leaf))
            if (builder.size, builder.root()) != (checkpoint.tree_size, checkpoint.root):
                check.found.append(
                    _of_checkpoint(
                        "checkpoint_root",
                        f"{name}: its stored leaves ({builder.size}) do not hash to its signed"
                        f" root ({checkpoint.tree_size} leaves): the leaves were changed",
                    )
                )
    return check


def _signature_problem(
    checkpoint: store.StoredCheckpoint, keys: dict[bytes, PublicKey]
) -> str | None:
    key = keys.get(checkpoint.key_id)
    if key is None:
        return (
            f"signed by key {checkpoint.key_id.hex()}, none of the public keys given"
            f" ({', '.join(sorted(given.hex() for given in keys))})"
        )
    if not key.verifies(
        statement(checkpoint.made_at, checkpoint.tree_size, checkpoint.root), checkpoint.signature
    ):
        return f"its signature does not verify with its key {checkpoint.key_id.hex()}"
    return None


def _of_checkpoint(kind: str, detail: str) -> Discrepancy:
    return Discrepancy("", "", 0, "", kind, detail)


def _disagreement(name: str, leaf: store.StoredLeaf) -> Discrepancy:
    if leaf.event_hash is None:
        detail = f"{name} holds version {leaf.version} of this stream; the log has no such event"
    else:
        detail = (
            f"{name} holds hash {leaf.hash.hex()} at version {leaf.version}; the log's event"
            f" there has {leaf.event_hash.hex()}: the stream was rewritten"
        )
    return Discrepancy(
        leaf.program_id,
        leaf.stream_id,
        leaf.version,
        leaf.event_id or "",
        "checkpoint_mismatch",
        detail,
    )
