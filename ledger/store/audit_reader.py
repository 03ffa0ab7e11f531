"""Reading the log for the audit, straight from PostgreSQL: one exported snapshot that every
worker reads, key ranges weighed by event counts, and each range's events and state rows
through cursors, a batch at a time, as typed rows.

The texts the canonical text needs arrive as PostgreSQL printed them (jsonb through
`jsonb_out`, the recorded instant through `to_char`), so the replay hashes them without
encoding any JSON of its own (docs/HASH_CHAIN.md).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import chain, pairwise, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from ledger.store.errors import translated_for_operators
from ledger.store.sql import query

CURSOR_BATCH = 2_000
"""Rows fetched from the server per round trip while replaying: a few MB of rows in memory at
a time, and as fast as 5,000. The events come through a binary cursor rather than a COPY:
psycopg turns a fetched batch into rows in C, where a COPY costs a Python generator round per
row (about 2 us more per event; a parallel replay on two cores ran about 8% slower)."""

StreamKey = tuple[str, str]
Balances6 = tuple[int, int, int, int, int, int]
"""available, pending, held, lifetime earned, lifetime redeemed, expired: the order of the
columns of ledger.events and ledger.streams, and of the domain's Balances."""


class _EventColumns(NamedTuple):
    program_id: str
    stream_id: str
    version: int
    event_id: str
    """Lower-case hyphenated UUID text."""
    event_type: str
    schema_version: int
    data_text: str
    """The jsonb value as PostgreSQL prints it."""
    metadata_text: str
    recorded_at: str
    """UTC, spelled as the canonical text spells instants."""
    available: int
    pending: int
    held: int
    lifetime_earned: int
    lifetime_redeemed: int
    expired: int
    hash: bytes


class EventRow(_EventColumns):
    """One stored event, as audit_events.sql selects it."""

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def balances_after(self) -> Balances6:
            """The six stored balances after this event, in column order."""
            ...

    else:
        # A getter in C, with no Python frame: it runs for every event replayed.
        balances_after = property(itemgetter(slice(9, 15)))


class StateRow(NamedTuple):
    """A stream's stored state row, as audit_streams.sql selects it."""

    program_id: str
    stream_id: str
    version: int
    last_hash: bytes
    available: int
    pending: int
    held: int
    lifetime_earned: int
    lifetime_redeemed: int
    expired: int

    @property
    def key(self) -> StreamKey:
        return (self.program_id, self.stream_id)

    @property
    def balances(self) -> Balances6:
        return self[4:10]


@dataclass(frozen=True)
class KeyRange:
    """Stream keys from `start` (inclusive) to `stop` (exclusive); None is unbounded."""

    start: StreamKey | None
    stop: StreamKey | None


EVERYTHING = KeyRange(None, None)

_Row = TypeVar("_Row", EventRow, StateRow)


def _rows(cursor: psycopg.ServerCursor[TupleRow], kind: type[_Row]) -> Iterator[_Row]:
    """The cursor's rows as `kind`, fetched CURSOR_BATCH at a time. Built in C: psycopg's
    tuples turned into `kind` by tuple.__new__ through map, the batches chained, so no Python
    code runs per row (a server cursor's own iterator is a Python method, a row factory a
    Python-level call per row: docs/PERFORMANCE.md, "The replay")."""
    columns = cursor.description
    assert columns is not None and len(columns) == len(kind._fields), (kind, columns)
    batches = iter(partial(cursor.fetchmany, CURSOR_BATCH), [])
    rows: Iterator[_Row] = map(tuple.__new__, repeat(kind), chain.from_iterable(batches))
    return rows


class ExportedSnapshot:
    """The coordinator's transaction, whose snapshot every worker's connections adopt, so the
    whole audit reads the log as of one instant without blocking writers."""

    def __init__(self, connection: psycopg.Connection[TupleRow], snapshot_id: str) -> None:
        self._connection = connection
        self.snapshot_id = snapshot_id

    def holds_program(self, program_id: str) -> bool:
        """Whether the log has any event or state row of the program."""
        row = self._connection.execute(
            query("audit_program_exists"), {"program_id": program_id}
        ).fetchone()
        assert row is not None
        return bool(row[0])

    def program_stream_events(self, program_id: str | None, stream_id: str) -> list[EventRow]:
        """The events of the program streams (id `stream_id`) of every program, or of one, in
        key and version order: a few per program, so read at once."""
        with self._connection.cursor(binary=True) as cursor:
            cursor.execute(
                query("audit_program_streams"), {"program_id": program_id, "stream_id": stream_id}
            )
            return [EventRow(*row) for row in cursor.fetchall()]

    def events_total(self, program_id: str | None) -> int:
        """About how many events the replay reads (each state row's version), for progress."""
        row = self._connection.execute(
            query("audit_events_total"), {"program_id": program_id}
        ).fetchone()
        assert row is not None
        return int(row[0])

    def key_ranges(self, program_id: str | None, parts: int) -> list[KeyRange]:
        """About `parts` ranges of about equal numbers of events (fewer when streams are few or
        long: a stream is never split, its chain is sequential)."""
        assert parts >= 1
        if parts == 1:
            return [EVERYTHING]
        cuts: list[StreamKey | None] = [
            (row[0], row[1])
            for row in self._connection.execute(
                query("audit_ranges"), {"program_id": program_id, "parts": parts}
            )
        ]
        return [KeyRange(start, stop) for start, stop in pairwise([None, *cuts, None])]


@contextmanager
def exported_snapshot(conninfo: str) -> Iterator[ExportedSnapshot]:
    with (
        translated_for_operators(),
        psycopg.connect(conninfo) as connection,
        connection.transaction(),
    ):
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        row = connection.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        yield ExportedSnapshot(connection, row[0])


class SnapshotReader:
    """A worker's view of the exported snapshot. Two connections, so fetching state rows never
    waits behind a batch of events on the same connection."""

    def __init__(
        self,
        events_connection: psycopg.Connection[TupleRow],
        states_connection: psycopg.Connection[TupleRow],
    ) -> None:
        self._events_connection = events_connection
        self._states_connection = states_connection

    @contextmanager
    def read(
        self, program_id: str | None, key_range: KeyRange
    ) -> Iterator[tuple[Iterator[EventRow], Iterator[StateRow]]]:
        """The range's events, stream by stream in version order, and its state rows in the
        same key order."""
        parameters = _range_parameters(program_id, key_range)
        with (
            self._states_connection.cursor(name="audit_streams") as states,
            self._events_connection.cursor(name="audit_events", binary=True) as events,
        ):
            states.execute(query("audit_streams"), parameters)
            events.execute(query("audit_events"), parameters)
            yield _rows(events, EventRow), _rows(states, StateRow)


def _range_parameters(program_id: str | None, key_range: KeyRange) -> dict[str, str | None]:
    start, stop = key_range.start, key_range.stop
    return {
        "program_id": program_id,
        "from_program": start[0] if start else None,
        "from_stream": start[1] if start else None,
        "to_program": stop[0] if stop else None,
        "to_stream": stop[1] if stop else None,
    }


@contextmanager
def snapshot_reader(conninfo: str, snapshot_id: str) -> Iterator[SnapshotReader]:
    with (
        translated_for_operators(),
        _snapshot_connection(conninfo, snapshot_id) as events_connection,
        _snapshot_connection(conninfo, snapshot_id) as states_connection,
    ):
        yield SnapshotReader(events_connection, states_connection)


@contextmanager
def _snapshot_connection(conninfo: str, snapshot_id: str) -> Iterator[psycopg.Connection[TupleRow]]:
    with psycopg.connect(conninfo) as connection, connection.transaction():
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # A utility statement takes no bind parameters; the id is quoted as a literal.
        connection.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_id)))
        # The replay is parallel already; the server's parallel workers for each range's
        # query would only add process start-ups competing for the same cores.
        connection.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield connection
