"""The read horizon report (ledger/eventlog/horizon.py) from PostgreSQL's own views."""

from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from ledger.eventlog.horizon import MAX_HIDDEN_EVENTS_COUNTED, HorizonHolder, ReadHorizon
from ledger.store.errors import translate
from ledger.store.sql import query


async def read_horizon(pool: AsyncConnectionPool[Any]) -> ReadHorizon:
    try:
        async with pool.connection() as connection:
            cursor = await connection.execute(
                query("read_horizon"), {"max_hidden": MAX_HIDDEN_EVENTS_COUNTED}
            )
            row = await cursor.fetchone()
    except psycopg.Error as error:
        raise translate(error) from error
    assert row is not None, "the report is one row"
    (horizon, next_id, hidden, kind, pid, database, role, application, state, xid, age, gid) = row
    holder = None
    if kind is not None:
        holder = HorizonHolder(
            kind=kind,
            database=database,
            role=role,
            transaction_id=int(xid),
            open_seconds=age,
            pid=pid,
            application=application,
            state=state,
            gid=gid,
        )
    return ReadHorizon(int(horizon), int(next_id), int(hidden), holder)
