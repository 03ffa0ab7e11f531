"""Two runners of one projection started at once: one leads and is the only one to write; the
other stands by and takes over, from the leader's last checkpoint, when the leader is killed.

Who wrote is read from the view itself: the tests' event_counts projection counts every
event for the runner that applied it.
"""

import asyncio
import time
from pathlib import Path

import pytest

from tests.conftest import FakeClock, unique
from tests.integration.ledgers import new_program, running_ledger
from tests.projections.helpers import (
    RunnerProcess,
    append_history,
    event_counts_by_stream,
    live_status,
    rows,
    stream_versions,
    wait_caught_up,
)

CONNECT_SECONDS = 60.0


def runners_that_wrote(database_url: str, runner_ids: set[str]) -> set[str]:
    found = rows(database_url, "SELECT DISTINCT runner FROM ledger.event_counts")
    return {row[0] for row in found} & runner_ids


async def wait_both_connected(database_url: str) -> None:
    """Until two runner sessions of event_counts are connected: one leading, one standing by."""
    deadline = time.monotonic() + CONNECT_SECONDS
    while True:
        ((connected,),) = rows(
            database_url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'loyalty-ledger projection event_counts'",
        )
        if connected == 2:
            return
        assert time.monotonic() < deadline, f"{connected} runner sessions connected"
        await asyncio.sleep(0.05)


@pytest.mark.fault
async def test_of_two_runners_started_at_once_only_one_writes_until_it_dies_then_the_other(
    event_counts: str, clock: FakeClock, tmp_path: Path
) -> None:
    database_url = event_counts
    ids = {unique("first"), unique("second")}
    runners = {
        runner_id: RunnerProcess.test_entry(database_url, runner_id, ["event_counts"], tmp_path)
        for runner_id in ids
    }
    try:
        await wait_both_connected(database_url)
        async with running_ledger(database_url, clock) as ledger:
            program_id = await new_program(ledger)
            members = [unique("member") for _ in range(20)]
            await append_history(ledger, program_id, members, 5_000, seed=3)
            await wait_caught_up(database_url, "event_counts")

            writers = runners_that_wrote(database_url, ids)
            assert len(writers) == 1, f"both runners wrote: {writers}"
            (leader,) = writers
            (standby,) = ids - writers
            assert (await live_status(database_url, "event_counts")).runner == leader
            assert runners[standby].alive(), "the standby is there, and wrote nothing"
            assert "projection_leading" not in runners[standby].log_events()

            runners[leader].kill()
            await runners[standby].wait_leading()
            await append_history(ledger, program_id, members, 5_000, seed=4)
            await wait_caught_up(database_url, "event_counts")

        assert runners_that_wrote(database_url, ids) == ids
        assert (await live_status(database_url, "event_counts")).runner == standby
        # The standby started where the leader's last committed page ended: summed over
        # both, every stream's count is its version, so no event was applied by both.
        assert event_counts_by_stream(database_url) == stream_versions(database_url)
    finally:
        for runner in runners.values():
            if runner.alive():
                runner.kill()
