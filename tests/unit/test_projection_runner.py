"""The runner's own decisions, against an in-memory log: who applies, when it looks again,
how it gets back up. (Its storage is held to the real PostgreSQL in tests/projections.)"""

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ledger.eventlog.errors import StoreUnavailable
from ledger.eventlog.records import Position
from ledger.projections.ports import Page, SlotStatus
from ledger.projections.runner import ProjectionRunner

LONG_POLL_SECONDS = 60.0
"""Longer than any test waits: whatever happens sooner was not the poll."""
PATIENCE_SECONDS = 5.0


@dataclass
class MemoryLog:
    """Events appended (all committed), those held back behind an older transaction, the
    checkpoint, and the lock, shared by every session as PostgreSQL would share them."""

    appended: int = 0
    held_back: int = 0
    checkpoint: int = 0
    holder: object | None = None
    applied_by: Counter[str] = field(default_factory=Counter)
    unreachable_opens: int = 0


class MemorySession:
    def __init__(self, log: MemoryLog, runner: str) -> None:
        self._log = log
        self._runner = runner

    async def try_lead(self) -> bool:
        if self._log.holder is None:
            self._log.holder = self
        return self._log.holder is self

    async def apply_page(self, limit: int) -> Page:
        assert self._log.holder is self
        events = min(limit, self._log.appended - self._log.held_back - self._log.checkpoint)
        self._log.checkpoint += events
        self._log.applied_by[self._runner] += events
        last = Position(1, self._log.checkpoint) if events else None
        return Page(events, last, held_back=self._log.held_back > 0)

    async def status(self) -> list[SlotStatus]:
        return []

    async def close(self) -> None:
        if self._log.holder is self:
            self._log.holder = None


class MemoryWakeups:
    def __init__(self) -> None:
        self._generation = 0
        self._changed = asyncio.Event()

    def generation(self) -> int:
        return self._generation

    async def wait(self, seen: int, timeout_seconds: float) -> None:
        if self._generation == seen:
            try:
                await asyncio.wait_for(self._changed.wait(), timeout_seconds)
            except TimeoutError:
                return

    def notify(self) -> None:
        self._generation += 1
        self._changed.set()
        self._changed = asyncio.Event()


def runner(
    log: MemoryLog, wakeups: MemoryWakeups, name: str, page_events: int = 10
) -> ProjectionRunner:
    async def open_session() -> MemorySession:
        if log.unreachable_opens:
            log.unreachable_opens -= 1
            raise StoreUnavailable("the database is unavailable")
        return MemorySession(log, name)

    return ProjectionRunner(
        "memory",
        open_session,
        wakeups,
        page_events=page_events,
        poll_seconds=LONG_POLL_SECONDS,
        standby_retry_seconds=0.01,
    )


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(PATIENCE_SECONDS):
        while not condition():  # noqa: ASYNC110 - the fakes have nothing to wait on
            await asyncio.sleep(0.005)


async def test_a_woken_runner_applies_at_once_in_pages_without_waiting_for_the_poll() -> None:
    log, wakeups, stop = MemoryLog(), MemoryWakeups(), asyncio.Event()
    leader = runner(log, wakeups, "leader")
    task = asyncio.create_task(leader.run(stop))
    await until(lambda: leader.stats.leading)
    log.appended = 95
    wakeups.notify()
    await until(lambda: log.checkpoint == 95)
    stop.set()
    await asyncio.wait_for(task, PATIENCE_SECONDS)
    assert leader.stats.pages == 10  # nine full pages of ten, then the five left
    assert log.holder is None, "a stopped runner lets go of its lock"


async def test_a_standby_applies_nothing_until_the_leader_stops_then_takes_over() -> None:
    log, wakeups = MemoryLog(), MemoryWakeups()
    first_stop, second_stop = asyncio.Event(), asyncio.Event()
    first, second = runner(log, wakeups, "first"), runner(log, wakeups, "second")
    tasks = [asyncio.create_task(first.run(first_stop))]
    await until(lambda: first.stats.leading)
    tasks.append(asyncio.create_task(second.run(second_stop)))
    log.appended = 30
    wakeups.notify()
    await until(lambda: log.checkpoint == 30)
    await asyncio.sleep(0.05)  # the standby has tried for the lock a few times by now
    assert log.applied_by == {"first": 30}
    first_stop.set()
    await until(lambda: second.stats.leading)
    log.appended = 50
    wakeups.notify()
    await until(lambda: log.checkpoint == 50)
    assert log.applied_by == {"first": 30, "second": 20}
    second_stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), PATIENCE_SECONDS)


async def test_events_held_back_by_an_older_transaction_are_looked_at_again_unbidden() -> None:
    log, wakeups, stop = MemoryLog(appended=5, held_back=5), MemoryWakeups(), asyncio.Event()
    leader = runner(log, wakeups, "leader")
    task = asyncio.create_task(leader.run(stop))
    await until(lambda: leader.stats.leading)
    await asyncio.sleep(0.05)
    log.held_back = 0  # the older transaction ended; nobody notifies
    await until(lambda: log.checkpoint == 5)
    stop.set()
    await asyncio.wait_for(task, PATIENCE_SECONDS)


async def test_under_a_steady_write_load_the_runner_keeps_up_though_every_page_is_held_back() -> (
    None
):
    # Some transaction is always open under load: every page says events are held back, yet
    # each applies what committed before. The runner must not back off towards its poll
    # interval (60 s here) while it makes progress.
    log, wakeups, stop = MemoryLog(appended=1, held_back=1), MemoryWakeups(), asyncio.Event()
    leader = runner(log, wakeups, "leader")
    task = asyncio.create_task(leader.run(stop))
    await until(lambda: leader.stats.leading)

    def applied(count: int) -> Callable[[], bool]:
        return lambda: log.checkpoint == count

    for appended in range(2, 40):
        log.appended = appended  # one more committed, the newest still held back; no notify
        await until(applied(appended - 1))
    stop.set()
    await asyncio.wait_for(task, PATIENCE_SECONDS)


async def test_a_runner_that_cannot_reach_the_database_keeps_trying_then_resumes() -> None:
    log, wakeups, stop = (
        MemoryLog(appended=7, unreachable_opens=1),
        MemoryWakeups(),
        asyncio.Event(),
    )
    leader = runner(log, wakeups, "leader")
    task = asyncio.create_task(leader.run(stop))
    await until(lambda: log.checkpoint == 7)
    assert log.unreachable_opens == 0
    stop.set()
    await asyncio.wait_for(task, PATIENCE_SECONDS)
