"""The PostgreSQL event store: load, append, read in stream and global order.

Every method is one round trip (load pipelines its two queries). Connections come from a
psycopg pool in autocommit mode: each statement is its own transaction, and an append is
a single statement, so there is never an open transaction between round trips.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from ledger.domain.account import Balances
from ledger.domain.clock import instant
from ledger.store.chain import canonical_json
from ledger.store.errors import translate
from ledger.store.records import (
    EventRecord,
    Position,
    RequestRow,
    StreamRow,
    StreamWrite,
)
from ledger.store.sql import query

StreamKey = tuple[str, str]
RequestKey = tuple[str, str, str]

MAX_READ_BATCH = 1_000
"""Events one read returns at most; readers page through longer logs."""

RequestWrite = tuple[str, str, str, bytes, dict[str, Any], datetime]
"""(program_id, stream_id, request_id, request_hash, response, recorded_at)"""


def append_parameters(
    events: Sequence[EventRecord],
    streams: Sequence[StreamWrite],
    requests: Sequence[RequestWrite],
) -> dict[str, Any]:
    """The one JSON document append.sql unpacks. Instants are UTC ISO-8601 strings with
    microseconds and byte strings are hex, so nothing changes on the way through."""
    assert len({(s.program_id, s.stream_id) for s in streams}) == len(streams)
    # Events go in as their canonical JSON (already encoded for the hash) plus the hash.
    event_texts = [
        f'{(e.canonical or canonical_json(e))[:-1]},"hash":"{e.hash.hex()}"}}' for e in events
    ]
    document = {
        "streams": [
            {
                "program_id": s.program_id,
                "stream_id": s.stream_id,
                "version": s.version,
                "last_hash": s.last_hash.hex(),
                "state": s.state,
                "available": s.balances.available,
                "pending": s.balances.pending,
                "held": s.balances.held,
                "earned": s.balances.lifetime_earned,
                "redeemed": s.balances.lifetime_redeemed,
                "expired": s.balances.expired,
                "next_due_at": s.next_due_at,
                "updated_at": instant(s.updated_at),
            }
            for s in streams
        ],
        "requests": [
            {
                "program_id": r[0],
                "stream_id": r[1],
                "request_id": r[2],
                "request_hash": r[3].hex(),
                "response": r[4],
                "recorded_at": instant(r[5]),
            }
            for r in requests
        ],
    }
    # orjson: the state rows hold whole account snapshots, and this runs once per batch on
    # the write path; the document is only parsed by PostgreSQL, so any valid JSON will do.
    encoded = orjson.dumps(document).decode("utf-8")
    return {"batch": '{"events":[' + ",".join(event_texts) + "]," + encoded[1:]}


def event_record(row: TupleRow) -> EventRecord:
    return EventRecord(
        program_id=row[0],
        stream_id=row[1],
        version=row[2],
        event_id=row[3],
        event_type=row[4],
        schema_version=row[5],
        data=row[6],
        metadata=row[7],
        recorded_at=row[8],
        balances=Balances(*row[9:15]),
        hash=bytes(row[15]),
        transaction_id=int(row[16]),
        position=row[17],
    )


class EventStore:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    async def load(
        self, streams: Iterable[StreamKey], requests: Iterable[RequestKey]
    ) -> tuple[dict[StreamKey, StreamRow], dict[RequestKey, RequestRow]]:
        stream_keys = list(streams)
        request_keys = list(requests)
        try:
            async with self._pool.connection() as connection, connection.pipeline():
                stream_cursor = await connection.execute(
                    query("load_streams"),
                    {
                        "program_ids": [key[0] for key in stream_keys],
                        "stream_ids": [key[1] for key in stream_keys],
                    },
                )
                request_cursor = await connection.execute(
                    query("load_requests"),
                    {
                        "program_ids": [key[0] for key in request_keys],
                        "stream_ids": [key[1] for key in request_keys],
                        "request_ids": [key[2] for key in request_keys],
                    },
                )
                stream_rows = await stream_cursor.fetchall()
                request_rows = await request_cursor.fetchall()
        except psycopg.Error as error:
            raise translate(error) from error
        loaded_streams = {
            (row[0], row[1]): StreamRow(row[0], row[1], row[2], bytes(row[3]), row[4], row[5])
            for row in stream_rows
        }
        loaded_requests = {
            (row[0], row[1], row[2]): RequestRow(row[0], row[1], row[2], bytes(row[3]), row[4])
            for row in request_rows
        }
        return loaded_streams, loaded_requests

    async def append(
        self,
        events: Sequence[EventRecord],
        streams: Sequence[StreamWrite],
        requests: Sequence[RequestWrite],
    ) -> None:
        """Appends atomically; raises Conflict if any stream moved on since it was loaded."""
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    query("append"), append_parameters(events, streams, requests)
                )
                counts = await cursor.fetchone()
        except psycopg.Error as error:
            raise translate(error) from error
        assert counts == (len(events), len(streams), len(requests)), counts

    async def read_stream(
        self, program_id: str, stream_id: str, after_version: int = 0, limit: int = MAX_READ_BATCH
    ) -> list[EventRecord]:
        return await self._fetch_events(
            "read_stream",
            {
                "program_id": program_id,
                "stream_id": stream_id,
                "after_version": after_version,
                "limit": min(limit, MAX_READ_BATCH),
            },
        )

    async def list_entries(
        self,
        program_id: str,
        stream_id: str,
        *,
        after_version: int,
        limit: int,
        event_types: Sequence[str],
        start_time: datetime | None,
        end_time: datetime | None,
    ) -> list[EventRecord]:
        return await self._fetch_events(
            "list_entries",
            {
                "program_id": program_id,
                "stream_id": stream_id,
                "after_version": after_version,
                "limit": min(limit, MAX_READ_BATCH),
                "event_types": list(event_types),
                "start_time": start_time,
                "end_time": end_time,
            },
        )

    async def read_all(
        self, after: Position, limit: int = MAX_READ_BATCH, program_id: str | None = None
    ) -> list[EventRecord]:
        """Committed events after `after` in global order; never skips one that commits later."""
        return await self._fetch_events(
            "read_all",
            {
                "after_transaction": str(after.transaction_id),
                "after_position": after.position,
                "limit": min(limit, MAX_READ_BATCH),
                "program_id": program_id,
            },
        )

    async def balance_as_of(
        self, program_id: str, stream_id: str, as_of: datetime
    ) -> tuple[int, Balances] | None:
        row = await self._fetch_one(
            "balance_as_of", {"program_id": program_id, "stream_id": stream_id, "as_of": as_of}
        )
        if row is None:
            return None
        return row[0], Balances(*row[1:7])

    async def get_stream(
        self, program_id: str, stream_id: str
    ) -> tuple[int, dict[str, Any], datetime, datetime] | None:
        row = await self._fetch_one(
            "get_account", {"program_id": program_id, "stream_id": stream_id}
        )
        if row is None:
            return None
        return row[0], row[1], row[2], row[3]

    async def due_streams(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    query("due_streams"), {"now": now, "limit": limit}
                )
                return [(row[0], row[1]) for row in await cursor.fetchall()]
        except psycopg.Error as error:
            raise translate(error) from error

    async def _fetch_events(self, name: str, parameters: dict[str, Any]) -> list[EventRecord]:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(query(name), parameters)
                return [event_record(row) for row in await cursor.fetchall()]
        except psycopg.Error as error:
            raise translate(error) from error

    async def _fetch_one(self, name: str, parameters: dict[str, Any]) -> TupleRow | None:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(query(name), parameters)
                row: TupleRow | None = await cursor.fetchone()
                return row
        except psycopg.Error as error:
            raise translate(error) from error
