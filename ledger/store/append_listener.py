"""Wake-ups for followers of the global order: LISTEN on the channel appends notify.

One dedicated connection per process, open only while someone follows (outside the pool: a
listening connection is never idle in the pool's sense, and a pooled one could be handed to
someone else mid-LISTEN). It reconnects with back-off when the database goes away. A
notification only says "something was appended"; readers still read, so a lost notification
(while reconnecting, say) costs latency, never an event: the feed also polls at a bounded
interval, and every (re)connection counts as a wake-up, for what was appended while nobody
listened.
"""

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass
from typing import Final

import psycopg
from psycopg import sql

CHANNEL: Final = "ledger_events"
"""Named in migrations/0005_notify_appends.sql."""
CONNECT_TIMEOUT_SECONDS = 5
RECONNECT_FIRST_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0
"""Back-off between connection attempts: doubles from the first to the max, with jitter."""
LIVENESS_CHECK_SECONDS = 10.0
"""A listening connection only reads, so a link cut without a reset would go unnoticed;
after this long without a notification it runs one trivial query to prove it is alive."""
LIVENESS_TIMEOUT_SECONDS = 5.0


@dataclass
class ListenerStats:
    """Counters; only ever increased."""

    notifications: int = 0
    connections: int = 0
    connection_failures: int = 0


class AppendListener:
    """Implements ledger.feed.WakeUps over PostgreSQL LISTEN/NOTIFY."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._pending = asyncio.Event()
        self._listening = False
        self._task: asyncio.Task[None] | None = None
        self.stats = ListenerStats()

    @property
    def listening(self) -> bool:
        return self._listening

    async def listen(self, wanted: bool) -> None:
        """Listens while wanted. Each listening connection costs every appending transaction
        some server time (its backend is signalled and reads the notification queue; figures
        in the README's design notes), so readers listen only while someone follows them."""
        if wanted and self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="append-listener")
        elif not wanted:
            await self.stop()

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._listening = False
        if task is None:
            return
        task.cancel()
        # asyncio.wait, not `await task` under suppress(CancelledError): that would also
        # swallow the cancellation of the caller (the feed's tail, when the feed closes).
        await asyncio.wait([task])
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error

    async def wait(self, timeout_seconds: float) -> bool:
        """True as soon as something was appended since the last call; False after the
        timeout. A notification that arrives while the caller reads is kept for its next
        call, so none falls between a read and the next wait."""
        if not self._pending.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_seconds):
                    await self._pending.wait()
        woken = self._pending.is_set()
        self._pending.clear()
        return woken

    async def _listen_forever(self) -> None:
        delay = RECONNECT_FIRST_SECONDS
        while True:
            started = time.monotonic()
            try:
                await self._listen_once()
            except (psycopg.Error, TimeoutError, OSError):
                # The database went away or the link was cut: connect again, after a while.
                self.stats.connection_failures += 1
            self._listening = False
            if time.monotonic() - started > RECONNECT_MAX_SECONDS:
                delay = RECONNECT_FIRST_SECONDS  # it had been up: a fresh outage
            await asyncio.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def _listen_once(self) -> None:
        connection = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
        async with connection:
            await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
            self.stats.connections += 1
            self._listening = True
            self._pending.set()  # whatever was appended while nobody listened
            while True:
                async with contextlib.aclosing(
                    connection.notifies(timeout=LIVENESS_CHECK_SECONDS)
                ) as notifications:
                    async for _ in notifications:
                        self.stats.notifications += 1
                        self._pending.set()
                async with asyncio.timeout(LIVENESS_TIMEOUT_SECONDS):
                    await connection.execute("SELECT 1")
