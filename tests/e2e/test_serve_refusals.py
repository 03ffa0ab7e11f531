"""`loyalty-ledger serve` given what it cannot work with ends at once, saying why in a line an
operator can act on: no traceback, no process left hanging for Kubernetes to kill. A
privileged database login is one such thing, unless development says otherwise."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
EXIT_SECONDS = 60
"""Far above what exiting takes (about a second): only a hang reaches it."""
START_SECONDS = 60
"""Likewise, for a server to answer SERVING."""


def _environment(database_url: str, owner_url: str, **environment: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "LEDGER_OWNER_DATABASE_URL": owner_url,
        "LEDGER_SWEEP_INTERVAL_SECONDS": "0",
        "LEDGER_RUN_PROJECTIONS": "false",
        "LEDGER_AUTH": "none",
        "LEDGER_PLAINTEXT": "1",
        "LEDGER_LOG_LEVEL": "INFO",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "gen")]),
        **environment,
    }


def _serve(
    database_url: str, owner_url: str, *arguments: str, **environment: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own entry point
        [sys.executable, "-m", "service.cli", "serve", *arguments],
        capture_output=True,
        text=True,
        env=_environment(database_url, owner_url, **environment),
        cwd=ROOT,
        timeout=EXIT_SECONDS,
        check=False,
    )


def test_a_port_in_use_ends_the_process_with_the_address_named(
    service_database_url: str, database_url: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"

        finished = _serve(service_database_url, database_url, "--listen", address)

    assert finished.returncode == 1
    assert f"cannot listen on {address}" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_every_bad_setting_is_named_at_once_and_nothing_starts(
    service_database_url: str, database_url: str
) -> None:
    finished = _serve(
        service_database_url,
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


def test_a_database_that_never_answers_ends_serve_in_one_line_after_the_wait(
    database_url: str,
) -> None:
    with socket.socket() as closed:  # a port nothing listens on once this block ends
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = f"postgresql://postgres@127.0.0.1:{port}/postgres?connect_timeout=1"

    finished = _serve(
        unreachable,
        database_url,
        "--no-migrate",
        "--listen",
        "127.0.0.1:0",
        LEDGER_START_DATABASE_WAIT_SECONDS="2",
    )

    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr
    [line] = finished.stderr.strip().splitlines()
    assert "the database did not answer within 2 s" in line


def test_a_superuser_login_is_refused_in_one_line_naming_the_way_out(database_url: str) -> None:
    """The run's own URL is a superuser's: the login that can RESET ROLE out of the
    restricted role and turn the append-only triggers off."""
    finished = _serve(database_url, database_url, "--listen", "127.0.0.1:0")

    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr
    [line] = finished.stderr.strip().splitlines()
    assert line.startswith("loyalty-ledger: ")
    assert "LEDGER_ALLOW_PRIVILEGED_LOGIN" in line
    assert not _events(finished.stdout) & {"serving"}


@pytest.mark.parametrize("login", ["restricted", "superuser allowed for development"])
def test_serve_answers_as_the_restricted_login_and_as_a_superuser_only_when_allowed(
    login: str, service_database_url: str, database_url: str, tmp_path: Path
) -> None:
    if login == "restricted":
        environment = _environment(service_database_url, database_url)
    else:
        environment = _environment(database_url, database_url, LEDGER_ALLOW_PRIVILEGED_LOGIN="true")

    with _serving(environment, tmp_path / "serve.log") as log_path:
        events = _events(log_path.read_text(errors="replace"))

    assert "serving" in events
    warned = "database_login_privileged_allowed" in events
    assert warned == (login != "restricted"), "the opt-out is said out loud, and only then"


def _events(output: str) -> set[str]:
    """The `event` of every JSON log line."""
    return {json.loads(line)["event"] for line in output.splitlines() if line.startswith("{")}


@contextlib.contextmanager
def _serving(environment: dict[str, str], log_path: Path) -> Iterator[Path]:
    """`serve` on a port of its own, until health says SERVING; stopped with SIGTERM after,
    which it must survive with exit status 0."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own entry point
            [sys.executable, "-m", "service.cli", "serve", "--listen", f"127.0.0.1:{port}"],
            env=environment,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_serving(process, f"127.0.0.1:{port}", log_path)
        yield log_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    assert code == 0, log_path.read_text(errors="replace")[-3000:]


def _wait_serving(process: "subprocess.Popen[bytes]", target: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
            with contextlib.suppress(grpc.RpcError):
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            time.sleep(0.1)
    raise AssertionError(f"not SERVING within {START_SECONDS} s:\n{log_path.read_text()}")
