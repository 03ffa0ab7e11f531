"""The global order as the event feed reads it: pages after a position, and where it ends.

Kept apart from EventStore so the feed depends on two reads only (ledger.feed.GlobalOrder).
"""

from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from ledger.store.errors import translate
from ledger.store.eventstore import MAX_READ_BATCH, event_record
from ledger.store.records import EventRecord, Position
from ledger.store.sql import query


class PostgresGlobalOrder:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    async def read_all(
        self, after: Position, limit: int, program_id: str | None = None
    ) -> list[EventRecord]:
        """Committed events after `after` in global order, below the read horizon."""
        parameters = {
            "after_transaction": str(after.transaction_id),
            "after_position": after.position,
            "limit": min(limit, MAX_READ_BATCH),
            "program_id": program_id,
        }
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(query("read_all"), parameters)
                return [event_record(row) for row in await cursor.fetchall()]
        except psycopg.Error as error:
            raise translate(error) from error

    async def head(self) -> Position:
        """The last event below the read horizon; (0, 0) on an empty log."""
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(query("global_head"))
                row = await cursor.fetchone()
        except psycopg.Error as error:
            raise translate(error) from error
        return Position() if row is None else Position(int(row[0]), row[1])
