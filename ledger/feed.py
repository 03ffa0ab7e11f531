"""One follower of the global order per process, fanned out to every live reader.

Without it, each live StreamEvents call polled the log on its own: a hundred idle
subscribers made five hundred queries a second. Here one background task (the tail) reads
what was appended, woken by a notification or, failing one, every `poll_seconds`: the read
horizon can move with no append at all, when a transaction elsewhere ends. When the tail
knows committed events wait behind the horizon it looks again sooner, backing off from
HELD_BACK_FIRST_SECONDS: the usual holder is a projection runner's page, which ends in
milliseconds and notifies nobody. The tail
keeps the most recent events in a bounded window and hands each page to every live
subscriber's bounded queue. So the number of reads follows the appends, not the readers.

A subscriber behind the window catches up with paged reads of its own, then joins the
fan-out. Joining is gap-free because the tail reads the same order: the window holds every
event after its floor, so a subscriber that has seen everything up to a position at or after
the floor takes the window's events after that position and then each new page. A
subscriber too slow for its queue is dropped from the fan-out (the tail never waits for
anyone) and goes back to catching up from the last event it was given, from the window if
that is still there, else from the database.

The tail reads and listens only while someone follows live: with no subscriber it costs
nothing on the write path, and when the next one comes it starts again from the head of the
log.

Positions are compared as (transaction id, position) tuples: the global order.
"""

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from ledger.cancellation import honour_lost_cancellation
from ledger.domain.errors import LedgerError
from ledger.eventlog.records import EventRecord, Position

MAX_PAGE_EVENTS = 1_000
"""Events one read returns at most, the tail's or a catching-up subscriber's."""
MAX_WINDOW_EVENTS = 5_000
"""Most recent events kept in memory for subscribers joining or falling a little behind."""
MAX_QUEUED_EVENTS = 2_000
"""Events waiting for one subscriber; more and it catches up by itself instead."""
MAX_SUBSCRIBERS = 1_000
"""Live subscribers at once (the server's concurrent-call limit is the same)."""
MAX_TAIL_PAGES_PER_ROUND = 20
"""Full pages the tail reads in one round; the next round starts at once if there is more."""
DEFAULT_POLL_SECONDS = 1.0
"""The fallback: how long the tail waits for a notification before reading anyway."""
HELD_BACK_FIRST_SECONDS = 0.02
"""When committed events wait behind an older transaction still running, the tail reads
again after this long, doubling while nothing new comes, up to `poll_seconds`: that
transaction may append nothing (a projection runner's page), and then its end wakes nobody."""
MAX_POLL_SECONDS = 60.0
RETRY_FIRST_SECONDS = 0.1
RETRY_MAX_SECONDS = 5.0
"""After a failed read the tail retries after this long, doubling up to the max."""

Key = tuple[int, int]
"""(transaction id, position): a place in the global order."""


def key_of(record: EventRecord) -> Key:
    return (record.transaction_id, record.position)


@dataclass(frozen=True)
class FeedFilter:
    """Which events a subscriber wants: of one program (None: every program), of some event
    types (None: every type). The log is read whole either way (types are not indexed); the
    filter spares the subscriber the rest."""

    program_id: str | None = None
    event_types: frozenset[str] | None = None

    def wants(self, record: EventRecord) -> bool:
        return (self.program_id is None or record.program_id == self.program_id) and (
            self.event_types is None or record.event_type in self.event_types
        )


class GlobalOrder(Protocol):
    """Reads of the global order: committed events only, never one that commits later
    behind a position already returned."""

    async def read_all(
        self, after: Position, limit: int, program_id: str | None = None
    ) -> list[EventRecord]: ...

    async def head(self) -> Position:
        """The last event a reader may see now; (0, 0) if none."""
        ...

    async def newest_committed(self) -> Position:
        """The newest committed event, seen by readers yet or not; (0, 0) if none."""
        ...


class WakeUps(Protocol):
    async def listen(self, wanted: bool) -> None:
        """Starts or stops listening (listening has a cost for every writer)."""
        ...

    async def wait(self, timeout_seconds: float) -> bool:
        """True when something was appended since the last call, False after the timeout.
        Starting to listen counts as a wake-up: nothing appended before is missed."""
        ...


class FeedClosed(LedgerError):
    """The server is shutting down: resume from the last position on another instance."""

    reason = "SERVER_SHUTTING_DOWN"


class TooManySubscribers(LedgerError):
    reason = "TOO_MANY_SUBSCRIBERS"


@dataclass(frozen=True)
class FeedLimits:
    page_events: int = MAX_PAGE_EVENTS
    window_events: int = MAX_WINDOW_EVENTS
    queued_events: int = MAX_QUEUED_EVENTS
    subscribers: int = MAX_SUBSCRIBERS
    poll_seconds: float = DEFAULT_POLL_SECONDS

    def __post_init__(self) -> None:
        assert 1 <= self.page_events <= MAX_PAGE_EVENTS
        assert 1 <= self.window_events <= MAX_WINDOW_EVENTS
        assert 1 <= self.queued_events <= MAX_QUEUED_EVENTS
        # A queue smaller than a page would drop every subscriber from the fan-out on any
        # full page, however fast it reads.
        assert self.queued_events >= self.page_events
        assert 1 <= self.subscribers <= MAX_SUBSCRIBERS
        assert 0 < self.poll_seconds <= MAX_POLL_SECONDS


@dataclass
class FeedStats:
    """Counters for metrics and tests; only ever increased."""

    tail_reads: int = 0
    head_reads: int = 0
    newest_reads: int = 0
    """Looks, after the tail caught up, for committed events it could not see yet."""
    catch_up_reads: int = 0
    notified_rounds: int = 0
    polled_rounds: int = 0
    held_back_rounds: int = 0
    """Rounds begun by the tail's own look again at events held back, not by an append."""
    events_published: int = 0
    overflows: int = 0
    tail_errors: int = 0

    @property
    def reads(self) -> int:
        """Every query of the global order the feed made."""
        return self.tail_reads + self.head_reads + self.newest_reads + self.catch_up_reads


class _Subscriber:
    """A live subscriber's bounded queue, filled by the tail, drained by its call."""

    def __init__(self, wanted: FeedFilter, covered: Key, capacity: int) -> None:
        self.wanted = wanted
        self.covered = covered
        """Every event of interest up to here has been queued (or handed over before)."""
        self._capacity = capacity
        self._queue: deque[EventRecord] = deque()
        self._ready = asyncio.Event()
        self.overflowed = False
        self.error: Exception | None = None

    def offer(self, page: list[EventRecord], tail: Key) -> bool:
        """Queues the page's events of interest; False, and nothing queued, if they do not fit."""
        covered = self.covered
        wanted = [
            record for record in page if key_of(record) > covered and self.wanted.wants(record)
        ]
        if len(self._queue) + len(wanted) > self._capacity:
            self.overflowed = True
            self._ready.set()
            return False
        if wanted:
            self._queue.extend(wanted)
            self._ready.set()
        self.covered = max(covered, tail)
        return True

    def fail(self, error: Exception) -> None:
        self.error = error
        self._ready.set()

    async def batches(self) -> AsyncIterator[list[EventRecord]]:
        """What the tail queued, until it overflows (return) or fails (raise)."""
        while True:
            if self._queue:
                batch = list(self._queue)
                self._queue.clear()
                yield batch
                continue
            if self.error is not None:
                raise self.error
            if self.overflowed:
                return
            self._ready.clear()
            await self._ready.wait()


class EventFeed:
    def __init__(
        self, reader: GlobalOrder, wake_ups: WakeUps, limits: FeedLimits | None = None
    ) -> None:
        self._reader = reader
        self._wake_ups = wake_ups
        self._limits = limits or FeedLimits()
        self._window: deque[EventRecord] = deque()
        self._floor: Key | None = None
        """The window holds every event after this one (None: the tail is not following)."""
        self._tail: Key | None = None
        """The last event the tail has read (None: the tail is not following)."""
        self._following = asyncio.Event()
        self._live: set[_Subscriber] = set()
        self._followers = 0
        """Live calls, joined or still catching up: the tail reads only while there are any."""
        self._wanted = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.stats = FeedStats()

    async def start(self) -> None:
        assert self._task is None, "started twice"
        self._task = asyncio.create_task(self._follow_tail(), name="event-feed")

    async def close(self) -> None:
        """Live subscribers get FeedClosed (after what is already queued for them);
        catch-up-only reads run to their end."""
        self._closed = True
        for subscriber in self._live:
            subscriber.fail(FeedClosed("the server is shutting down; resume from your position"))
        self._live.clear()
        self._following.set()  # wakes subscribers waiting for the tail, to see the close
        self._wanted.set()  # and an idle tail
        if self._task is not None:
            self._task.cancel()
            # A tail that died of a bug has already handed its error to every subscriber.
            await asyncio.gather(self._task, return_exceptions=True)

    def closed(self) -> bool:
        return self._closed

    @property
    def live_subscribers(self) -> int:
        """Subscribers the tail hands pages to now (not those catching up)."""
        return len(self._live)

    # --- subscribers ----------------------------------------------------------------------

    async def follow(
        self,
        after: Position,
        program_id: str | None = None,
        *,
        live: bool = True,
        event_types: frozenset[str] | None = None,
    ) -> AsyncGenerator[list[EventRecord], None]:
        """Every event after `after` (of one program, and of some types, if given) in global
        order, in batches: catch-up, then, if `live`, each new event as the tail reads it,
        until closed."""
        wanted = FeedFilter(program_id, event_types)
        if not live:
            async for page in self._catch_up_only(after, wanted):
                yield page
            return
        if self._closed:
            raise FeedClosed("the server is shutting down; resume from your position")
        self._raise_if_tail_died()
        if self._followers >= self._limits.subscribers:
            raise TooManySubscribers(f"at most {self._limits.subscribers} live subscribers")
        self._followers += 1
        self._wanted.set()
        try:
            covered: Key = (after.transaction_id, after.position)
            while True:
                if self._closed:
                    raise FeedClosed("the server is shutting down; resume from your position")
                joined = self._join(covered, wanted)
                if joined is not None:
                    subscriber, backlog = joined
                    try:
                        if backlog:
                            yield backlog
                        async for batch in subscriber.batches():
                            yield batch
                    finally:
                        self._live.discard(subscriber)
                    covered = subscriber.covered  # fell behind: catch up from there
                    continue
                if self._tail is None:
                    # The tail is starting; its first position lets this subscriber join.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._limits.poll_seconds):
                            await self._following.wait()
                    if self.closed():
                        continue
                # Everything up to the tail's last event was below the horizon of a read that
                # finished before this one starts; horizons only move forward, so if this page
                # is not full it has every event of interest up to there.
                tail_before_read = self._tail
                page = await self._read(covered, program_id)
                if page:
                    batch = [record for record in page if wanted.wants(record)]
                    if batch:
                        yield batch
                    covered = key_of(page[-1])
                if len(page) < self._limits.page_events and tail_before_read is not None:
                    covered = max(covered, tail_before_read)
        finally:
            self._followers -= 1

    def _raise_if_tail_died(self) -> None:
        assert self._task is not None, "EventFeed.start() first"
        if self._task.done() and not self._task.cancelled():
            error = self._task.exception()
            assert error is not None, "the tail never returns"
            raise error

    async def _catch_up_only(
        self, after: Position, wanted: FeedFilter
    ) -> AsyncIterator[list[EventRecord]]:
        # Straight from the database, not the window: a caller that has just written expects
        # to see its write, and the tail may not have read it yet.
        covered = after
        while True:
            page = await self._read((covered.transaction_id, covered.position), wanted.program_id)
            if page:
                batch = [record for record in page if wanted.wants(record)]
                if batch:
                    yield batch
                covered = Position(page[-1].transaction_id, page[-1].position)
            if len(page) < self._limits.page_events:
                return

    async def _read(self, after: Key, program_id: str | None) -> list[EventRecord]:
        self.stats.catch_up_reads += 1
        page = await self._reader.read_all(Position(*after), self._limits.page_events, program_id)
        honour_lost_cancellation()
        assert len(page) <= self._limits.page_events
        assert not page or key_of(page[0]) > after
        return page

    def _join(
        self, covered: Key, wanted: FeedFilter
    ) -> tuple[_Subscriber, list[EventRecord]] | None:
        """Registers a subscriber that has seen everything up to `covered`, with the window's
        events after it; None if the window does not reach back that far."""
        if self._tail is None or self._floor is None or covered < self._floor:
            return None
        newer: list[EventRecord] = []
        for record in reversed(self._window):
            if key_of(record) <= covered:
                break
            if wanted.wants(record):
                newer.append(record)
        newer.reverse()
        subscriber = _Subscriber(wanted, max(covered, self._tail), self._limits.queued_events)
        self._live.add(subscriber)
        return subscriber, newer

    # --- the tail -------------------------------------------------------------------------

    async def _follow_tail(self) -> None:
        retry_seconds = RETRY_FIRST_SECONDS
        held_back_seconds = HELD_BACK_FIRST_SECONDS
        # Not `while True`: the close is also seen here in case a read lost the task's
        # cancellation (ledger/cancellation.py), so a closing server never waits on it.
        while not self.closed():
            if self._followers == 0:
                self._stop_following()
                await self._wake_ups.listen(False)
                await self._wanted.wait()
                continue
            try:
                if self._tail is None:
                    await self._start_following()
                published = self.stats.events_published
                caught_up = await self._read_tail()
                held_back = caught_up and await self._held_back()
            except LedgerError as error:
                # Live subscribers end with the error, as each one's own read would have;
                # they resume from their last position. The tail tries again later.
                self.stats.tail_errors += 1
                self._fail_live(error)
                await asyncio.sleep(retry_seconds)
                retry_seconds = min(retry_seconds * 2, RETRY_MAX_SECONDS)
                continue
            except Exception as error:
                # A bug: no subscriber may wait forever on a tail that is gone.
                self._fail_live(error)
                raise
            retry_seconds = RETRY_FIRST_SECONDS
            if not caught_up:
                await asyncio.sleep(0)  # more to read: let subscribers drain, then go on
                continue
            if not held_back or self.stats.events_published > published:
                held_back_seconds = HELD_BACK_FIRST_SECONDS
            wait_seconds = held_back_seconds if held_back else self._limits.poll_seconds
            if await self._wake_ups.wait(min(wait_seconds, self._limits.poll_seconds)):
                self.stats.notified_rounds += 1
            elif held_back:
                self.stats.held_back_rounds += 1
                held_back_seconds = min(held_back_seconds * 2, self._limits.poll_seconds)
            else:
                self.stats.polled_rounds += 1

    def _fail_live(self, error: Exception) -> None:
        for subscriber in self._live:
            subscriber.fail(error)
        self._live.clear()

    def _stop_following(self) -> None:
        assert not self._live
        self._window.clear()
        self._tail = self._floor = None
        self._following.clear()
        self._wanted.clear()

    async def _start_following(self) -> None:
        await self._wake_ups.listen(True)
        self.stats.head_reads += 1
        head = await self._reader.head()
        self._tail = self._floor = (head.transaction_id, head.position)
        self._following.set()

    async def _read_tail(self) -> bool:
        """Reads what was appended, a bounded number of pages; True if it got to the end."""
        for _ in range(MAX_TAIL_PAGES_PER_ROUND):
            assert self._tail is not None
            self.stats.tail_reads += 1
            page = await self._reader.read_all(Position(*self._tail), self._limits.page_events)
            if page:
                self._publish(page)
            if len(page) < self._limits.page_events:
                return True
        return False

    async def _held_back(self) -> bool:
        """Whether committed events lie past the tail, out of sight behind an older
        transaction still running (or committed since the tail's last read)."""
        assert self._tail is not None
        self.stats.newest_reads += 1
        newest = await self._reader.newest_committed()
        return (newest.transaction_id, newest.position) > self._tail

    def _publish(self, page: list[EventRecord]) -> None:
        assert self._tail is not None and key_of(page[0]) > self._tail, "the order went back"
        window = self._window
        window.extend(page)
        while len(window) > self._limits.window_events:
            self._floor = key_of(window.popleft())
        self._tail = tail = key_of(page[-1])
        self.stats.events_published += len(page)
        dropped = [subscriber for subscriber in self._live if not subscriber.offer(page, tail)]
        for subscriber in dropped:
            self._live.discard(subscriber)
        self.stats.overflows += len(dropped)
