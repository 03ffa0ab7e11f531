"""A runner killed with SIGKILL at random points, while events are being appended, resumes
from its checkpoint: it neither skips an event nor applies one twice, and the member
directory it keeps equals a rebuild from scratch, row for row.

The runner is a process of its own (the real `loyalty-ledger projections run`, or the tests'
entry for the event_counts projection), so a kill leaves its transaction open mid-page and its
connection dropped, as a crashed pod would.
"""

import asyncio
import json
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.projections.streams import is_account_stream
from tests.conftest import FakeClock, unique
from tests.integration.ledgers import new_program, running_ledger
from tests.projections.helpers import (
    ROOT,
    RunnerProcess,
    append_history,
    directory_rows,
    event_counts_by_stream,
    live_status,
    rows,
    stream_versions,
    wait_caught_up,
)

MAX_KILLS = 60
"""The kill loop stops after this many kills even if appends are still running."""
MIN_KILLS = 3
"""Kills made at least, the last ones while the runner catches up on what the appends left
(on a fast day the appends end within a few kills)."""
KILL_AFTER_SECONDS = (1.0, 3.0)
"""A runner lives a random while in this range (start-up included) before its SIGKILL."""
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
) -> list[int]:
    """Appends `events` while runners are started and killed one after another; returns the
    live checkpoint's events_applied seen after each kill."""
    rng = random.Random(seed)
    member_ids = [unique("member") for _ in range(members)]
    appending = asyncio.create_task(
        append_history(ledger, program_id, member_ids, events, seed=seed)
    )
    applied_after_kills: list[int] = []
    while (not appending.done() or len(applied_after_kills) < MIN_KILLS) and len(
        applied_after_kills
    ) < MAX_KILLS:
        runner = start_runner()
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


@pytest.mark.fault
async def test_the_member_directory_after_crashes_equals_a_rebuild_from_scratch_row_for_row(
    database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger)
        applied = await _append_while_killing(
            ledger,
            program_id,
            members=200,
            events=100_000,
            start_runner=lambda: RunnerProcess.cli(database_url, "crashing", tmp_path),
            database_url=database_url,
            projection="member_directory",
            seed=11,
        )
    assert len(applied) >= 3, "the runner was not killed often enough to prove anything"

    survivor = RunnerProcess.cli(database_url, "survivor", tmp_path)
    await survivor.wait_leading()
    await wait_caught_up(database_url, "member_directory")
    assert survivor.terminate() == 0
    live = directory_rows(database_url)

    rebuild = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "service.cli", "projections", "rebuild", "member_directory"),
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await asyncio.wait_for(rebuild.communicate(), REBUILD_SECONDS)
    assert rebuild.returncode == 0, errors.decode()[-2000:]
    assert json.loads(output)["events"] >= 100_000
    assert directory_rows(database_url) == live, "the crashed runner's view differs from a rebuild"

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
    listed = {(row[0], row[1]): (row[2], row[3], *row[5:]) for row in live if row[0] == program_id}
    assert len(listed) == 200
    assert listed == truth
