"""The event log on PostgreSQL: the EventLog port (ledger/eventlog/port.py) over a pool.

Every method is one round trip (load pipelines its three queries). Connections come from a
psycopg pool in autocommit mode: each statement is its own transaction, and an append is a
single statement, so there is never an open transaction between round trips.

A caller's deadline bounds each call: past it the call is cancelled, and psycopg cancels the
statement on the server too (it sends a cancel request when its task is cancelled), so no
query outlives the caller that waits for it. The pool's statement_timeout bounds the rest.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from ledger.codec.batch import append_document
from ledger.domain.account import Balances
from ledger.domain.kinds import StreamKey
from ledger.domain.referral_codes import referral_code
from ledger.eventlog.errors import StoreTimeout
from ledger.eventlog.horizon import ReadHorizon
from ledger.eventlog.port import MAX_READ_BATCH
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
from ledger.store.errors import translate
from ledger.store.horizon import read_horizon
from ledger.store.migrate import migration_names
from ledger.store.sql import query


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


def _stream_row(row: TupleRow) -> StreamRow:
    return StreamRow(row[0], row[1], row[2], bytes(row[3]), row[4], row[5], row[6])


@contextlib.asynccontextmanager
async def _within(deadline: float | None) -> AsyncIterator[None]:
    """Cancels the block at `deadline` (time.monotonic()); database errors become the event
    log's errors."""
    try:
        if deadline is None:
            yield
        else:
            loop = asyncio.get_running_loop()
            async with asyncio.timeout_at(loop.time() + deadline - time.monotonic()):
                yield
    except TimeoutError:
        raise StoreTimeout("the caller's deadline passed") from None
    except psycopg.Error as error:
        raise translate(error) from error


class PostgresEventLog:
    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        *,
        health_pool: AsyncConnectionPool[Any] | None = None,
    ) -> None:
        """`health_pool`: the schema check's own connection. Through the shared pool, calls
        that held every connection made a database that answered look down, and readiness
        would then take every busy server out of the Service at once."""
        self._pool = pool
        self._health_pool = health_pool or pool

    async def load(
        self,
        streams: Collection[StreamKey],
        requests: Collection[RequestKey],
        orders: Collection[OrderKey] = (),
        *,
        deadline: float | None = None,
    ) -> Loaded:
        stream_keys = list(streams)
        request_keys = list(requests)
        order_keys = list(orders)
        async with (
            _within(deadline),
            self._pool.connection() as connection,
            connection.pipeline(),
        ):
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
            order_cursor = (
                await connection.execute(
                    query("load_orders"),
                    {
                        "program_ids": [key[0][0] for key in order_keys],
                        "stream_ids": [key[0][1] for key in order_keys],
                        "order_ids": [key[1] for key in order_keys],
                    },
                )
                if order_keys
                else None
            )
            stream_rows = await stream_cursor.fetchall()
            request_rows = await request_cursor.fetchall()
            order_rows = await order_cursor.fetchall() if order_cursor else []
        found_orders: dict[OrderKey, list[EventRecord]] = {key: [] for key in order_keys}
        for row in order_rows:
            found_orders[((row[0], row[1]), row[18])].append(event_record(row))
        return Loaded(
            streams={(row[0], row[1]): _stream_row(row) for row in stream_rows},
            requests={
                (row[0], row[1], row[2]): RequestRow(
                    row[0], row[1], row[2], bytes(row[3]), row[4], row[5]
                )
                for row in request_rows
            },
            orders=found_orders,
        )

    async def append(self, commit: Commit, *, deadline: float | None = None) -> None:
        async with _within(deadline), self._pool.connection() as connection:
            if not commit.erasures:
                cursor = await connection.execute(
                    query("append"), {"batch": append_document(commit)}
                )
                counts = await cursor.fetchone()
            else:
                # A member forgotten: the append and the erasure of its link and answers
                # commit together, so no write lands between them (README "Personal data").
                async with connection.transaction():
                    cursor = await connection.execute(
                        query("append"), {"batch": append_document(commit)}
                    )
                    counts = await cursor.fetchone()
                    await connection.execute(
                        query("erase_members"),
                        {
                            "program_ids": [key[0] for key in commit.erasures],
                            "member_keys": [key[1] for key in commit.erasures],
                        },
                    )
        assert counts == (len(commit.events), len(commit.streams), len(commit.requests)), counts

    async def member_keys(
        self, program_id: str, member_ids: Collection[str], *, deadline: float | None = None
    ) -> dict[str, str]:
        async with _within(deadline), self._pool.connection() as connection:
            cursor = await connection.execute(
                query("member_keys"), {"program_id": program_id, "member_ids": list(member_ids)}
            )
            return {row[0]: row[1] for row in await cursor.fetchall()}

    async def link_members(
        self,
        program_id: str,
        proposed: Mapping[str, str],
        *,
        fingerprints: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> dict[str, str]:
        fingerprints = fingerprints or {}
        async with _within(deadline), self._pool.connection() as connection:
            cursor = await connection.execute(
                query("link_members"),
                {
                    "program_id": program_id,
                    "member_ids": list(proposed),
                    "member_keys": list(proposed.values()),
                    "referral_codes": [referral_code(program_id, key) for key in proposed.values()],
                    "fingerprints": [fingerprints.get(member_id, "") for member_id in proposed],
                },
            )
            linked = {row[0]: row[1] for row in await cursor.fetchall()}
            missing = [member_id for member_id in proposed if member_id not in linked]
            if missing:
                cursor = await connection.execute(
                    query("member_keys"), {"program_id": program_id, "member_ids": missing}
                )
                linked.update({row[0]: row[1] for row in await cursor.fetchall()})
        return linked

    async def member_by_referral_code(
        self, program_id: str, code: str, *, deadline: float | None = None
    ) -> tuple[str, str] | None:
        async with _within(deadline), self._pool.connection() as connection:
            cursor = await connection.execute(
                query("member_by_referral_code"),
                {"program_id": program_id, "referral_code": code},
            )
            row = await cursor.fetchone()
        return None if row is None else (row[0], row[1])

    async def member_ids(
        self, keys: Collection[StreamKey], *, deadline: float | None = None
    ) -> dict[StreamKey, str]:
        wanted = list(keys)
        async with _within(deadline), self._pool.connection() as connection:
            cursor = await connection.execute(
                query("member_ids"),
                {
                    "program_ids": [key[0] for key in wanted],
                    "member_keys": [key[1] for key in wanted],
                },
            )
            return {(row[0], row[1]): row[2] for row in await cursor.fetchall()}

    async def expire_answers(self, recorded_before: datetime, limit: int) -> int:
        async with _within(None), self._pool.connection() as connection:
            cursor = await connection.execute(
                query("expire_answers"), {"before": recorded_before, "limit": limit}
            )
            return int(cursor.rowcount)

    async def unlink_strays(self, linked_before: datetime, since: datetime, limit: int) -> int:
        async with _within(None), self._pool.connection() as connection:
            cursor = await connection.execute(
                query("unlink_strays"),
                {"before": linked_before, "since": since, "limit": limit},
            )
            return int(cursor.rowcount)

    async def get_stream(
        self, key: StreamKey, *, deadline: float | None = None
    ) -> StreamRow | None:
        row = await self._fetch_one(
            "get_stream", {"program_id": key[0], "stream_id": key[1]}, deadline
        )
        return None if row is None else _stream_row(row)

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
        return await self._fetch_events(
            "list_entries",
            {
                "program_id": key[0],
                "stream_id": key[1],
                "after_version": after_version,
                "limit": min(limit, MAX_READ_BATCH),
                "event_types": list(event_types),
                "start_time": start_time,
                "end_time": end_time,
            },
            deadline,
        )

    async def read_all(
        self,
        after: Position,
        limit: int = MAX_READ_BATCH,
        program_id: str | None = None,
        *,
        deadline: float | None = None,
    ) -> list[EventRecord]:
        return await self._fetch_events(
            "read_all",
            {
                "after_transaction": str(after.transaction_id),
                "after_position": after.position,
                "limit": min(limit, MAX_READ_BATCH),
                "program_id": program_id,
            },
            deadline,
        )

    async def balance_as_of(
        self, key: StreamKey, as_of: datetime, *, deadline: float | None = None
    ) -> tuple[int, Balances] | None:
        row = await self._fetch_one(
            "balance_as_of",
            {"program_id": key[0], "stream_id": key[1], "as_of": as_of},
            deadline,
        )
        if row is None:
            return None
        return row[0], Balances(*row[1:7])

    async def head(self) -> Position:
        row = await self._fetch_one("global_head", {}, None)
        return Position() if row is None else Position(int(row[0]), row[1])

    async def newest_committed(self) -> Position:
        row = await self._fetch_one("newest_committed", {}, None)
        return Position() if row is None else Position(int(row[0]), row[1])

    async def read_horizon(self) -> ReadHorizon:
        return await read_horizon(self._pool)

    async def due_streams(self, now: datetime, limit: int) -> list[StreamKey]:
        async with _within(None), self._pool.connection() as connection:
            cursor = await connection.execute(query("due_streams"), {"now": now, "limit": limit})
            return [(row[0], row[1]) for row in await cursor.fetchall()]

    async def ping(self, *, deadline: float | None = None) -> None:
        await self._fetch_one("ping", {}, deadline)

    async def schema_status(self, *, deadline: float | None = None) -> SchemaStatus:
        expected = migration_names()
        async with _within(deadline), self._health_pool.connection() as connection:
            try:
                cursor = await connection.execute(query("schema_migrations"))
            except pg_errors.UndefinedTable:
                # No migration has reached this database: its bookkeeping comes with the first.
                return SchemaStatus(expected, frozenset())
            except pg_errors.InsufficientPrivilege:
                # The role may read it only once migration 0008 has run (or the schema's
                # grants of 0003 before it): behind either way.
                return SchemaStatus(expected, frozenset(), readable=False)
            return SchemaStatus(expected, frozenset(row[0] for row in await cursor.fetchall()))

    async def _fetch_events(
        self, name: str, parameters: dict[str, Any], deadline: float | None
    ) -> list[EventRecord]:
        async with _within(deadline), self._pool.connection() as connection:
            cursor = await connection.execute(query(name), parameters)
            return [event_record(row) for row in await cursor.fetchall()]

    async def _fetch_one(
        self, name: str, parameters: dict[str, Any], deadline: float | None
    ) -> TupleRow | None:
        async with _within(deadline), self._pool.connection() as connection:
            cursor = await connection.execute(query(name), parameters)
            row: TupleRow | None = await cursor.fetchone()
            return row
