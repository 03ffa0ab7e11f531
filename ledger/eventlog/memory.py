"""An event log in memory: the EventLog port without a database.

For tests of the ledger's own logic (group commit, retries, caches, the "unsure" paths) in
milliseconds, and for trying the ledger out. Held to the same contract suite as the
PostgreSQL store (tests/contract). Values are copied on the way in and out, as a database
would, so no caller can change what is stored by keeping a reference. One commit at a time
runs between two awaits of the event loop, so appends are atomic and the global order is
simply the order of commits.
"""

import asyncio
import bisect
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from ledger.domain import clock
from ledger.domain.account import Balances
from ledger.domain.errors import Conflict
from ledger.domain.kinds import StreamKey
from ledger.domain.referral_codes import referral_code
from ledger.eventlog.errors import DuplicateRequest, StoreTimeout
from ledger.eventlog.horizon import ReadHorizon
from ledger.eventlog.port import MAX_READ_BATCH, RECORDS_ORDER
from ledger.eventlog.records import (
    Commit,
    EventRecord,
    Loaded,
    OrderKey,
    Position,
    RequestKey,
    RequestRow,
    StreamRow,
)
from ledger.eventlog.schema import SchemaStatus


def _copy(document: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = orjson.loads(orjson.dumps(document))
    return copied


class InMemoryEventLog:
    def __init__(self) -> None:
        self._streams: dict[StreamKey, StreamRow] = {}
        self._due: dict[StreamKey, str] = {}
        self._events: dict[StreamKey, list[EventRecord]] = {}
        self._all: list[EventRecord] = []
        self._requests: dict[RequestKey, RequestRow] = {}
        self._orders: dict[OrderKey, list[EventRecord]] = {}
        self._members: dict[tuple[str, str], tuple[str, datetime]] = {}
        self._fingerprints: dict[tuple[str, str], str] = {}
        """(program, member key) -> keyed fingerprint ("" for none), erased with the link."""
        """(program_id, member_id) -> (member key, linked at)"""
        self._commits = 0
        self.appends = 0
        """Commits accepted, for tests that count round trips."""
        self.loads = 0

    async def load(
        self,
        streams: Collection[StreamKey],
        requests: Collection[RequestKey],
        orders: Collection[OrderKey] = (),
        *,
        deadline: float | None = None,
    ) -> Loaded:
        await _turn(deadline)
        self.loads += 1
        return Loaded(
            streams={key: self._row(key) for key in streams if key in self._streams},
            requests={
                key: replace(self._requests[key], response=_copy(self._requests[key].response))
                for key in requests
                if key in self._requests
            },
            orders={key: self._order_events(key) for key in orders},
        )

    async def append(self, commit: Commit, *, deadline: float | None = None) -> None:
        await _turn(deadline)
        next_version: dict[StreamKey, int] = {}
        recorded: set[OrderKey] = set()
        for event in commit.events:
            key = event.stream
            expected = next_version.get(key, len(self._events.get(key, ())) + 1)
            if event.version != expected:
                # A writer that read the stream at an older version appends versions that
                # exist: the PostgreSQL store's primary key refuses them the same way.
                assert event.version < expected, f"version gap in {key}: {event.version}"
                raise Conflict("another writer appended to the stream first")
            next_version[key] = expected + 1
            if event.event_type == RECORDS_ORDER:
                order = (key, event.data["order_id"])
                if order in recorded or self._recorded(order):
                    # The PostgreSQL store's unique index events_recorded_orders refuses it so.
                    raise Conflict("another writer recorded the order first")
                recorded.add(order)
        for write in commit.requests:
            if write.key in self._requests:
                raise DuplicateRequest(write.request_id)
        self._commits += 1
        self.appends += 1
        for position, event in enumerate(commit.events, start=len(self._all) + 1):
            stored = replace(
                event,
                data=_copy(event.data),
                metadata=_copy(event.metadata),
                transaction_id=self._commits,
                position=position,
                canonical="",
            )
            self._events.setdefault(event.stream, []).append(stored)
            self._all.append(stored)
            order_id = stored.data.get("order_id")
            if isinstance(order_id, str):
                self._orders.setdefault((event.stream, order_id), []).append(stored)
        for stream in commit.streams:
            key = (stream.program_id, stream.stream_id)
            known = self._streams.get(key)
            self._streams[key] = StreamRow(
                stream.program_id,
                stream.stream_id,
                stream.version,
                stream.last_hash,
                _copy(stream.state),
                known.created_at if known else stream.updated_at,
                stream.updated_at,
            )
            if stream.next_due_at is None:
                self._due.pop(key, None)
            else:
                self._due[key] = stream.next_due_at
        for write in commit.requests:
            self._requests[write.key] = RequestRow(
                write.program_id,
                write.stream_id,
                write.request_id,
                write.request_hash,
                _copy(write.response),
                write.recorded_at,
            )
        for program_id, member_key in commit.erasures:
            self._fingerprints.pop((program_id, member_key), None)
            for link, (linked_key, _) in list(self._members.items()):
                if link[0] == program_id and linked_key == member_key:
                    del self._members[link]
            for request_key in [k for k in self._requests if k[:2] == (program_id, member_key)]:
                del self._requests[request_key]

    async def member_keys(
        self, program_id: str, member_ids: Collection[str], *, deadline: float | None = None
    ) -> dict[str, str]:
        await _turn(deadline)
        return {
            member_id: self._members[(program_id, member_id)][0]
            for member_id in member_ids
            if (program_id, member_id) in self._members
        }

    async def link_members(
        self,
        program_id: str,
        proposed: Mapping[str, str],
        *,
        fingerprints: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> dict[str, str]:
        await _turn(deadline)
        taken = {(link[0], key) for link, (key, _) in self._members.items()}
        for member_id, key in proposed.items():
            if (program_id, member_id) not in self._members and (program_id, key) not in taken:
                self._members[(program_id, member_id)] = (key, datetime.now(UTC))
                self._fingerprints[(program_id, key)] = (fingerprints or {}).get(member_id, "")
                taken.add((program_id, key))
        return await self.member_keys(program_id, proposed)

    async def member_by_referral_code(
        self, program_id: str, code: str, *, deadline: float | None = None
    ) -> tuple[str, str] | None:
        await _turn(deadline)
        for link, (key, _) in self._members.items():
            if link[0] == program_id and referral_code(program_id, key) == code:
                return key, self._fingerprints.get((program_id, key), "")
        return None

    async def member_ids(
        self, keys: Collection[StreamKey], *, deadline: float | None = None
    ) -> dict[StreamKey, str]:
        await _turn(deadline)
        wanted = set(keys)
        return {
            (link[0], key): link[1]
            for link, (key, _) in self._members.items()
            if (link[0], key) in wanted
        }

    async def expire_answers(self, recorded_before: datetime, limit: int) -> int:
        await _turn(None)
        old = sorted(
            (row.recorded_at, key)
            for key, row in self._requests.items()
            if row.recorded_at < recorded_before
        )[:limit]
        for _, key in old:
            del self._requests[key]
        return len(old)

    async def unlink_strays(self, linked_before: datetime, since: datetime, limit: int) -> int:
        await _turn(None)
        strays = [
            link
            for link, (key, linked_at) in self._members.items()
            if since <= linked_at < linked_before and (link[0], key) not in self._streams
        ][:limit]
        for link in strays:
            del self._members[link]
        return len(strays)

    async def get_stream(
        self, key: StreamKey, *, deadline: float | None = None
    ) -> StreamRow | None:
        await _turn(deadline)
        return self._row(key) if key in self._streams else None

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
        await _turn(deadline)
        found = [
            event
            for event in self._events.get(key, ())[max(after_version, 0) :]
            if (not event_types or event.event_type in event_types)
            and (start_time is None or event.recorded_at >= start_time)
            and (end_time is None or event.recorded_at < end_time)
        ]
        return found[: min(limit, MAX_READ_BATCH)]

    async def balance_as_of(
        self, key: StreamKey, as_of: datetime, *, deadline: float | None = None
    ) -> tuple[int, Balances] | None:
        await _turn(deadline)
        before = [event for event in self._events.get(key, ()) if event.recorded_at <= as_of]
        if not before:
            return None
        last = max(before, key=lambda event: (event.recorded_at, event.version))
        return last.version, last.balances

    async def read_all(
        self,
        after: Position,
        limit: int = MAX_READ_BATCH,
        program_id: str | None = None,
        *,
        deadline: float | None = None,
    ) -> list[EventRecord]:
        await _turn(deadline)
        found: list[EventRecord] = []
        start = bisect.bisect_right(self._all, after, key=Position.of)
        for index in range(start, len(self._all)):
            if len(found) >= min(limit, MAX_READ_BATCH):
                break
            event = self._all[index]
            if program_id is None or event.program_id == program_id:
                found.append(event)
        return found

    async def head(self) -> Position:
        await _turn(None)
        return Position.of(self._all[-1]) if self._all else Position()

    async def newest_committed(self) -> Position:
        """The head: nothing is ever held back here (read_horizon says why)."""
        return await self.head()

    async def read_horizon(self) -> ReadHorizon:
        """Commits are atomic between two turns of the event loop: nothing is ever held
        back."""
        await _turn(None)
        return ReadHorizon(self._commits + 1, self._commits + 1, 0, None)

    async def due_streams(self, now: datetime, limit: int) -> list[StreamKey]:
        await _turn(None)
        current = clock.instant(now)
        due = sorted((at, key) for key, at in self._due.items() if at <= current)
        return [key for _, key in due[:limit]]

    async def ping(self, *, deadline: float | None = None) -> None:
        await _turn(deadline)

    async def schema_status(self, *, deadline: float | None = None) -> SchemaStatus:
        """Memory has no schema to migrate: always current."""
        await _turn(deadline)
        return SchemaStatus(frozenset(), frozenset())

    def _row(self, key: StreamKey) -> StreamRow:
        row = self._streams[key]
        return replace(row, state=_copy(row.state))

    def _order_events(self, key: OrderKey) -> list[EventRecord]:
        return list(self._orders.get(key, ()))

    def _recorded(self, order: OrderKey) -> bool:
        return any(e.event_type == RECORDS_ORDER for e in self._orders.get(order, ()))


async def _turn(deadline: float | None) -> None:
    """One turn of the event loop, as a round trip to a database would give."""
    if deadline is not None and time.monotonic() >= deadline:
        raise StoreTimeout("the caller's deadline passed")
    await asyncio.sleep(0)
