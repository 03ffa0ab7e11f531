"""`loyalty-ledger serve` runs the member directory's runner in its own process, and SIGTERM
stops it cleanly: the process exits 0 and the projection's lock is free for a standby."""

import asyncio
import sys
from pathlib import Path

import pytest

from tests.projections.helpers import RunnerProcess, live_status


@pytest.mark.fault
async def test_a_serving_process_runs_the_directory_runner_and_sigterm_stops_it_cleanly(
    database_url: str, service_database_url: str, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "service.cli", "serve", "--no-migrate", "--listen"]
    server = RunnerProcess([*command, "127.0.0.1:0"], service_database_url, tmp_path)
    try:
        await server.wait_leading()
        assert (await live_status(database_url, "member_directory")).runner_active
    finally:
        code = server.terminate()
    assert code == 0, server.log_path.read_text()[-2000:]
    # The server ends the closed session a moment after the process has gone.
    for _ in range(100):
        if not (await live_status(database_url, "member_directory")).runner_active:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the stopped server's runner still holds the projection's lock")
