"""Projection runners wired to PostgreSQL: in the server's process, or on their own (CLI).

One listener connection per process wakes every runner of the process; each runner has a
connection of its own, which holds its projection's lock while it leads.
"""

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from functools import partial
from typing import TextIO

import structlog

from ledger.projections.catalog import Projection
from ledger.projections.ports import SlotStatus
from ledger.projections.progress import TerminalProgress
from ledger.projections.rebuild import REBUILD_PAGE_EVENTS, RebuildResult, rebuild
from ledger.projections.runner import PAGE_EVENTS, ProjectionRunner, RunnerStats
from ledger.store.notifications import AppendNotifications
from ledger.store.projection_sessions import (
    PostgresRebuildSession,
    PostgresRunnerSession,
    read_statuses,
)
from ledger.store.stage_pages import wall_clock

log = structlog.get_logger(__name__)

MAX_RUNNER_ID_LENGTH = 200
STOP_SECONDS = 10.0
"""A stopping runner finishes its page in hand (well under a second); after this long it is
cancelled, and PostgreSQL rolls its page back."""
BUG_BACKOFF_FIRST_SECONDS = 1.0
BUG_BACKOFF_MAX_SECONDS = 60.0
"""A runner that fails on something other than the database (a bug) is restarted after this
back-off, doubling, and logged each time: the server keeps serving meanwhile."""


def default_runner_id() -> str:
    """host:pid, the pod and process a runner's checkpoint writes are traced to."""
    return f"{socket.gethostname()}:{os.getpid()}"[:MAX_RUNNER_ID_LENGTH]


async def run_projections(
    conninfo: str,
    projections: Sequence[Projection],
    stop: asyncio.Event,
    *,
    role: str | None = None,
    runner_id: str | None = None,
    stats: dict[str, RunnerStats] | None = None,
    page_events: int = PAGE_EVENTS,
    now: Callable[[], datetime] = wall_clock,
) -> None:
    """Runs a runner per projection (leading or standing by) until `stop` is set. `now` is
    the clock of time-based moves (the stage view's lapses)."""
    runner = (runner_id or default_runner_id())[:MAX_RUNNER_ID_LENGTH]
    listener = AppendNotifications(conninfo, role, log)
    runners = [
        ProjectionRunner(
            projection.name,
            partial(
                PostgresRunnerSession.open,
                conninfo,
                projection,
                runner=runner,
                role=role,
                now=now,
            ),
            listener,
            journal=log.bind(runner=runner),
            page_events=page_events,
        )
        for projection in projections
    ]
    if stats is not None:
        stats.update({item.projection: item.stats for item in runners})
    log.info("projections_starting", projections=[p.name for p in projections], runner=runner)
    await asyncio.gather(
        _supervised("listener", listener.run, stop),
        *(_supervised(item.projection, item.run, stop) for item in runners),
    )


async def _supervised(
    name: str, run: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
) -> None:
    delay = BUG_BACKOFF_FIRST_SECONDS
    while not stop.is_set():
        try:
            await run(stop)
        except Exception:
            log.exception("projection_task_crashed", task=name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, BUG_BACKOFF_MAX_SECONDS)


class ProjectionWorkers:
    """The runners of a serving process, started with it and stopped before its pool."""

    def __init__(
        self,
        conninfo: str,
        projections: Sequence[Projection],
        role: str | None = None,
        now: Callable[[], datetime] = wall_clock,
    ) -> None:
        self._conninfo = conninfo
        self._projections = list(projections)
        self._role = role
        self._now = now
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stats: dict[str, RunnerStats] = {}

    def start(self) -> None:
        assert self._task is None
        self._task = asyncio.create_task(
            run_projections(
                self._conninfo,
                self._projections,
                self._stop,
                role=self._role,
                stats=self.stats,
                now=self._now,
            ),
            name="projection-runners",
        )

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(self._task, STOP_SECONDS)
        except TimeoutError:
            log.warning("projection_runners_cancelled", after_seconds=STOP_SECONDS)
        self._task = None


async def rebuild_projection(
    conninfo: str,
    projection: Projection,
    output: TextIO,
    *,
    role: str | None = None,
    runner_id: str | None = None,
    page_events: int = REBUILD_PAGE_EVENTS,
    now: Callable[[], datetime] = wall_clock,
) -> RebuildResult:
    runner = f"rebuild {runner_id or default_runner_id()}"[:MAX_RUNNER_ID_LENGTH]
    session = await PostgresRebuildSession.open(
        conninfo, projection, runner=runner, role=role, now=now
    )
    try:
        return await rebuild(
            projection.name,
            session,
            TerminalProgress(projection.name, output),
            page_events=page_events,
        )
    finally:
        await session.close()


async def projection_status(
    conninfo: str, projections: Sequence[Projection], *, role: str | None = None
) -> list[SlotStatus]:
    return await read_statuses(conninfo, [projection.name for projection in projections], role)
