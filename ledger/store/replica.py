"""Reads of one stream from a streaming replica, within a staleness bound, and never older
than what this process wrote.

A monitor samples the primary's WAL position (`pg_current_wal_lsn()`) and the replica's
replayed one (`pg_last_wal_replay_lsn()`) every `interval`. A sample taken at time t whose
position the replica has replayed proves the replica holds every transaction acknowledged
before t: `caught_up_at` is the latest such t. A read of a stream goes to the replica only
when both hold:

- now - caught_up_at <= max_staleness: whatever it misses was acknowledged less than the
  bound ago (a replica that stops replaying, or a monitor that stops answering, ages out);
- caught_up_at >= the time this process last acknowledged a write to that stream: a caller
  that wrote through this process reads its write (read-your-writes), whatever the bound.

Everything else (commands' loads and appends, member links, the global order, the sweep) stays
on the primary: this class only overrides the per-stream reads of PostgresEventLog.
"""

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from ledger.domain.account import Balances
from ledger.domain.kinds import StreamKey
from ledger.eventlog.errors import StoreUnavailable
from ledger.eventlog.records import Commit, EventRecord, StreamRow
from ledger.projections.stage_view import MemberStageRow
from ledger.store.eventstore import PostgresEventLog
from ledger.store.sql import query
from ledger.store.stage_reader import PostgresStageReader

MAX_STALENESS = timedelta(seconds=1)
"""How far behind the primary a replica read may be, by default (LEDGER_READ_MAX_STALENESS_MS)."""
SAMPLE_INTERVAL = timedelta(milliseconds=50)
"""How often the monitor compares the two positions: the bound is met this much more tightly."""
REMEMBERED_WRITES = 100_000
"""Streams whose last write time this process keeps; an older write is at least as old as
the oldest kept, which the staleness bound covers long before."""
_SAMPLES_KEPT = 1_000


@dataclass
class ReplicaStats:
    replica_reads: int = 0
    primary_reads: int = 0
    """Reads a stale replica, or a write of this process not yet replayed, sent to the primary."""
    samples: int = 0
    failed_samples: int = 0


class ReplicaReadLog(PostgresEventLog):
    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        replica_pool: AsyncConnectionPool[Any],
        *,
        max_staleness: timedelta = MAX_STALENESS,
        interval: timedelta = SAMPLE_INTERVAL,
        health_pool: AsyncConnectionPool[Any] | None = None,
    ) -> None:
        super().__init__(pool, health_pool=health_pool)
        self._replica = PostgresEventLog(replica_pool)
        self._primary_pool = pool
        self._replica_pool = replica_pool
        self._max_staleness = max_staleness.total_seconds()
        self._interval = interval.total_seconds()
        self._caught_up_at = float("-inf")
        self._written: OrderedDict[StreamKey, float] = OrderedDict()
        self._monitor: asyncio.Task[None] | None = None
        self.stats = ReplicaStats()

    # --- the monitor ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._monitor is None:
            self._monitor = asyncio.create_task(self._watch(), name="replica-monitor")

    async def stop(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None

    @property
    def staleness(self) -> float:
        """Seconds since the replica was last seen holding everything acknowledged by then."""
        return time.monotonic() - self._caught_up_at

    @property
    def caught_up_at(self) -> float:
        """The latest time (time.monotonic) before which the replica is known to hold every
        acknowledged transaction."""
        return self._caught_up_at

    async def _watch(self) -> None:
        pending: deque[tuple[float, int]] = deque(maxlen=_SAMPLES_KEPT)
        while True:
            try:
                taken_at = time.monotonic()
                primary = await _position(self._primary_pool, "replica_primary_position")
                pending.append((taken_at, primary))
                replayed = await _position(self._replica_pool, "replica_replayed_position")
                while pending and pending[0][1] <= replayed:
                    self._caught_up_at = max(self._caught_up_at, pending.popleft()[0])
                self.stats.samples += 1
            except (psycopg.Error, OSError):
                # Not caught up as far as anyone can tell: reads age onto the primary.
                self.stats.failed_samples += 1
            await asyncio.sleep(self._interval)

    # --- writes: remembered, so that the writer reads them ----------------------------------

    async def append(self, commit: Commit, *, deadline: float | None = None) -> None:
        await super().append(commit, deadline=deadline)
        acknowledged = time.monotonic()
        for stream in commit.streams:
            key = (stream.program_id, stream.stream_id)
            self._written[key] = acknowledged
            self._written.move_to_end(key)
        while len(self._written) > REMEMBERED_WRITES:
            self._written.popitem(last=False)

    def reads_from_replica(self, key: StreamKey) -> bool:
        """Whether a read of the stream may go to the replica now (counted either way)."""
        caught_up_at = self._caught_up_at
        fresh = time.monotonic() - caught_up_at <= self._max_staleness
        if fresh and caught_up_at >= self._written.get(key, float("-inf")):
            self.stats.replica_reads += 1
            return True
        self.stats.primary_reads += 1
        return False

    # --- the reads of one stream ------------------------------------------------------------
    # A replica that fails a read (gone since the last sample) hands the read to the primary.

    async def get_stream(
        self, key: StreamKey, *, deadline: float | None = None
    ) -> StreamRow | None:
        if self.reads_from_replica(key):
            with contextlib.suppress(StoreUnavailable):
                row = await self._replica.get_stream(key, deadline=deadline)
                # A stream the replica has not seen yet may be one created a moment ago:
                # "no such account" is only ever the primary's answer.
                if row is not None:
                    return row
        return await super().get_stream(key, deadline=deadline)

    async def list_entries(
        self,
        key: StreamKey,
        *,
        after_version: int,
        limit: int,
        event_types: Sequence[str] = (),
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        deadline: float | None = None,
    ) -> list[EventRecord]:
        arguments: dict[str, Any] = {
            "after_version": after_version,
            "limit": limit,
            "event_types": event_types,
            "start_time": start_time,
            "end_time": end_time,
            "deadline": deadline,
        }
        if self.reads_from_replica(key):
            with contextlib.suppress(StoreUnavailable):
                return await self._replica.list_entries(key, **arguments)
        return await super().list_entries(key, **arguments)

    async def balance_as_of(
        self, key: StreamKey, as_of: datetime, *, deadline: float | None = None
    ) -> tuple[int, Balances] | None:
        if self.reads_from_replica(key):
            with contextlib.suppress(StoreUnavailable):
                return await self._replica.balance_as_of(key, as_of, deadline=deadline)
        return await super().balance_as_of(key, as_of, deadline=deadline)


class ReplicaStageReader(PostgresStageReader):
    """GetAccount's gathered reads (an account's state row and its stage row) from the
    replica for the streams the log lets read there; the others, and any the replica does
    not have, from the primary."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        replica_pool: AsyncConnectionPool[Any],
        log: ReplicaReadLog,
    ) -> None:
        super().__init__(pool)
        self._replica = PostgresStageReader(replica_pool)
        self._log = log

    async def accounts_with_stages(
        self, keys: list[StreamKey]
    ) -> dict[StreamKey, tuple[StreamRow, MemberStageRow | None]]:
        there = [key for key in keys if self._log.reads_from_replica(key)]
        found: dict[StreamKey, tuple[StreamRow, MemberStageRow | None]] = {}
        if there:
            with contextlib.suppress(StoreUnavailable):
                found = await self._replica.accounts_with_stages(there)
        rest = [key for key in keys if key not in found]
        if rest:
            found |= await super().accounts_with_stages(rest)
        return found


async def _position(pool: AsyncConnectionPool[Any], name: str) -> int:
    async with pool.connection() as connection:
        cursor = await connection.execute(query(name))
        row = await cursor.fetchone()
    if row is None or row[0] is None:
        # Not a replica (or not replaying): nothing is known to be replayed.
        return -1
    return int(row[0])
