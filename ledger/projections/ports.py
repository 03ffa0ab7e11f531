"""What the runner and the rebuild need from storage and from the world, as small Protocols.

ledger/store implements them for PostgreSQL (projection_sessions.py, notifications.py); the
runner's logic here never sees a connection or a line of SQL.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ledger.eventlog.records import Position


@dataclass(frozen=True)
class Page:
    """What applying one page did."""

    events: int
    """Events applied; 0 when nothing new lies below the horizon."""
    last: Position | None
    """The checkpoint after the page (None when empty)."""
    held_back: bool
    """Committed events wait beyond the horizon, behind an older transaction still running."""


@dataclass(frozen=True)
class SlotStatus:
    """One slot of a projection, and how far the log has got beyond it."""

    projection: str
    slot: str
    live: bool
    checkpoint: Position
    events_applied: int
    newest_applied_time: datetime | None
    """recorded_at of the newest event applied."""
    runner: str
    """Who wrote the slot's last page."""
    updated_at: datetime
    newest_in_log: Position | None
    newest_in_log_time: datetime | None
    events_behind: int
    events_behind_capped: bool
    """True when events_behind stopped counting at its cap: at least that many."""
    runner_active: bool
    """Some runner holds the projection's lock now (says nothing of which)."""

    @property
    def positions_behind(self) -> int:
        """Distance in event positions to the newest event: cheap and approximate (appends
        that rolled back leave gaps, and positions of concurrent transactions interleave)."""
        if self.newest_in_log is None:
            return 0
        return max(0, self.newest_in_log.position - self.checkpoint.position)

    @property
    def seconds_behind(self) -> float | None:
        """recorded_at of the log's newest event minus that of the newest event applied: 0
        once the slot has applied everything, None while it has applied nothing of a log
        that is not empty."""
        if self.newest_in_log_time is None or self.events_behind == 0:
            return 0.0
        if self.newest_applied_time is None:
            return None
        return max(0.0, (self.newest_in_log_time - self.newest_applied_time).total_seconds())

    def to_data(self) -> dict[str, Any]:
        return {
            "projection": self.projection,
            "slot": self.slot,
            "live": self.live,
            "checkpoint": self.checkpoint.encode(),
            "events_applied": self.events_applied,
            "events_behind": self.events_behind,
            "events_behind_capped": self.events_behind_capped,
            "positions_behind": self.positions_behind,
            "seconds_behind": self.seconds_behind,
            "newest_applied_time": _iso(self.newest_applied_time),
            "newest_in_log_time": _iso(self.newest_in_log_time),
            "runner": self.runner,
            "runner_active": self.runner_active,
            "updated_at": _iso(self.updated_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class RunnerSession(Protocol):
    """A live runner's hold on one projection: its lock, and pages applied to the live slot.

    Every write happens on the one connection that holds the lock, so a runner that lost its
    connection has lost its lock and its open page with it, together."""

    async def try_lead(self) -> bool:
        """Takes the projection's lock if free; True while this session holds it."""
        ...

    async def apply_page(self, limit: int) -> Page:
        """Applies up to `limit` events after the live checkpoint and moves it, atomically."""
        ...

    async def status(self) -> list[SlotStatus]: ...

    async def close(self) -> None: ...


class RebuildSession(Protocol):
    """A rebuild's hold on one projection's standby slot."""

    async def try_lock_rebuild(self) -> bool:
        """One rebuild per projection at a time; True if this session may rebuild."""
        ...

    async def count_events(self) -> int: ...

    async def reset_standby(self) -> None:
        """Empties the standby slot and sets its checkpoint to position 0."""
        ...

    async def apply_standby_page(self, limit: int) -> Page: ...

    async def swap(self, max_catch_up_events: int) -> bool:
        """In one transaction: brings the standby up to the live checkpoint (at most
        `max_catch_up_events` events) and makes it live. False, and nothing changed, when
        the standby lags by more than that; the caller applies more pages and tries again."""
        ...

    async def close(self) -> None: ...


class Wakeups(Protocol):
    """Tells a waiting runner that events were appended."""

    def generation(self) -> int:
        """Changes whenever there may be something new; read it before looking."""
        ...

    async def wait(self, seen: int, timeout_seconds: float) -> None:
        """Returns once generation() differs from `seen`, or after the timeout."""
        ...


class Journal(Protocol):
    """Where runners report (a structlog logger fits)."""

    def info(self, event: str, **fields: Any) -> Any: ...

    def warning(self, event: str, **fields: Any) -> Any: ...


class QuietJournal:
    def info(self, event: str, **fields: Any) -> None:
        del event, fields

    def warning(self, event: str, **fields: Any) -> None:
        del event, fields
