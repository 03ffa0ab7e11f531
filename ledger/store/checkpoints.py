"""Checkpoints in PostgreSQL: making one (every stream's head, in one snapshot) and reading
them back with the log, in one snapshot, for the audit and the export."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from ledger.store.audit_reader import CURSOR_BATCH, EventRow
from ledger.store.errors import translated_for_operators
from ledger.store.sql import query

_CHECKPOINT_LOCK_KEY = 0x4C45444745520050
"""Advisory lock taken while a checkpoint is made (migrations hold ...0001)."""


class StoredCheckpoint(NamedTuple):
    checkpoint_id: int
    period_start: datetime
    made_at: str
    """UTC, spelled as the signed statement spells it."""
    tree_size: int
    root: bytes
    key_id: bytes
    signature: bytes


class StoredLeaf(NamedTuple):
    program_id: str
    stream_id: str
    version: int
    hash: bytes
    event_hash: bytes | None
    """The hash of the event the log holds at `version` (None: it holds none)."""
    event_id: str | None


def make_checkpoint(
    conninfo: str,
    *,
    role: str | None,
    period_start: datetime,
    made_at: datetime,
    seal: Callable[[Iterator[tuple[Any, ...]]], tuple[int, bytes, bytes, bytes]],
) -> int | None:
    """Makes the checkpoint of the period starting at `period_start`, unless one exists; returns
    its id, or None if the period had one. `seal` is given the heads in leaf order and returns
    (tree size, root, key id, signature)."""
    # Autocommit, so that the transaction below is the connection's own (not a savepoint in
    # one SET ROLE opened) and ends, with its lock, when the checkpoint is stored.
    with psycopg.connect(conninfo, autocommit=True) as connection:
        if role:
            connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        with connection.transaction():
            connection.execute(query("checkpoint_lock"), {"lock_key": _CHECKPOINT_LOCK_KEY})
            # Read committed: this statement sees a checkpoint another process committed while
            # this one waited for the lock.
            taken = connection.execute(
                query("checkpoint_period_taken"), {"period_start": period_start}
            ).fetchone()
            assert taken is not None
            if taken[0]:
                return None
            row = connection.execute(query("checkpoint_next_id")).fetchone()
            assert row is not None
            checkpoint_id: int = row[0]
            connection.execute(query("checkpoint_take_heads"), {"checkpoint_id": checkpoint_id})
            with connection.cursor(name="checkpoint_heads", binary=True) as heads:
                heads.execute(query("checkpoint_heads"), {"checkpoint_id": checkpoint_id})
                tree_size, root, key_id, signature = seal(_batched(heads))
            connection.execute(
                query("checkpoint_insert"),
                {
                    "checkpoint_id": checkpoint_id,
                    "period_start": period_start,
                    "made_at": made_at,
                    "tree_size": tree_size,
                    "root": root,
                    "key_id": key_id,
                    "signature": signature,
                },
            )
    return checkpoint_id


def _batched(cursor: psycopg.ServerCursor[TupleRow]) -> Iterator[tuple[Any, ...]]:
    """The cursor's rows, fetched CURSOR_BATCH at a time: memory stays flat however many
    streams the log holds."""
    while batch := cursor.fetchmany(CURSOR_BATCH):
        yield from batch


class LogSnapshot:
    """The log and its checkpoints as of one instant."""

    def __init__(self, connection: psycopg.Connection[TupleRow]) -> None:
        self._connection = connection

    def holds_program(self, program_id: str) -> bool:
        row = self._connection.execute(
            query("audit_program_exists"), {"program_id": program_id}
        ).fetchone()
        assert row is not None
        return bool(row[0])

    def checkpoints(self) -> list[StoredCheckpoint]:
        return [
            StoredCheckpoint(*row) for row in self._connection.execute(query("checkpoint_list"))
        ]

    @contextmanager
    def leaves(self, checkpoint_id: int) -> Iterator[Iterator[StoredLeaf]]:
        with self._connection.cursor(name="checkpoint_leaves", binary=True) as cursor:
            cursor.execute(query("checkpoint_leaves"), {"checkpoint_id": checkpoint_id})
            yield (StoredLeaf(*row) for row in _batched(cursor))

    @contextmanager
    def events(self, program_id: str | None) -> Iterator[Iterator[EventRow]]:
        """Every event (of one program's streams), stream by stream in version order."""
        with self._connection.cursor(name="export_events", binary=True) as cursor:
            cursor.execute(
                query("audit_events"),
                {
                    "program_id": program_id,
                    "from_program": None,
                    "from_stream": None,
                    "to_program": None,
                    "to_stream": None,
                },
            )
            yield (EventRow(*row) for row in _batched(cursor))


@contextmanager
def log_snapshot(conninfo: str) -> Iterator[LogSnapshot]:
    with (
        translated_for_operators(),
        psycopg.connect(conninfo) as connection,
        connection.transaction(),
    ):
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield LogSnapshot(connection)
