"""The connection pool every store call goes through."""

import time
import weakref
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ledger.eventlog.errors import StoreUnavailable

DEFAULT_STATEMENT_TIMEOUT_MS = 10_000
"""No statement outlives this, whatever the caller; callers' deadlines cut it shorter."""
CONNECTION_WAIT_SECONDS = 2.0
"""A call waits this long for a connection, then fails UNAVAILABLE (retry with the same
request id). A healthy pool hands one out in milliseconds. psycopg_pool's default, 30 s,
held every write for 30 s (and each shard's queue behind it) while the database was down;
see tests/fault/test_restart_postgres.py."""
RECONNECT_GIVE_UP_SECONDS = 10.0
"""One reconnection attempt backs off exponentially (1, 2, 4 ... s) for at most this long,
then the next call starts a fresh one. With psycopg_pool's 5-minute default (or longer) the
back-off grows with the outage, and after a 90 s outage the service stayed NOT_SERVING for
another 30 s although the database was back."""


FRESH_CONNECTION_SECONDS = 1.0
"""A connection handed out this recently is given out again without a check: under load
connections cycle in milliseconds, and a check is a round trip. One idle for longer is
checked first, so after a database restart the stale ones are found and replaced."""


class _FreshnessCheck:
    """The pool's `check` hook: check only connections that sat idle.

    Idle time is counted from when the connection was last handed out, not returned, so the
    pool needs no `reset` hook: with one, psycopg_pool hands every returned connection to a
    maintenance task, a queue hop and a task switch per use (about 20-40 us of CPU each time,
    on the write path once per batch). A connection held longer than the limit is checked
    once more than it strictly needs to be, which costs a round trip and nothing else."""

    def __init__(self) -> None:
        self._handed_out_at: weakref.WeakKeyDictionary[AsyncConnection[Any], float] = (
            weakref.WeakKeyDictionary()
        )

    async def check(self, connection: AsyncConnection[Any]) -> None:
        now = time.monotonic()
        last = self._handed_out_at.get(connection, 0.0)
        self._handed_out_at[connection] = now
        if now - last > FRESH_CONNECTION_SECONDS:
            await AsyncConnectionPool.check_connection(connection)


def make_pool(
    conninfo: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    role: str | None = None,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
) -> AsyncConnectionPool[Any]:
    freshness = _FreshnessCheck()

    async def configure(connection: AsyncConnection[Any]) -> None:
        await connection.set_autocommit(True)
        if role:
            await connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))

    return AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        configure=configure,
        kwargs={"options": f"-c statement_timeout={int(statement_timeout_ms)}"},
        open=False,
        # A broken connection (database restarted, network cut) is replaced, not reused.
        check=freshness.check,
        timeout=CONNECTION_WAIT_SECONDS,
        reconnect_timeout=RECONNECT_GIVE_UP_SECONDS,
    )


WHY_CONNECT_SECONDS = 5
"""How long the one connection that asks PostgreSQL why the pool could not open may take."""


async def open_pool(
    pool: AsyncConnectionPool[Any], *, wait: bool, timeout_seconds: float = 30.0
) -> None:
    """Opens `pool`. With `wait`, a database that gives no connection within the pool's
    timeout is StoreUnavailable naming PostgreSQL's own reason (psycopg_pool says only that
    it timed out, after 30 s): what an operator running a command needs to mend it."""
    try:
        await pool.open(wait=wait, timeout=timeout_seconds)
    except PoolTimeout:
        await pool.close()
        raise StoreUnavailable(f"the database is unavailable: {await _why(pool)}") from None


async def _why(pool: AsyncConnectionPool[Any]) -> str:
    if not isinstance(pool.conninfo, str):
        return "it gave no connection while the pool opened"
    try:
        connection = await AsyncConnection.connect(
            pool.conninfo, connect_timeout=WHY_CONNECT_SECONDS
        )
    except psycopg.Error as error:
        return str(error)
    await connection.close()
    return "it gave no connection while the pool opened (it answers now: try again)"
