"""The shared feed on the real PostgreSQL store, without gRPC: slow and surplus subscribers."""

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

import psycopg
import pytest

from ledger.application import Ledger
from ledger.domain.commands import EarnPoints
from ledger.domain.decisions import Target
from ledger.eventlog.records import EventRecord, Position
from ledger.feed import EventFeed, FeedLimits, TooManySubscribers
from ledger.requests import Request
from ledger.store.append_listener import AppendListener
from ledger.store.eventstore import PostgresEventLog
from ledger.store.pool import make_pool
from tests.conftest import FakeClock, request_id
from tests.e2e.streams import wait_until
from tests.integration.ledgers import new_member, new_program, running_ledger

WRITERS = 4
EARNS_PER_WRITER = 50
DELIVERY_SECONDS = 30.0


@asynccontextmanager
async def running_feed(
    database_url: str, limits: FeedLimits
) -> AsyncIterator[tuple[EventFeed, AppendListener]]:
    pool = make_pool(database_url, min_size=1, max_size=4)
    await pool.open(wait=True)
    listener = AppendListener(database_url)
    feed = EventFeed(PostgresEventLog(pool), listener, limits)
    await feed.start()
    try:
        yield feed, listener
    finally:
        await feed.close()
        await listener.stop()
        await pool.close()


async def _write(ledger: Ledger, program_id: str, members: list[str], earns_each: int) -> None:
    async def writer(member_id: str) -> None:
        for _ in range(earns_each):
            await ledger.execute(
                Request(Target(program_id, member_id), EarnPoints(1, "bonus"), request_id())
            )

    await asyncio.gather(*(writer(member_id) for member_id in members))


async def _stored(database_url: str, program_id: str) -> list[EventRecord]:
    pool = make_pool(database_url, min_size=1, max_size=1)
    await pool.open(wait=True)
    try:
        records = await PostgresEventLog(pool).read_all(Position(), 1_000, program_id)
    finally:
        await pool.close()
    assert len(records) < 1_000
    return records


class Follower:
    """Follows the feed for one program, `delay_seconds` per batch (a slow consumer)."""

    def __init__(self, feed: EventFeed, program_id: str, after: Position, delay: float) -> None:
        self.event_ids: list[str] = []
        self.done_at: float | None = None
        self._task = asyncio.create_task(self._follow(feed, program_id, after, delay))

    async def _follow(
        self, feed: EventFeed, program_id: str, after: Position, delay: float
    ) -> None:
        async for batch in feed.follow(after, program_id):
            self.event_ids += [record.event_id for record in batch]
            await asyncio.sleep(delay)

    async def wait_for(self, count: int, within_seconds: float) -> None:
        deadline = time.monotonic() + within_seconds
        while len(self.event_ids) < count:
            assert not self._task.done(), self._task
            assert time.monotonic() < deadline, f"{len(self.event_ids)} of {count}"
            await asyncio.sleep(0.005)
        self.done_at = time.monotonic()

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_a_slow_subscriber_stalls_nobody_and_still_sees_every_event_in_order(
    database_url: str, clock: FakeClock
) -> None:
    # Queues of 10 and a window of 40 events: the slow subscriber overflows its queue, falls
    # out of the window and has to read the database to catch up again.
    limits = FeedLimits(page_events=10, window_events=40, queued_events=10, poll_seconds=0.5)
    async with (
        running_ledger(database_url, clock) as ledger,
        running_feed(database_url, limits) as (feed, _),
    ):
        program_id = await new_program(ledger)
        members = [await new_member(ledger, program_id) for _ in range(WRITERS)]
        start = await _stored(database_url, program_id)
        after = Position(start[-1].transaction_id, start[-1].position)
        fast = [Follower(feed, program_id, after, 0) for _ in range(3)]
        slow = Follower(feed, program_id, after, 0.2)
        try:
            await wait_until(lambda: feed.live_subscribers == len(fast) + 1, 10, "all live")
            await _write(ledger, program_id, members, EARNS_PER_WRITER)
            expected = [r.event_id for r in await _stored(database_url, program_id)][len(start) :]
            assert len(expected) == WRITERS * EARNS_PER_WRITER
            for follower in fast:
                await follower.wait_for(len(expected), DELIVERY_SECONDS)
            slow_count_when_fast_done = len(slow.event_ids)
            await slow.wait_for(len(expected), DELIVERY_SECONDS)
        finally:
            for follower in [*fast, slow]:
                await follower.stop()

    # Stalled by nobody: each fast one had everything while the slow one was still behind
    # (measured against the slow one, not a clock bound a loaded machine can overrun).
    for follower in fast:
        assert follower.event_ids == expected
        assert follower.done_at is not None and slow.done_at is not None
        assert follower.done_at < slow.done_at
    assert slow.event_ids == expected
    assert slow_count_when_fast_done < len(expected), "the slow one was really behind"
    assert feed.stats.overflows >= 1, "its queue overflowed"
    assert feed.stats.catch_up_reads >= 1, "and it caught up by reading"


async def test_an_event_held_back_by_a_transaction_that_appends_nothing_comes_when_it_ends(
    database_url: str, clock: FakeClock
) -> None:
    # A projection runner's page is such a transaction: an append that commits while it runs
    # is out of readers' sight until it ends, and its end notifies nobody. The poll is a
    # minute away here, so only the tail's own look again can deliver the event in time.
    async with (
        running_ledger(database_url, clock) as ledger,
        running_feed(database_url, FeedLimits(poll_seconds=60)) as (feed, _),
    ):
        program_id = await new_program(ledger)
        member_id = await new_member(ledger, program_id)
        start = await _stored(database_url, program_id)
        follower = Follower(
            feed, program_id, Position(start[-1].transaction_id, start[-1].position), 0
        )
        try:
            await wait_until(lambda: feed.live_subscribers == 1, 10, "live")
            async with await psycopg.AsyncConnection.connect(database_url) as page:
                await page.execute("SELECT pg_current_xact_id()")  # takes an id, as a page does
                await _write(ledger, program_id, [member_id], 1)
                await asyncio.sleep(0.5)
                assert follower.event_ids == [], "the earn is out of sight while the page runs"
                await page.rollback()
            await follower.wait_for(1, 10)
        finally:
            await follower.stop()
    appended = [record.event_id for record in await _stored(database_url, program_id)]
    assert follower.event_ids == appended[len(start) :]
    assert len(follower.event_ids) == 1
    assert feed.stats.held_back_rounds >= 1
    assert feed.stats.polled_rounds == 0


async def test_subscribers_over_the_limit_are_refused_not_queued(database_url: str) -> None:
    async with running_feed(database_url, FeedLimits(subscribers=2)) as (feed, _):
        first = feed.follow(Position(2**62, 0))
        second = feed.follow(Position(2**62, 0))
        third = feed.follow(Position(2**62, 0))
        waiting = [asyncio.create_task(anext(stream)) for stream in (first, second)]
        try:
            await wait_until(lambda: feed.live_subscribers == 2, 10, "two live")
            with pytest.raises(TooManySubscribers):
                await anext(third)
        finally:
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            for stream in (first, second, third):
                await stream.aclose()


async def test_the_feed_listens_for_appends_only_while_someone_follows(database_url: str) -> None:
    # A listening connection costs every appending transaction (its backend is signalled),
    # so a server nobody follows must not hold one.
    async with running_feed(database_url, FeedLimits(poll_seconds=0.2)) as (feed, listener):
        await asyncio.sleep(0.5)
        assert not listener.listening
        stream = feed.follow(Position(2**62, 0))
        waiting = asyncio.create_task(anext(stream))
        try:
            await wait_until(lambda: listener.listening, 10, "listening once followed")
        finally:
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)
            await stream.aclose()
        await wait_until(lambda: not listener.listening, 10, "not listening once left")


async def test_a_subscriber_cancelled_while_its_read_gets_a_connection_stops(
    database_url: str, clock: FakeClock
) -> None:
    # On Python 3.11, psycopg_pool loses a cancellation that lands as it hands a connection
    # to a waiting task (asyncio.wait_for, CPython gh-86296): the subscriber's read returned
    # as if it had not been cancelled, and it went on following (a server closing waited on it).
    async with running_ledger(database_url, clock) as ledger:
        await new_program(ledger)  # so that a subscriber from position 0 has to read
    pool = make_pool(database_url, min_size=1, max_size=1)
    await pool.open(wait=True)
    listener = AppendListener(database_url)
    feed = EventFeed(PostgresEventLog(pool), listener, FeedLimits(poll_seconds=60))
    await feed.start()
    live = feed.follow(Position(2**62, 0))
    live_task = asyncio.create_task(_consume(live))
    behind = feed.follow(Position())
    behind_task: asyncio.Task[None] | None = None
    try:
        await wait_until(lambda: feed.live_subscribers == 1, 10, "the tail is following")
        await asyncio.sleep(0.2)  # the tail's first reads are done; it waits for a notification
        async with pool.connection():  # the only connection: the next read waits for it
            behind_task = asyncio.create_task(_consume(behind))
            await asyncio.sleep(0.1)
        behind_task.cancel()  # in the same step as the connection is handed over
        done, _ = await asyncio.wait([behind_task], timeout=5)
        assert done, "the cancelled subscriber went on following"
        assert behind_task.cancelled()
    finally:
        for task in (live_task, behind_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await live.aclose()
        await behind.aclose()
        await feed.close()
        await listener.stop()
        await pool.close()


async def _consume(stream: AsyncGenerator[list[EventRecord], None]) -> None:
    async for _ in stream:
        pass
