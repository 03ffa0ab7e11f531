"""Replays the log from PostgreSQL: verifies every stream's hash chain, that versions are
contiguous, that the domain's invariants hold after every event, and that the balances stored
on each event and on each stream's state row equal the ones recomputed from the events alone.

The events of a range of streams arrive through a cursor, stream after stream, a batch of rows
at a time, so memory holds one stream's state and one batch of rows whatever the size of the
log. Any discrepancy names the stream, the version and the event id.
"""

import gc
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import count, pairwise
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from ledger.codec import events as event_codec
from ledger.codec.chain import (
    GENESIS_HASH,
    balances_tuple,
    canonical_from_texts,
    hash_of,
    json_string,
)
from ledger.codec.events import UnknownEventType
from ledger.domain.account import Balances
from ledger.domain.kinds import ACCOUNT, Kind, kind_of
from ledger.store.sql import query

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized

CURSOR_BATCH = 2_000
"""Rows fetched from the server per round trip while replaying: a few MB of rows in memory at
a time, and as fast as 5,000. The events come through a binary cursor rather than a COPY:
psycopg turns a fetched batch into rows in C, where a COPY costs a Python generator round per
row (about 2 us more per event; a parallel replay on two cores ran about 8% slower)."""
MAX_WORKERS = 64
RANGES_PER_WORKER = 8
"""A parallel replay cuts the log into this many key ranges per worker, taken in turn by
whichever worker is free, so one that starts later or draws a long stream takes fewer."""
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


StreamKey = tuple[str, str]


@dataclass(frozen=True)
class _Range:
    """Stream keys from `start` (inclusive) to `stop` (exclusive); None is unbounded."""

    start: StreamKey | None
    stop: StreamKey | None

    def parameters(self, program_id: str | None) -> dict[str, str | None]:
        return {
            "program_id": program_id,
            "from_program": self.start[0] if self.start else None,
            "from_stream": self.start[1] if self.start else None,
            "to_program": self.stop[0] if self.stop else None,
            "to_stream": self.stop[1] if self.stop else None,
        }


@dataclass
class _StreamReplay:
    program_id: str
    stream_id: str
    program_json: str
    stream_json: str
    version: int = 0
    kind: Kind[Any] | None = None
    """None when the stream id names no kind (reported, and the stream is not folded)."""
    state: Any = None
    last_hash: bytes = GENESIS_HASH
    broken: bool = False
    """After a chain or decoding break, later checks of the stream would only repeat it."""


def replay(
    conninfo: str,
    program_id: str | None = None,
    *,
    keep_balances: bool = False,
    workers: int = 1,
) -> ReplayResult:
    """Replays the log (or one program's streams). With `workers` > 1 the streams are cut
    into key ranges of about equal numbers of events, which this process and `workers` - 1
    others take in turn. Every connection reads one exported snapshot, so the result is the
    same as one process's, as of one instant."""
    assert 1 <= workers <= MAX_WORKERS
    with ExitStack() as stack:
        pool: ProcessPoolExecutor | None = None
        if workers > 1:
            context = get_context(worker_start_method())
            taken = context.Value("i", 0)
            pool = stack.enter_context(
                ProcessPoolExecutor(
                    workers - 1, mp_context=context, initializer=_share, initargs=(taken,)
                )
            )
            # The workers start now, before this process opens any connection: a forked one
            # then holds no socket of ours, and a spawned one starts up while we connect.
            pool.submit(int)
        coordinator = stack.enter_context(psycopg.connect(conninfo))
        stack.enter_context(coordinator.transaction())
        coordinator.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        exported = coordinator.execute("SELECT pg_export_snapshot()").fetchone()
        assert exported is not None
        job = _Job(
            conninfo,
            program_id,
            keep_balances,
            exported[0],
            _ranges(coordinator, program_id, workers * RANGES_PER_WORKER if workers > 1 else 1),
        )
        if pool is None:
            parts = [_work(job, count().__next__)]
        else:
            others = [pool.submit(_work_in_pool, job) for _ in range(workers - 1)]
            # This process replays too, taking ranges while the others start up.
            parts = [_work(job, partial(_take, taken))]
            parts += [other.result() for other in others]
    merged = ReplayResult()
    for part in parts:
        merged.streams += part.streams
        merged.events += part.events
        merged.final_balances.update(part.final_balances)
        merged.discrepancy_count += part.discrepancy_count
        merged.discrepancies += part.discrepancies
    # Ranges go to whichever worker is free: sorted, the report is the same on every run.
    merged.discrepancies.sort(key=lambda found: (found.program_id, found.stream_id, found.version))
    del merged.discrepancies[MAX_REPORTED:]
    return merged


@dataclass(frozen=True)
class _Job:
    conninfo: str
    program_id: str | None
    keep_balances: bool
    snapshot: str
    ranges: list[_Range]


def worker_start_method() -> str:
    """fork where it is safe (Linux, and no other thread in this process, Python's or a C
    library's, that a child could inherit mid-operation): the workers then start without
    importing anything again."""
    if sys.platform == "linux" and threading.active_count() == 1 and _os_threads() == 1:
        return "fork"
    return "spawn"


def _os_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0  # unknown: not safe to fork


def _ranges(
    connection: psycopg.Connection[TupleRow], program_id: str | None, parts: int
) -> list[_Range]:
    if parts == 1:
        return [_Range(None, None)]
    cuts: list[StreamKey | None] = [
        (row[0], row[1])
        for row in connection.execute(
            query("audit_ranges"), {"program_id": program_id, "parts": parts}
        )
    ]
    bounds = [None, *cuts, None]
    return [_Range(start, stop) for start, stop in pairwise(bounds)]


_taken: "Synchronized[int] | None" = None
"""In a pool worker: how many of the job's ranges have been taken, shared by all workers."""


def _share(taken: "Synchronized[int]") -> None:
    global _taken  # noqa: PLW0603 (set once per pool process, by its initializer)
    _taken = taken


def _take(taken: "Synchronized[int]") -> int:
    with taken.get_lock():
        index: int = taken.value
        taken.value = index + 1
    return index


def _work_in_pool(job: _Job) -> ReplayResult:
    assert _taken is not None
    return _work(job, partial(_take, _taken))


def _work(job: _Job, take: Callable[[], int]) -> ReplayResult:
    """Replays ranges of `job`, as `take` hands out their indexes, until none is left."""
    with _collector_paused():
        return _work_ranges(job, take)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The fold makes no reference cycles, yet allocates several objects per event: the
    cyclic collector's passes over them would only cost time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _work_ranges(job: _Job, take: Callable[[], int]) -> ReplayResult:
    result = ReplayResult()
    # Two connections on one snapshot, so fetching state rows never waits behind a batch of
    # events on the same connection.
    with (
        _snapshot_connection(job.conninfo, job.snapshot) as events_connection,
        _snapshot_connection(job.conninfo, job.snapshot) as states_connection,
    ):
        while (index := take()) < len(job.ranges):
            parameters = job.ranges[index].parameters(job.program_id)
            with (
                states_connection.cursor(name="audit_streams") as states,
                events_connection.cursor(name="audit_events", binary=True) as events,
            ):
                states.itersize = events.itersize = CURSOR_BATCH
                states.execute(query("audit_streams"), parameters)
                events.execute(query("audit_events"), parameters)
                _merge(iter(events), states, result, job.keep_balances)
    return result


@contextmanager
def _snapshot_connection(conninfo: str, snapshot: str) -> Iterator[psycopg.Connection[TupleRow]]:
    with psycopg.connect(conninfo) as connection, connection.transaction():
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        connection.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        # The replay is parallel already; the server's parallel workers for each range's
        # query would only add process start-ups competing for the same cores.
        connection.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield connection


def _merge(
    events: Iterator[tuple[Any, ...]],
    states: Iterator[TupleRow],
    result: ReplayResult,
    keep_balances: bool,
) -> None:
    state_rows = iter(states)
    pending_state: TupleRow | None = next(state_rows, None)
    current: _StreamReplay | None = None
    for row in events:
        if current is None or current.stream_id != row[1] or current.program_id != row[0]:
            if current is not None:
                pending_state = _close(current, pending_state, state_rows, result, keep_balances)
            current = _StreamReplay(row[0], row[1], json_string(row[0]), json_string(row[1]))
            try:
                current.kind = kind_of(row[1])
                current.state = current.kind.initial()
            except ValueError as error:
                _report(result, current, row, "unreplayable", str(error))
                current.broken = True
            result.streams += 1
        result.events += 1
        _check_event(current, row, result)
    if current is not None:
        pending_state = _close(current, pending_state, state_rows, result, keep_balances)
    while pending_state is not None:
        _orphan_state(pending_state, result)
        pending_state = next(state_rows, None)


def _check_event(stream: _StreamReplay, row: tuple[Any, ...], result: ReplayResult) -> None:
    (_, _, version, event_id, event_type, schema_version, data_text, metadata_text) = row[:8]
    if version != stream.version + 1:
        _report(result, stream, row, "version_gap", f"expected version {stream.version + 1}")
    stream.version = version
    if stream.broken:
        return
    stored_balances = row[9:15]
    canonical = canonical_from_texts(
        stream.program_json,
        stream.stream_json,
        version,
        event_id,
        json_string(event_type),
        schema_version,
        data_text,
        metadata_text,
        row[8],
        stored_balances,
    )
    stored_hash = row[15]
    if hash_of(stream.last_hash, canonical) != stored_hash:
        _report(
            result, stream, row, "hash_mismatch", "stored hash differs from the recomputed chain"
        )
        stream.broken = True
        return
    stream.last_hash = stored_hash
    kind = stream.kind
    assert kind is not None
    try:
        event = event_codec.decode(event_type, schema_version, orjson.loads(data_text))
        available_before = kind.balances(stream.state).available
        stream.state = kind.evolve(stream.state, event)
        kind.check_invariants(stream.state)
    except (UnknownEventType, KeyError, TypeError, ValueError, AssertionError) as error:
        _report(result, stream, row, "unreplayable", f"{type(error).__name__}: {error}")
        stream.broken = True
        return
    balances = kind.balances(stream.state)
    if balances_tuple(balances) != stored_balances:
        _report(
            result,
            stream,
            row,
            "balance_mismatch",
            f"recomputed {balances}, stored {Balances(*stored_balances)}",
        )
    if (
        balances.available < 0
        and balances.available < available_before
        and event_type not in _MAY_GO_NEGATIVE
    ):
        _report(
            result,
            stream,
            row,
            "negative_balance",
            "available went below zero without a recorded reason",
        )


def _report(
    result: ReplayResult, stream: _StreamReplay, row: tuple[Any, ...], kind: str, detail: str
) -> None:
    result.add(Discrepancy(stream.program_id, stream.stream_id, row[2], row[3], kind, detail))


_MAY_GO_NEGATIVE = frozenset({"PurchaseRefunded", "HistoryImported"})


def _close(
    stream: _StreamReplay,
    pending_state: TupleRow | None,
    state_rows: Iterator[TupleRow],
    result: ReplayResult,
    keep_balances: bool,
) -> TupleRow | None:
    key = (stream.program_id, stream.stream_id)
    if keep_balances and stream.kind is ACCOUNT:
        result.final_balances[key] = ACCOUNT.balances(stream.state)
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
    elif stream.kind is not None and not stream.broken:
        replayed = stream.kind.balances(stream.state)
        if balances != replayed:
            result.add(
                Discrepancy(
                    *key,
                    stream.version,
                    "",
                    "state_mismatch",
                    f"state row balances {balances}, replayed {replayed}",
                )
            )
    return next(state_rows, None)


def _orphan_state(row: TupleRow, result: ReplayResult) -> None:
    result.add(Discrepancy(row[0], row[1], row[2], "", "orphan_state", "state row without events"))
