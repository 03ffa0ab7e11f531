"""The connection pool every store call goes through."""

from typing import Any

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

DEFAULT_STATEMENT_TIMEOUT_MS = 10_000
"""No statement outlives this, whatever the caller; callers' deadlines cut it shorter."""


def make_pool(
    conninfo: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    role: str | None = None,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
) -> AsyncConnectionPool[Any]:
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
        check=AsyncConnectionPool.check_connection,
        reconnect_timeout=3600,
    )
