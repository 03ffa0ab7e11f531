"""A runner killed with SIGKILL at random points, while events are being appended, resumes
from its checkpoint: it neither skips an event nor applies one twice, and every view it keeps
(the member directory, the program statistics) equals a rebuild from scratch, row for row.

The runner is a process of its own (the real `loyalty-ledger projections run`, or the tests'
entry for the event_counts projection), so a kill leaves its transaction open mid-page and its
connection dropped, as a crashed pod would.
"""

import asyncio
import json
import os
import random
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger import bootstrap
from ledger.application import Ledger
from ledger.domain.commands import CreateProgram, Enroll, RecordPurchase, RefundPurchase
from ledger.domain.decisions import Target
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.projections.catalog import (
    MEMBER_DIRECTORY,
    PROGRAM_STATISTICS,
    PROJECTIONS,
    Projection,
)
from ledger.projections.streams import is_account_stream
from ledger.requests import Request
from tests.conftest import FakeClock, request_id, unique
from tests.integration.ledgers import new_program, running_ledger
from tests.integration.log_v1 import fresh_database
from tests.projections.helpers import (
    ROOT,
    RunnerProcess,
    append_history,
    event_counts_by_stream,
    live_status,
    rows,
    stream_versions,
    view_rows,
    wait_caught_up,
)

MAX_KILLS = 60
"""The kill loop stops after this many kills even if appends are still running."""
MIN_KILLS = 3
"""Kills made at least, the last ones while the runner catches up on what the appends left
(on a fast day the appends end within a few kills)."""
KILL_AFTER_SECONDS = (0.2, 2.0)
"""A runner lives a random while in this range once leading (start-up not counted: on a
loaded machine a process can take seconds to import, and a kill then proves nothing)."""
REBUILD_SECONDS = 600.0


async def _append_while_killing(
    ledger: Ledger,
    program_id: str,
    members: int,
    events: int,
    start_runner: Callable[[], RunnerProcess],
    database_url: str,
    projection: str,
    seed: int,
    concurrency: int = 4,
) -> list[int]:
    """Appends `events` while runners are started and killed one after another; returns the
    live checkpoint's events_applied seen after each kill."""
    rng = random.Random(seed)
    member_ids = [unique("member") for _ in range(members)]
    appending = asyncio.create_task(
        append_history(ledger, program_id, member_ids, events, seed=seed, concurrency=concurrency)
    )
    applied_after_kills: list[int] = []
    while (not appending.done() or len(applied_after_kills) < MIN_KILLS) and len(
        applied_after_kills
    ) < MAX_KILLS:
        runner = start_runner()
        await runner.wait_leading()
        await asyncio.sleep(rng.uniform(*KILL_AFTER_SECONDS))
        runner.kill()
        applied_after_kills.append((await live_status(database_url, projection)).events_applied)
    await appending
    return applied_after_kills


@pytest.mark.fault
async def test_a_runner_killed_at_random_points_resumes_without_skipping_or_repeating_an_event(
    event_counts: str, clock: FakeClock, tmp_path: Path
) -> None:
    database_url = event_counts
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger)
        applied = await _append_while_killing(
            ledger,
            program_id,
            members=40,
            events=30_000,
            # Small pages: many transactions, so kills land in the middle of some.
            start_runner=lambda: RunnerProcess.test_entry(
                database_url, "crashing", ["event_counts"], tmp_path, 100
            ),
            database_url=database_url,
            projection="event_counts",
            seed=7,
        )
    assert len(applied) >= 3, "the runner was not killed often enough to prove anything"
    assert applied[-1] > applied[0], "no runner made progress between kills"

    survivor = RunnerProcess.test_entry(database_url, "survivor", ["event_counts"], tmp_path)
    await survivor.wait_leading()
    status = await wait_caught_up(database_url, "event_counts")
    assert survivor.terminate() == 0, "a runner stops cleanly on SIGTERM"

    versions = stream_versions(database_url)
    counted = event_counts_by_stream(database_url)
    assert counted == versions, "an event was skipped or applied twice"
    (total,) = rows(database_url, "SELECT count(*) FROM ledger.events")[0]
    assert status.events_applied == total
    assert sum(v for (p, _), v in versions.items() if p == program_id) >= 30_000


VIEWS: tuple[Projection, ...] = tuple(PROJECTIONS.values())
"""The views killed and rebuilt: every projection the ledger ships (the CLI's runner runs
them all), so a view added to the catalog is in this test from then on."""
PURCHASES = 2_000
"""Orders recorded among the imported events, every tenth refunded in part, so the
statistics count customers and money as well as points."""


async def _purchases(ledger: Ledger, program_id: str, seed: int) -> int:
    """PURCHASES orders over 100 members in two currencies, some refunded; returns orders."""
    rng = random.Random(seed)
    members = [unique("buyer") for _ in range(100)]
    gate = asyncio.Semaphore(2)

    async def one(number: int) -> None:
        member = rng.choice(members)
        currency, exponent = rng.choice((("USD", 2), ("JPY", 0)))
        amount = rng.randint(100, 50_000)
        order = f"o-{number}"
        async with gate:
            target = Target(program_id, member)
            await ledger.execute(
                Request(target, RecordPurchase(order, amount, currency, exponent), request_id())
            )
            if number % 10 == 0:
                await ledger.execute(
                    Request(target, RefundPurchase(order, amount // 2, currency), request_id())
                )

    for member in members:
        await ledger.execute(
            Request(Target(program_id, member), Enroll(program_id, member), request_id())
        )
    await asyncio.gather(*(one(number) for number in range(PURCHASES)))
    return PURCHASES


@pytest.fixture
def own_database(server_url: str) -> Iterator[str]:
    """A database of this test's own: the views hold every program of their database."""
    with fresh_database(server_url, "crash") as url:
        yield url


@pytest.mark.fault
async def test_views_after_crashes_equal_a_rebuild_from_scratch_row_for_row(
    own_database: str, clock: FakeClock, tmp_path: Path
) -> None:
    # The runner processes move members to lapsed by their own (wall) clock: events dated
    # months before it would lapse members at whatever page a sweep happens to follow, which
    # a crash moves. So the test has a database of its own (other tests' events are dated
    # 2026-03-01) and dates its events now: nobody lapses, and the views must match row for
    # row.
    database_url = own_database
    clock.current = datetime.now(UTC)
    # The orders go through a ledger (and a pool) of their own, beside the imports'; pools
    # larger than the imports need, as a shared machine's slow moments want them.
    async with (
        bootstrap.postgres_ledger(database_url, clock, shards=2, pool_max_size=8) as ledger,
        bootstrap.postgres_ledger(database_url, clock, shards=2, pool_max_size=8) as buyers,
    ):
        program_id = unique("prog")
        settings = ProgramSettings(earn_rates=(EarnRate("USD", 1), EarnRate("JPY", 1, 100)))
        await ledger.execute(
            Request(Target(program_id), CreateProgram(program_id, settings), request_id())
        )
        buying = asyncio.create_task(_purchases(buyers, program_id, seed=5))
        applied = await _append_while_killing(
            ledger,
            program_id,
            members=200,
            events=100_000,
            start_runner=lambda: RunnerProcess.cli(database_url, "crashing", tmp_path),
            database_url=database_url,
            projection=MEMBER_DIRECTORY.name,
            seed=11,
            concurrency=2,
        )
        orders = await buying
    assert len(applied) >= 3, "the runner was not killed often enough to prove anything"

    survivor = RunnerProcess.cli(database_url, "survivor", tmp_path)
    await survivor.wait_leading()
    for view in VIEWS:
        await wait_caught_up(database_url, view.name)
    assert survivor.terminate() == 0
    live = {view.name: view_rows(database_url, view) for view in VIEWS}

    for view in VIEWS:
        rebuild = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "service.cli", "projections", "rebuild", view.name),
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        output, errors = await asyncio.wait_for(rebuild.communicate(), REBUILD_SECONDS)
        assert rebuild.returncode == 0, errors.decode()[-2000:]
        assert json.loads(output)["events"] >= 100_000
        rebuilt = view_rows(database_url, view)
        assert rebuilt == live[view.name], (
            f"the crashed runner's {view.name} differs from a rebuild"
        )

    # And both agree with the ledger's own state rows for the accounts appended here.
    truth = {
        (row[0], row[1]): row[2:]
        for row in rows(
            database_url,
            "SELECT program_id, stream_id, version, created_at, points_available,"
            " points_pending, points_held, points_lifetime_earned, points_lifetime_redeemed,"
            " points_expired FROM ledger.streams WHERE program_id = %s",
            [program_id],
        )
        if is_account_stream(row[1])
    }
    directory = live[MEMBER_DIRECTORY.name]["member_directory"]
    listed = {
        (row[0], row[1]): (row[2], row[3], *row[5:11]) for row in directory if row[0] == program_id
    }
    assert len(listed) == 300
    assert listed == truth
    # And the statistics counted every order once, in each of its periods.
    years = [
        row
        for row in live[PROGRAM_STATISTICS.name]["program_statistics"]
        if row[0] == program_id and row[2] == "y" and row[1] != ""
    ]
    assert sum(row[7] for row in years) == orders
