"""Rebuild: a fresh copy of a projection's view, built from position 0 beside the live one.

The standby slot is emptied and filled page by page while the live slot keeps answering
queries and its runner keeps it current. Once the standby has caught up, one short
transaction brings it level with the live checkpoint and makes it live (the swap); readers
move to it with their next query. A rebuild that dies half-way leaves the live slot as it
was; running it again starts the standby over.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ledger.domain.errors import FailedPrecondition
from ledger.projections.ports import RebuildSession

REBUILD_PAGE_EVENTS = 20_000
"""Events one page of a rebuild applies at most: larger than a live runner's, since nobody
waits on the standby; still one short transaction, so the horizon of other readers moves."""
MAX_REBUILD_PAGES = 1_000_000
"""Pages one catch-up applies at most (20 billion events at full pages)."""
MAX_SWAP_ATTEMPTS = 20
"""Times the swap is tried, catching up in between, before the rebuild gives up: only a live
runner outpacing the rebuild page after page could exhaust them."""


class RebuildBusy(FailedPrecondition):
    """Another rebuild of the projection is running, or the swap could not be made."""

    reason = "REBUILD_BUSY"


class Progress(Protocol):
    def update(self, done: int, total: int) -> None: ...

    def finish(self, done: int) -> None: ...


@dataclass(frozen=True)
class RebuildResult:
    projection: str
    events: int
    seconds: float
    swap_attempts: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


async def rebuild(
    projection: str,
    session: RebuildSession,
    progress: Progress,
    *,
    page_events: int = REBUILD_PAGE_EVENTS,
    now: Callable[[], float] = time.monotonic,
) -> RebuildResult:
    assert 1 <= page_events <= REBUILD_PAGE_EVENTS * 10
    if not await session.try_lock_rebuild():
        raise RebuildBusy(f"{projection} is being rebuilt by another process")
    started = now()
    total = await session.count_events()
    await session.reset_standby()
    applied = await _catch_up(session, progress, 0, total, page_events)
    for attempt in range(1, MAX_SWAP_ATTEMPTS + 1):
        if await session.swap(page_events):
            progress.finish(applied)
            return RebuildResult(projection, applied, now() - started, attempt)
        # The live slot moved on by more than a page since the standby caught up.
        applied = await _catch_up(session, progress, applied, total, page_events)
    raise RebuildBusy(f"{projection}: the live slot kept moving ahead of the rebuild")


async def _catch_up(
    session: RebuildSession, progress: Progress, applied: int, total: int, page_events: int
) -> int:
    """Applies pages to the standby until one comes back short; returns the events applied."""
    for _ in range(MAX_REBUILD_PAGES):
        page = await session.apply_standby_page(page_events)
        applied += page.events
        progress.update(applied, max(total, applied))
        if page.events < page_events:
            return applied
    raise AssertionError(f"a rebuild applied {MAX_REBUILD_PAGES} pages without catching up")
