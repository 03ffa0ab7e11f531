"""The one place that wires the ledger: a pool, the PostgreSQL event log and the ledger for the
server, the CLI and the tests; or the ledger over an in-memory log. Nothing else builds them,
and nothing outside ledger/ needs to know ledger.store exists."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from ledger.application import ANSWER_RETENTION, Clock, Ledger
from ledger.eventlog.memory import InMemoryEventLog
from ledger.feed import EventFeed, FeedLimits
from ledger.store import embedded
from ledger.store import migrate as migrations
from ledger.store.append_listener import AppendListener
from ledger.store.directory import MemberDirectory
from ledger.store.eventstore import PostgresEventLog
from ledger.store.pool import make_pool
from ledger.store.statistics import ProgramStatisticsStore


def database_url() -> str:
    """$DATABASE_URL when set, else the embedded PostgreSQL of this checkout (started if
    needed)."""
    return embedded.database_url_from_env_or_embedded()


def migrate(url: str, until: str | None = None) -> list[str]:
    """Applies the schema migrations not applied yet (up to `until`, if given); returns their
    names."""
    return migrations.migrate(url, until)


@asynccontextmanager
async def postgres_ledger(
    url: str,
    now: Clock,
    *,
    shards: int = 1,
    pool_min_size: int = 2,
    pool_max_size: int = 10,
    role: str | None = None,
    wait: bool = True,
    answer_retention: timedelta = ANSWER_RETENTION,
) -> AsyncIterator[Ledger]:
    """A started ledger on the PostgreSQL at `url`; stopped (queued commands finished) and
    its connections closed on exit. With wait=False the ledger starts before the database
    answers: commands fail UNAVAILABLE until it does."""
    pool = make_pool(url, min_size=pool_min_size, max_size=pool_max_size, role=role)
    await pool.open(wait=wait)
    try:
        ledger = Ledger(
            PostgresEventLog(pool),
            now,
            shards=shards,
            directory=MemberDirectory(pool),
            statistics=ProgramStatisticsStore(pool),
            answer_retention=answer_retention,
        )
        await ledger.start()
        try:
            yield ledger
        finally:
            await ledger.stop()
    finally:
        await pool.close()


@asynccontextmanager
async def memory_ledger(
    now: Clock, *, log: InMemoryEventLog | None = None, shards: int = 1
) -> AsyncIterator[Ledger]:
    """A started ledger over an in-memory log (a new one unless given, so that several
    ledgers, as several processes would, can share one)."""
    ledger = Ledger(log if log is not None else InMemoryEventLog(), now, shards=shards)
    await ledger.start()
    try:
        yield ledger
    finally:
        await ledger.stop()


@asynccontextmanager
async def postgres_feed(
    url: str, ledger: Ledger, limits: FeedLimits | None = None
) -> AsyncIterator[EventFeed]:
    """The process's one follower of the global order (StreamEvents' subscribers share it),
    reading through the ledger's event log and woken by PostgreSQL's NOTIFY on its own
    connection, open only while someone follows. Closed on exit: live followers end."""
    listener = AppendListener(url)
    feed = EventFeed(ledger.log, listener, limits or FeedLimits())
    await feed.start()
    try:
        yield feed
    finally:
        await feed.close()
        await listener.stop()
