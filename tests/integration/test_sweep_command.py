"""`loyalty-ledger sweep` (the Kubernetes CronJob) expires stored answers past their retention,
as the servers' own sweep does."""

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import FakeClock
from tests.integration.ledgers import new_member, new_program, running_ledger
from tests.integration.log_v1 import fresh_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_database(server_url: str) -> Iterator[str]:
    """Its own: the command sweeps by the real clock, past every fake-clock answer."""
    with fresh_database(server_url, "loyalty_sweep_command") as url:
        yield url


def _answers(url: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT count(*) FROM ledger.requests").fetchone()
    assert row is not None
    return int(row[0])


async def test_the_sweep_command_expires_answers_older_than_the_retention(
    own_database: str, clock: FakeClock
) -> None:
    async with running_ledger(own_database, clock) as ledger:  # answers stored at T0
        program_id = await new_program(ledger)
        await new_member(ledger, program_id, points=5)
    stored = _answers(own_database)

    def sweep(retention_days: str) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            [sys.executable, "-m", "service.cli", "sweep"],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "DATABASE_URL": own_database,
                "LEDGER_ANSWER_RETENTION_DAYS": retention_days,
            },
            cwd=ROOT,
            timeout=120,
            check=True,
        )

    # T0 is 2026-03-01: within a retention of ten years, past one of 30 days.
    kept = await asyncio.to_thread(sweep, "3650")
    expired = await asyncio.to_thread(sweep, "30")

    assert stored == 3
    assert json.loads(kept.stdout)["answers_expired"] == 0
    assert json.loads(expired.stdout)["answers_expired"] == stored
    assert _answers(own_database) == 0


def test_the_sweep_command_makes_the_intervals_signed_checkpoint_once(
    own_database: str, tmp_path: Path
) -> None:
    from ledger.audit.signing import generate_key_pair

    private = tmp_path / "checkpoint.key"
    generate_key_pair(private, tmp_path / "checkpoint.pub")

    def sweep() -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            [sys.executable, "-m", "service.cli", "sweep"],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "DATABASE_URL": own_database,
                "LEDGER_CHECKPOINT_KEY_FILE": str(private),
                # The longest interval: both runs fall in the same one.
                "LEDGER_CHECKPOINT_INTERVAL_SECONDS": str(31 * 86_400),
            },
            cwd=ROOT,
            timeout=120,
            check=True,
        )

    first, second = sweep(), sweep()

    assert isinstance(json.loads(first.stdout)["checkpoint_id"], int)
    # The interval has its checkpoint already.
    assert json.loads(second.stdout)["checkpoint_id"] is None
    with psycopg.connect(own_database) as connection:
        row = connection.execute("SELECT count(*) FROM ledger.checkpoints").fetchone()
    assert row == (1,)
