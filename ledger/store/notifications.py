"""Wake-ups when events are appended: LISTEN ledger_events on one connection per process.

Implements ledger.projections.ports.Wakeups for every runner of the process. The generation
moves on with every notification and every (re)connection, since whatever was appended while
nobody listened went unannounced. A notification is only a hint to look: runners poll every
few seconds anyway, so a lost one delays them, and never loses an event.
"""

import asyncio
import contextlib
from typing import Any

import psycopg

from ledger.domain.errors import LedgerError
from ledger.projections.ports import Journal, QuietJournal
from ledger.store.projection_sessions import connect
from ledger.store.sql import query

RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 10.0


class AppendNotifications:
    def __init__(self, conninfo: str, role: str | None = None, journal: Journal | None = None):
        self._conninfo = conninfo
        self._role = role
        self._journal = journal or QuietJournal()
        self._generation = 0
        self._changed = asyncio.Event()
        self.notifications = 0

    def generation(self) -> int:
        return self._generation

    async def wait(self, seen: int, timeout_seconds: float) -> None:
        if self._generation != seen:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_seconds)

    def _move_on(self) -> None:
        self._generation += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Listens until `stop` is set, reconnecting with back-off when the connection fails."""
        delay = RECONNECT_FIRST_SECONDS
        while not stop.is_set():
            try:
                connection = await connect(self._conninfo, self._role, "listener")
            except LedgerError as error:
                self._journal.warning("listener_unreachable", error=error.reason)
                await _pause(stop, delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
                continue
            try:
                await self._listen(connection, stop)
                delay = RECONNECT_FIRST_SECONDS
            except psycopg.Error as error:
                self._journal.warning("listener_failed", error=type(error).__name__)
                await _pause(stop, delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            finally:
                await connection.close()

    async def _listen(self, connection: psycopg.AsyncConnection[Any], stop: asyncio.Event) -> None:
        await connection.execute(query("listen_appends"))
        self._move_on()
        # Waiting for notifications and for the stop signal at once: a stopping server must
        # not wait out a notification timeout. The connection is closed after a stop, so
        # cancelling its wait leaves nothing half-read behind.
        consuming = asyncio.ensure_future(self._consume(connection))
        stopped = asyncio.ensure_future(stop.wait())
        try:
            done, _ = await asyncio.wait({consuming, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            consuming.cancel()
            stopped.cancel()
            await asyncio.gather(consuming, stopped, return_exceptions=True)
        if consuming in done:
            consuming.result()  # its error: the caller reconnects

    async def _consume(self, connection: psycopg.AsyncConnection[Any]) -> None:
        async for _ in connection.notifies():
            self.notifications += 1
            self._move_on()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
