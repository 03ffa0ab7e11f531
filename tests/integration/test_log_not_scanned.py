"""What the projection runners and every server ask again and again walks the global order's
index: none of it reads the whole log.

After each page a runner asks whether committed events wait behind an older transaction
still running, it reports how far behind it is every minute, and every server checks the
read horizon every 30 s. Asked as an EXISTS, or an unordered count, over a bound the planner
cannot know (the horizon, or a parameter of a prepared statement), PostgreSQL planned each as
a sequential scan of ledger.events: 40 ms a page on a log of 160,000 events, and growing with
the log, so the projections' lag grew with the log. Counted here by PostgreSQL's statistics:
sequential scans of ledger.events while the runners keep up with a log of 30,000 events.
"""

import asyncio
import time
from collections.abc import Iterator

import psycopg
import pytest

from ledger.projections.catalog import PROJECTIONS
from ledger.projections.runner import PAGE_EVENTS
from ledger.store.horizon import read_horizon
from ledger.store.pool import make_pool
from ledger.store.projection_sessions import PostgresRunnerSession, read_statuses
from tests.integration.log_v1 import fresh_database

LOG_EVENTS = 30_000
LOOKS = 12
"""More than the five custom plans PostgreSQL makes of a prepared statement before it may
settle on a generic plan, which knows no parameter's value."""

_FILL = """
INSERT INTO ledger.events (
    program_id, stream_id, version, event_id, event_type, schema_version, data, metadata,
    recorded_at, points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired, hash
)
SELECT 'scans', 'member-' || (g / 100), g %% 100 + 1, gen_random_uuid(), 'PointsEarned', 1,
    jsonb_build_object('points', 1, 'reason', 'scans', 'expires_on', NULL,
        'program_revision', 1),
    jsonb_build_object('request_id', 'scans-' || g, 'actor', 'test', 'trace_id', '',
        'command', 'EarnPoints'),
    now(), g %% 100 + 1, 0, 0, g %% 100 + 1, 0, 0, sha256(int8send(g))
FROM generate_series(0, %(events)s::bigint - 1) AS g
"""


@pytest.fixture
def large_log(server_url: str) -> Iterator[str]:
    """A database of its own: its rows are written in SQL, with no chain an audit could
    verify."""
    with fresh_database(server_url, "scans") as url:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(_FILL, {"events": LOG_EVENTS})
            connection.execute("ANALYZE ledger.events")
        yield url


def _log_scans(url: str) -> int:
    """Sequential scans of ledger.events so far, once every other session of the database
    has ended (a backend hands its counts in as it exits, before it leaves
    pg_stat_activity)."""
    with psycopg.connect(url, autocommit=True) as connection:
        deadline = time.monotonic() + 30
        while connection.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone() != (0,):
            assert time.monotonic() < deadline, "the sessions did not end"
            time.sleep(0.05)
        row = connection.execute(
            "SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'ledger.events'::regclass"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def _runners_keep_up(url: str, looks: int) -> list[int]:
    """Every projection's runner applies the log, then looks for more `looks` times; the
    events each applied."""
    applied = []
    for projection in PROJECTIONS.values():
        session = await PostgresRunnerSession.open(url, projection, runner="scans")
        try:
            assert await session.try_lead()
            events = 0
            for _ in range(LOG_EVENTS // PAGE_EVENTS + 1):  # the last page comes back short
                page = await session.apply_page(PAGE_EVENTS)
                events += page.events
                if page.events < PAGE_EVENTS:
                    break
            for _ in range(looks):
                assert (await session.apply_page(PAGE_EVENTS)).events == 0
            applied.append(events)
        finally:
            await session.close()
    return applied


async def _servers_look(url: str, looks: int) -> None:
    """The read horizon as every server checks it, and the runners' lag report."""
    pool = make_pool(url, min_size=1, max_size=1)
    await pool.open()
    try:
        for _ in range(looks):
            report = await read_horizon(pool)
            assert report.hidden_events == 0
    finally:
        await pool.close()
    for _ in range(3):
        statuses = await read_statuses(url, list(PROJECTIONS))
        assert all(status.events_behind == 0 for status in statuses if status.live)


def test_runners_and_servers_do_not_scan_the_log_to_keep_up(large_log: str) -> None:
    asyncio.run(_runners_keep_up(large_log, looks=0))
    before = _log_scans(large_log)

    asyncio.run(_runners_keep_up(large_log, looks=LOOKS))
    asyncio.run(_servers_look(large_log, looks=LOOKS))

    assert _log_scans(large_log) == before


def test_the_runners_apply_the_whole_log_first(large_log: str) -> None:
    """The first test's runners were caught up, not idle on an empty slot."""
    applied = asyncio.run(_runners_keep_up(large_log, looks=0))
    assert applied == [LOG_EVENTS] * len(PROJECTIONS)
