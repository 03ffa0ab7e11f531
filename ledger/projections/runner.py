"""The projection runner: keeps one projection's live slot current with the log.

One runner per projection is active across every process and pod: the one holding the
projection's lock (a PostgreSQL advisory lock, on the connection it writes through). Others
wait as standbys, trying for the lock every STANDBY_RETRY_SECONDS, and the first to get it
after the active runner dies takes over from the checkpoint, which committed with the last
page it applied. A runner that lost its connection lost its lock and its unfinished page
together, so a standby can never take over while the old runner is still writing.

While leading, the runner applies pages until one comes back short (caught up), then waits
for a wake-up (a NOTIFY when events are appended) or, failing one, POLL_SECONDS. Events that
are committed but held back behind an older transaction still running get a quicker look
again, since the end of that transaction may wake nobody.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ledger.domain.errors import LedgerError
from ledger.projections.ports import Journal, QuietJournal, RunnerSession, SlotStatus, Wakeups

PAGE_EVENTS = 5_000
"""Events one page applies at most: one statement and one transaction. Large enough that a
page's round trips vanish next to its work, small enough that a page commits in well under
a second, so a stop or a swap never waits long."""
POLL_SECONDS = 5.0
"""Longest wait for a wake-up before the runner looks anyway (a lost notification, a listener
that is reconnecting)."""
STANDBY_RETRY_SECONDS = 1.0
"""How often a standby tries for the lock: at most this long between a runner's death and its
successor's first page."""
HELD_BACK_FIRST_RETRY_SECONDS = 0.02
"""First look again at events held back behind an older transaction; doubled each time
nothing was applied, up to POLL_SECONDS."""
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 10.0
"""Back-off between attempts to reach the database again, doubling up to this."""
LAG_REPORT_SECONDS = 60.0
"""How often the active runner reports its lag to the journal."""
MAX_WAIT_SECONDS = 3_600.0
"""Longest poll or standby interval a runner may be given."""

OpenSession = Callable[[], Awaitable[RunnerSession]]


@dataclass
class RunnerStats:
    """Counters for status and tests; only ever increased (but `leading`)."""

    pages: int = 0
    events: int = 0
    leading: bool = False
    leaderships: int = 0
    """Times this runner took the lock."""
    failures: int = 0
    events_behind: int = 0
    """At the last lag report (every LAG_REPORT_SECONDS while leading): events in the log
    not yet applied to the live slot."""
    seconds_behind: float = 0.0
    """At the last lag report: how much older the newest applied event is than the log's."""


class ProjectionRunner:
    def __init__(
        self,
        projection: str,
        open_session: OpenSession,
        wakeups: Wakeups,
        *,
        journal: Journal | None = None,
        page_events: int = PAGE_EVENTS,
        poll_seconds: float = POLL_SECONDS,
        standby_retry_seconds: float = STANDBY_RETRY_SECONDS,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        assert 1 <= page_events <= PAGE_EVENTS * 10
        assert 0 < poll_seconds <= MAX_WAIT_SECONDS
        assert 0 < standby_retry_seconds <= MAX_WAIT_SECONDS
        self.projection = projection
        self._open = open_session
        self._wakeups = wakeups
        self._journal = journal or QuietJournal()
        self._page_events = page_events
        self._poll_seconds = poll_seconds
        self._standby_retry_seconds = standby_retry_seconds
        self._now = now
        self.stats = RunnerStats()
        self.last_status: SlotStatus | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Leads or stands by until `stop` is set; then finishes the page in hand and returns.
        Runs until stopped by design; every wait inside is bounded."""
        delay = RECONNECT_FIRST_SECONDS
        while not stop.is_set():
            pages_before = self.stats.pages
            try:
                session = await self._open()
            except LedgerError as error:
                self._journal.warning(
                    "projection_unreachable",
                    projection=self.projection,
                    error=error.reason,
                    detail=error.message,
                )
                await _pause(stop, delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
                continue
            try:
                await self._lead_and_follow(session, stop)
            except LedgerError as error:
                self.stats.failures += 1
                self._journal.warning(
                    "projection_runner_failed", projection=self.projection, error=error.reason
                )
                if self.stats.pages > pages_before:
                    delay = RECONNECT_FIRST_SECONDS
                await _pause(stop, delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            finally:
                # Closing the connection releases the lock; a standby takes over from here.
                self.stats.leading = False
                await session.close()

    async def _lead_and_follow(self, session: RunnerSession, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if await session.try_lead():
                break
            await _pause(stop, self._standby_retry_seconds)
        else:
            return
        self.stats.leading = True
        self.stats.leaderships += 1
        self._journal.info("projection_leading", projection=self.projection)
        held_back_delay = HELD_BACK_FIRST_RETRY_SECONDS
        reported_at = -LAG_REPORT_SECONDS
        while not stop.is_set():
            if self._now() - reported_at >= LAG_REPORT_SECONDS:
                reported_at = self._now()
                await self._report_lag(session)
            seen = self._wakeups.generation()
            page = await session.apply_page(self._page_events)
            if page.events:
                self.stats.pages += 1
                self.stats.events += page.events
            if page.events >= self._page_events:
                continue
            if page.held_back:
                # Under a steady write load some transaction is always open, so most pages
                # are held back: back off only while nothing moves, or the lag would climb
                # to the poll interval however fast the pages are.
                if page.events:
                    held_back_delay = HELD_BACK_FIRST_RETRY_SECONDS
                await _pause(stop, held_back_delay)
                held_back_delay = min(held_back_delay * 2, self._poll_seconds)
                continue
            held_back_delay = HELD_BACK_FIRST_RETRY_SECONDS
            await self._wait(seen, stop)

    async def _report_lag(self, session: RunnerSession) -> None:
        for status in await session.status():
            if status.live:
                self.last_status = status
                self.stats.events_behind = status.events_behind
                self.stats.seconds_behind = status.seconds_behind or 0.0
                self._journal.info("projection_lag", **status.to_data())

    async def _wait(self, seen: int, stop: asyncio.Event) -> None:
        woken = asyncio.ensure_future(self._wakeups.wait(seen, self._poll_seconds))
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({woken, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            stopped.cancel()
            await asyncio.gather(woken, stopped, return_exceptions=True)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleeps `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
