"""`loyalty-ledger projections run` serves its metrics as `serve` does: in Kubernetes the
servers run no runner, so the projections' lag, and which process leads each one, are seen
only here."""

import asyncio
import time
from pathlib import Path

import pytest

from ledger.projections.catalog import PROJECTIONS
from tests.fault.postgres import free_port
from tests.projections.helpers import STARTUP_SECONDS, RunnerProcess
from tests.scrapes import sample, scrape


@pytest.mark.fault
async def test_the_runner_process_serves_each_projections_lag_and_who_leads_it(
    service_database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    runner = RunnerProcess.cli(
        service_database_url,
        "measured",
        tmp_path,
        env={"LEDGER_PROMETHEUS_ADDRESS": f"127.0.0.1:{port}"},
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert runner.alive(), runner.log_path.read_text()[-2000:]
            try:
                scraped = await asyncio.to_thread(scrape, port)
            except OSError:
                scraped = ""
            labels = [f'projection="{name}"' for name in PROJECTIONS]
            if all(
                sample(scraped, "ledger_projection_lag_seconds", label) is not None
                for label in labels
            ):
                break
            assert time.monotonic() < deadline, f"not all reported: {scraped[-3000:]}"
            await asyncio.sleep(0.1)
    finally:
        code = runner.terminate()
    assert code == 0
    for label in labels:
        assert sample(scraped, "ledger_projection_leading", label) == 1
        assert sample(scraped, "ledger_projection_lag_events", label) is not None
    assert "process_cpu_seconds_total" in scraped
