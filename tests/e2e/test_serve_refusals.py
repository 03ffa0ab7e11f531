"""`loyalty-ledger serve` given what it cannot work with ends at once, saying why in a line an
operator can act on: no traceback, no process left hanging for Kubernetes to kill."""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXIT_SECONDS = 60
"""Far above what exiting takes (about a second): only a hang reaches it."""


def _serve(
    database_url: str, *arguments: str, **environment: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LEDGER_SWEEP_INTERVAL_SECONDS": "0",
        "LEDGER_RUN_PROJECTIONS": "false",
        "LEDGER_AUTH": "none",
        "LEDGER_PLAINTEXT": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "gen")]),
        **environment,
    }
    return subprocess.run(  # noqa: S603 - our own entry point
        [sys.executable, "-m", "service.cli", "serve", *arguments],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=EXIT_SECONDS,
        check=False,
    )


def test_a_port_in_use_ends_the_process_with_the_address_named(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"

        finished = _serve(database_url, "--listen", address)

    assert finished.returncode == 1
    assert f"cannot listen on {address}" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_every_bad_setting_is_named_at_once_and_nothing_starts(database_url: str) -> None:
    finished = _serve(
        database_url,
        LEDGER_SHARDS="0",
        LEDGER_POOL_MAX_SIZE="ten",
        LEDGER_FEED_POLL_SECONDS="nan",
        LEDGER_RUN_PROJECTIONS="maybe",
        LEDGER_LISTEN_ADDRESS="localhost",
    )

    assert finished.returncode == 2
    assert "Traceback" not in finished.stderr
    named = [line.split(":")[0].strip() for line in finished.stderr.splitlines()[1:]]
    assert named == [
        "LEDGER_LISTEN_ADDRESS",
        "LEDGER_SHARDS",
        "LEDGER_POOL_MAX_SIZE",
        "LEDGER_RUN_PROJECTIONS",
        "LEDGER_FEED_POLL_SECONDS",
    ]
    assert "LEDGER_SHARDS: must be a whole number from 1 to 64, not '0'" in finished.stderr
