"""Projection figures, each against a raw COPY of the same log measured in the same run:
how fast a runner catches the member directory up with the log (the live runner's pages),
and how fast a rebuild of the member directory runs (the rebuild's pages and its swap)."""

import asyncio
import io
import statistics
import time
from typing import Any

import psycopg

from benchmarks import ceilings
from ledger.projections.catalog import MEMBER_DIRECTORY
from ledger.projections.runner import PAGE_EVENTS
from ledger.projections.workers import rebuild_projection
from ledger.store.projection_sessions import PostgresRunnerSession

MAX_PAGES = 1_000_000
CATCH_UP_TARGET = 0.25
REBUILD_TARGET = 0.25
"""Floors until a full run has measured these figures; the slowest log for the directory is
one where every event of a page belongs to another account (a row rewritten per event)."""
_RESET = """
TRUNCATE ledger.member_directory_a, ledger.member_directory_b;
UPDATE ledger.projection_checkpoints
SET transaction_id = '0', position = 0, events_applied = 0, last_event_recorded_at = NULL
WHERE projection = 'member_directory';
"""


async def _catch_up(conninfo: str) -> dict[str, float]:
    session = await PostgresRunnerSession.open(conninfo, MEMBER_DIRECTORY, runner="bench")
    try:
        assert await session.try_lead(), "no other runner may run on the benchmark's database"
        events = 0
        started = time.perf_counter()
        for _ in range(MAX_PAGES):
            page = await session.apply_page(PAGE_EVENTS)
            events += page.events
            if page.events < PAGE_EVENTS:
                break
        elapsed = time.perf_counter() - started
    finally:
        await session.close()
    return {"events": events, "seconds": elapsed, "per_second": events / elapsed}


def catch_up_rate(conninfo: str) -> dict[str, float]:
    """Events per second of a runner applying the whole log from position 0 to an empty
    member directory, in its live pages (PAGE_EVENTS a transaction). The service under
    benchmark runs no runner (benchmarks/harness.py), so this one leads."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(_RESET)
    return asyncio.run(_catch_up(conninfo))


def _rates(runs: list[dict[str, float]]) -> str:
    return " / ".join(f"{run['per_second']:,.0f}" for run in runs)


def figures(conninfo: str, repeats: int) -> list[dict[str, Any]]:
    """The two figures, as fields of benchmarks.__main__.Figure."""
    catch_ups: list[dict[str, float]] = []
    copies: list[dict[str, float]] = []
    for _ in range(repeats):  # alternated, so drift in the machine hits both
        catch_ups.append(catch_up_rate(conninfo))
        copies.append(ceilings.copy_rate(conninfo))
    catch_up = statistics.median(run["per_second"] for run in catch_ups)
    copy = statistics.median(run["per_second"] for run in copies)
    rebuilt = asyncio.run(rebuild_projection(conninfo, MEMBER_DIRECTORY, io.StringIO()))
    events = int(catch_ups[0]["events"])
    return [
        {
            "name": "Member directory catch-up (projection runner pages) vs raw COPY",
            "ours": catch_up,
            "ceiling": copy,
            "unit": "events/s",
            "target": f">= {CATCH_UP_TARGET}x",
            "passes": catch_up / copy >= CATCH_UP_TARGET,
            "detail": f"{events:,} events applied from position 0 to the emptied directory,"
            f" {PAGE_EVENTS:,} a page (one statement and one transaction each);"
            f" medians of {repeats} alternated runs (catch-up {_rates(catch_ups)},"
            f" COPY {_rates(copies)} events/s)",
        },
        {
            "name": f"Member directory rebuild over {rebuilt.events:,} events vs raw COPY",
            "ours": rebuilt.events_per_second,
            "ceiling": copy,
            "unit": "events/s",
            "target": f">= {REBUILD_TARGET}x",
            "passes": rebuilt.events_per_second / copy >= REBUILD_TARGET,
            "detail": f"`loyalty-ledger projections rebuild member_directory`'s work in"
            f" {rebuilt.seconds:.1f} s: the standby slot emptied, filled from position 0 and"
            f" swapped in ({rebuilt.swap_attempts} swap attempt(s)); COPY is the median above",
        },
    ]
