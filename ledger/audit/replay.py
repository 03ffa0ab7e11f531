"""Replays the log from PostgreSQL: verifies every stream's hash chain, that versions are
contiguous, that the domain's invariants hold after every event, and that the balances stored
on each event and on each stream's state row equal the ones recomputed from the events alone.

Streams are read one after another from a server-side cursor, so memory holds one stream's
state at a time whatever the size of the log. Any discrepancy names the stream, the version
and the event id.
"""

import json
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg.types.json import set_json_loads

from ledger.domain.account import AccountState, Balances, evolve
from ledger.domain.events import UnknownEventType, event_from_data
from ledger.domain.program import ProgramState, evolve_program
from ledger.store.chain import GENESIS_HASH, hash_of
from ledger.store.records import PROGRAM_STREAM
from ledger.store.sql import query

CURSOR_BATCH = 5_000
"""Rows fetched from the server per round trip while replaying."""
MAX_WORKERS = 64
MAX_REPORTED = 1_000
"""Discrepancies kept in the report; the count goes on beyond it."""


@dataclass(frozen=True)
class Discrepancy:
    program_id: str
    stream_id: str
    version: int
    event_id: str
    kind: str
    detail: str


@dataclass
class ReplayResult:
    streams: int = 0
    events: int = 0
    discrepancy_count: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)
    final_balances: dict[tuple[str, str], Balances] = field(default_factory=dict)
    """Recomputed balances per account stream (kept only when asked for)."""

    @property
    def ok(self) -> bool:
        return self.discrepancy_count == 0

    def add(self, found: Discrepancy) -> None:
        self.discrepancy_count += 1
        if len(self.discrepancies) < MAX_REPORTED:
            self.discrepancies.append(found)


class _AuditRow(NamedTuple):
    """A row of audit_events.sql."""

    program_id: str
    stream_id: str
    version: int
    event_id: UUID
    event_type: str
    schema_version: int
    data: dict[str, Any]
    available: int
    pending: int
    held: int
    lifetime_earned: int
    lifetime_redeemed: int
    expired: int
    hash: bytes
    canonical: str

    @property
    def balances(self) -> Balances:
        return Balances(
            self.available,
            self.pending,
            self.held,
            self.lifetime_earned,
            self.lifetime_redeemed,
            self.expired,
        )


@dataclass
class _StreamReplay:
    program_id: str
    stream_id: str
    version: int = 0
    last_hash: bytes = GENESIS_HASH
    account: AccountState = field(default_factory=AccountState)
    program: ProgramState = field(default_factory=ProgramState)
    broken: bool = False
    """After a chain or decoding break, later checks of the stream would only repeat it."""


def replay(
    conninfo: str,
    program_id: str | None = None,
    *,
    keep_balances: bool = False,
    workers: int = 1,
) -> ReplayResult:
    """Replays the log (or one program's streams). With `workers` > 1 the streams are split
    by a hash of their key between that many processes, all reading one exported snapshot,
    so the result is the same as one process's, as of one instant."""
    assert 1 <= workers <= MAX_WORKERS
    if workers == 1:
        return _replay_part(conninfo, program_id, keep_balances, None, 0, 1)
    with psycopg.connect(conninfo) as coordinator, coordinator.transaction():
        coordinator.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        exported = coordinator.execute("SELECT pg_export_snapshot()").fetchone()
        assert exported is not None
        # spawn, not fork: a forked child would share the coordinator's connection socket.
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            parts = list(
                pool.map(
                    _replay_part,
                    [conninfo] * workers,
                    [program_id] * workers,
                    [keep_balances] * workers,
                    [exported[0]] * workers,
                    range(workers),
                    [workers] * workers,
                )
            )
    merged = ReplayResult()
    for part in parts:
        merged.streams += part.streams
        merged.events += part.events
        merged.final_balances.update(part.final_balances)
        for found in part.discrepancies:
            merged.add(found)
        merged.discrepancy_count += part.discrepancy_count - len(part.discrepancies)
    return merged


def _replay_part(
    conninfo: str,
    program_id: str | None,
    keep_balances: bool,
    snapshot: str | None,
    part: int,
    parts: int,
) -> ReplayResult:
    result = ReplayResult()
    with psycopg.connect(conninfo) as connection, connection.transaction():
        # One snapshot for both cursors (and every worker): events and state rows are
        # compared as of one instant.
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        if snapshot is not None:
            connection.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        set_json_loads(_loads, connection)
        parameters = {"program_id": program_id, "part": part, "parts": parts}
        with (
            connection.cursor(name="audit_events") as events,
            connection.cursor(name="audit_streams") as states,
        ):
            events.itersize = CURSOR_BATCH
            events.execute(query("audit_events"), parameters)
            states.itersize = CURSOR_BATCH
            states.execute(query("audit_streams"), parameters)
            _merge(events, states, result, keep_balances)
    return result


_decoder = json.JSONDecoder()


def _loads(data: str | bytes) -> Any:
    # The stdlib loads() sniffs the encoding of bytes first; the server always sends UTF-8.
    return _decoder.decode(data if isinstance(data, str) else str(data, "utf-8"))


def _merge(
    events: Iterator[TupleRow],
    states: Iterator[TupleRow],
    result: ReplayResult,
    keep_balances: bool,
) -> None:
    state_rows = iter(states)
    pending_state: TupleRow | None = next(state_rows, None)
    current: _StreamReplay | None = None
    for row in events:
        record = _AuditRow(*row)
        key = (record.program_id, record.stream_id)
        if current is None or (current.program_id, current.stream_id) != key:
            if current is not None:
                pending_state = _close(current, pending_state, state_rows, result, keep_balances)
            current = _StreamReplay(*key)
            result.streams += 1
        result.events += 1
        _check_event(current, record, result)
    if current is not None:
        pending_state = _close(current, pending_state, state_rows, result, keep_balances)
    while pending_state is not None:
        _orphan_state(pending_state, result)
        pending_state = next(state_rows, None)


def _check_event(stream: _StreamReplay, record: _AuditRow, result: ReplayResult) -> None:
    def report(kind: str, detail: str) -> None:
        result.add(
            Discrepancy(
                record.program_id,
                record.stream_id,
                record.version,
                str(record.event_id),
                kind,
                detail,
            )
        )

    if record.version != stream.version + 1:
        report("version_gap", f"expected version {stream.version + 1}")
    stream.version = record.version
    if stream.broken:
        return
    expected_hash = hash_of(stream.last_hash, record.canonical)
    if expected_hash != bytes(record.hash):
        report("hash_mismatch", "stored hash differs from the recomputed chain")
        stream.broken = True
        return
    stream.last_hash = bytes(record.hash)
    try:
        if record.stream_id == PROGRAM_STREAM:
            stream.program = evolve_program(stream.program, record.event_type, record.data)
            return
        event = event_from_data(record.event_type, record.schema_version, record.data)
        available_before = stream.account.balances.available
        stream.account = evolve(stream.account, event)
        stream.account.check_invariants()
    except (UnknownEventType, KeyError, TypeError, ValueError, AssertionError) as error:
        report("unreplayable", f"{type(error).__name__}: {error}")
        stream.broken = True
        return
    stored = record.balances
    if stream.account.balances != stored:
        report("balance_mismatch", f"recomputed {stream.account.balances}, stored {stored}")
    went_down = stream.account.balances.available < available_before
    if (
        went_down
        and stream.account.balances.available < 0
        and record.event_type not in _MAY_GO_NEGATIVE
    ):
        report("negative_balance", "available went below zero without a recorded reason")


_MAY_GO_NEGATIVE = frozenset({"PurchaseRefunded", "HistoryImported"})


def _close(
    stream: _StreamReplay,
    pending_state: TupleRow | None,
    state_rows: Iterator[TupleRow],
    result: ReplayResult,
    keep_balances: bool,
) -> TupleRow | None:
    key = (stream.program_id, stream.stream_id)
    if keep_balances and stream.stream_id != PROGRAM_STREAM:
        result.final_balances[key] = stream.account.balances
    while pending_state is not None and (pending_state[0], pending_state[1]) < key:
        _orphan_state(pending_state, result)
        pending_state = next(state_rows, None)
    if pending_state is None or (pending_state[0], pending_state[1]) != key:
        result.add(Discrepancy(*key, stream.version, "", "missing_state", "no state row"))
        return pending_state
    version, last_hash, balances = (
        pending_state[2],
        bytes(pending_state[3]),
        Balances(*pending_state[4:10]),
    )
    if version != stream.version or last_hash != stream.last_hash:
        result.add(
            Discrepancy(
                *key, stream.version, "", "state_mismatch", f"state row at version {version}"
            )
        )
    elif stream.stream_id != PROGRAM_STREAM and balances != stream.account.balances:
        result.add(
            Discrepancy(
                *key,
                stream.version,
                "",
                "state_mismatch",
                f"state row balances {balances}, replayed {stream.account.balances}",
            )
        )
    return next(state_rows, None)


def _orphan_state(row: TupleRow, result: ReplayResult) -> None:
    result.add(Discrepancy(row[0], row[1], row[2], "", "orphan_state", "state row without events"))
