"""The one place that wires the ledger: a pool, the PostgreSQL event log and the ledger for the
server, the CLI and the tests; or the ledger over an in-memory log. Nothing else builds them,
and nothing outside ledger/ needs to know ledger.store exists."""

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from opentelemetry import metrics, trace

from ledger.application import ANSWER_RETENTION, Clock, Ledger
from ledger.eventlog.memory import InMemoryEventLog
from ledger.feed import EventFeed, FeedLimits
from ledger.store import embedded, login, replica, telemetry
from ledger.store import migrate as migrations
from ledger.store.append_listener import AppendListener
from ledger.store.directory import MemberDirectory
from ledger.store.eventstore import PostgresEventLog
from ledger.store.pool import make_pool, open_pool
from ledger.store.stage_reader import PostgresStageReader
from ledger.store.statistics import ProgramStatisticsStore

DatabaseError = login.DatabaseError
"""A refusal or failure of the database (for the CLI, which does not import the driver)."""


def database_url() -> str:
    """$DATABASE_URL when set, else the embedded PostgreSQL of this checkout (started if
    needed)."""
    return embedded.database_url_from_env_or_embedded()


def service_database_url() -> str:
    """The service's own login: $DATABASE_URL when set (the operator gives the restricted
    login there, README "Database roles"), else the embedded PostgreSQL's service login,
    created if needed: the default logs in as the restricted role too."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    return embedded.service_login_url(embedded.start_embedded_postgres(embedded.default_data_dir()))


def owner_database_url() -> str:
    """Who migrates: $LEDGER_OWNER_DATABASE_URL when set, else $DATABASE_URL (one login for
    both: development), else the embedded PostgreSQL's superuser."""
    url = os.environ.get("LEDGER_OWNER_DATABASE_URL", "").strip()
    return url or database_url()


def privileged_login(url: str) -> list[str]:
    """What the login of `url` may do that the service's must not (empty: nothing)."""
    return login.privileges_beyond_the_service(url)


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
    read_url: str | None = None,
    read_max_staleness: timedelta = replica.MAX_STALENESS,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> AsyncIterator[Ledger]:
    """A started ledger on the PostgreSQL at `url`; stopped (queued commands finished) and
    its connections closed on exit. With wait=False the ledger starts before the database
    answers: commands fail UNAVAILABLE until it does. `read_url`: a streaming replica that
    serves reads of one account within `read_max_staleness` (ledger/store/replica.py). The
    providers (None: none) trace its group-commit appends and measure its batches and its
    connection pool."""
    pool = make_pool(url, min_size=pool_min_size, max_size=pool_max_size, role=role)
    await open_pool(pool, wait=wait)
    health_pool = make_pool(url, min_size=1, max_size=1, role=role)
    await health_pool.open(wait=False)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(pool.close)
        stack.push_async_callback(health_pool.close)
        if meter_provider is not None:
            telemetry.observe_pool(pool, meter_provider)
        log = PostgresEventLog(pool, health_pool=health_pool)
        stages = PostgresStageReader(pool)
        if read_url:
            replica_pool = make_pool(
                read_url, min_size=pool_min_size, max_size=pool_max_size, role=role
            )
            await replica_pool.open(wait=False)
            stack.push_async_callback(replica_pool.close)
            log = replica.ReplicaReadLog(
                pool, replica_pool, max_staleness=read_max_staleness, health_pool=health_pool
            )
            await log.start()
            stack.push_async_callback(log.stop)
            stages = replica.ReplicaStageReader(pool, replica_pool, log)
        ledger = Ledger(
            log,
            now,
            shards=shards,
            directory=MemberDirectory(pool),
            statistics=ProgramStatisticsStore(pool),
            answer_retention=answer_retention,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            stages=stages,
        )
        await ledger.start()
        try:
            yield ledger
        finally:
            await ledger.stop()


def trace_queries(tracer_provider: trace.TracerProvider) -> Callable[[], None]:
    """Every query of this process on a connection opened from now on is a span; returns
    what undoes it (ledger/store/telemetry.py)."""
    return telemetry.trace_queries(tracer_provider)


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
