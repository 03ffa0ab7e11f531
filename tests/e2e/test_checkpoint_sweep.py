"""The server's own sweep makes the interval's signed checkpoint when a key is configured, says
at start in one line whether it makes checkpoints, and does not start with a key file it
cannot read."""

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from structlog.testing import capture_logs

from ledger.audit.checkpoints import period_start, verify_checkpoints
from ledger.audit.signing import generate_key_pair, load_signer
from service.config import BadSettings, Settings
from service.server import start_server
from tests.conftest import FakeClock
from tests.integration.ledgers import new_member, new_program, running_ledger
from tests.integration.log_v1 import fresh_database

DAY = 86_400
WAIT_ROUNDS = 300


@pytest.fixture
def own_database(server_url: str) -> Iterator[str]:
    """Its own: a checkpoint covers every stream of the database."""
    with fresh_database(server_url, "loyalty_checkpoint_sweep") as url:
        yield url


def _settings(**checkpoints: object) -> Settings:
    return Settings(
        auth="none",
        plaintext=True,
        listen_address="127.0.0.1:0",
        run_projections=False,
        read_horizon_check_seconds=0,
        **checkpoints,  # type: ignore[arg-type]
    )


async def _wait_for_checkpoints(url: str, count: int) -> None:
    """Until the database holds `count` checkpoints (the sweep runs every second)."""
    for _ in range(WAIT_ROUNDS):
        if len(_checkpoints(url)) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no checkpoint {count} within {WAIT_ROUNDS / 10} s")


def _checkpoints(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT period_start, tree_size FROM ledger.checkpoints ORDER BY checkpoint_id"
        ).fetchall()


async def test_the_servers_sweep_makes_one_signed_checkpoint_per_interval(
    own_database: str, clock: FakeClock, tmp_path: Path
) -> None:
    private, public = tmp_path / "checkpoint.key", tmp_path / "checkpoint.pub"
    generate_key_pair(private, public)
    async with running_ledger(own_database, clock) as ledger:
        program_id = await new_program(ledger)
        await new_member(ledger, program_id, points=10)
    settings = _settings(
        sweep_interval_seconds=1,
        checkpoint_key_file=str(private),
        checkpoint_interval_seconds=DAY,
    )

    with capture_logs() as logs:
        running = await start_server(settings, own_database, now=clock)
        try:
            await _wait_for_checkpoints(own_database, 1)
            clock.advance(days=1)
            await _wait_for_checkpoints(own_database, 2)
        finally:
            await running.stop(1)

    stored = _checkpoints(own_database)
    # Two streams: the program's and its member's.
    assert stored == [
        (period_start(clock.current, DAY) - timedelta(days=1), 2),
        (period_start(clock.current, DAY), 2),
    ]
    checked = verify_checkpoints(own_database, None, [load_signer(private).public_key])
    assert (checked.checkpoints, checked.found) == (2, [])
    started = [log for log in logs if log["event"] in {"checkpoints_on", "checkpoints_off"}]
    assert started == [
        {
            "event": "checkpoints_on",
            "log_level": "info",
            "interval_seconds": DAY,
            "key_id": load_signer(private).public_key.key_id.hex(),
        }
    ]


async def test_a_server_without_a_key_makes_no_checkpoint_and_says_so_once(
    own_database: str, clock: FakeClock
) -> None:
    with capture_logs() as logs:
        running = await start_server(_settings(sweep_interval_seconds=0), own_database, now=clock)
        await running.stop(1)

    assert [log["event"] for log in logs if log["event"].startswith("checkpoints_")] == [
        "checkpoints_off"
    ]
    assert _checkpoints(own_database) == []


async def test_a_server_with_a_key_file_it_cannot_read_does_not_start(
    own_database: str, clock: FakeClock, tmp_path: Path
) -> None:
    public_only = tmp_path / "only.pub"
    generate_key_pair(tmp_path / "checkpoint.key", public_only)
    for path in (tmp_path / "missing.key", public_only):
        with pytest.raises(BadSettings) as raised:
            await start_server(_settings(checkpoint_key_file=str(path)), own_database, now=clock)
        assert len(raised.value.problems) == 1
        assert raised.value.problems[0].startswith(f"LEDGER_CHECKPOINT_KEY_FILE: {path}: ")
