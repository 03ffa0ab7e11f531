"""SIGKILL the service mid-burst, twice: no acknowledged write is lost, none is doubled.

The real `loyalty-ledger serve` runs as a child process on the test's own PostgreSQL.
Clients keep sending earns and redemptions, retrying each with its request_id; the service
is killed without warning (requests in flight: some committed but never answered, some
never committed) and started again on the same port. Retries of committed requests must get
the original answer, the rest must be applied once.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from ledger.store.embedded import service_login_url
from loyalty.v1 import ledger_pb2_grpc
from tests.fault.harness import (
    SERVING,
    Tally,
    acked_count,
    burst_reached,
    cancel,
    create_program_and_members,
    finish,
    health_status,
    open_channel,
    verify_ledger,
    wait_until,
)
from tests.fault.postgres import PostgresInstance, free_port

MEMBERS = 10
REQUESTS_PER_MEMBER = 40
KILL_AT = (0.25, 0.6)
"""Fractions of the burst acknowledged when the service is killed."""
START_TIMEOUT_SECONDS = 30.0


class ServiceProcess:
    """`loyalty-ledger serve` on 127.0.0.1:<port>, output to a log file."""

    def __init__(self, database_url: str, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.env = {
            name: value for name, value in os.environ.items() if not name.startswith("OTEL_")
        }
        self.env.update(
            # The service's own login, as in production (it refuses a superuser); it
            # migrates on start with the owner's.
            DATABASE_URL=service_login_url(database_url),
            LEDGER_OWNER_DATABASE_URL=database_url,
            LEDGER_LISTEN_ADDRESS=f"127.0.0.1:{port}",
            LEDGER_SWEEP_INTERVAL_SECONDS="0",
            LEDGER_SHUTDOWN_GRACE_SECONDS="1",
            OTEL_SDK_DISABLED="true",
            LEDGER_AUTH="none",
            LEDGER_PLAINTEXT="1",
        )

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None
        script = Path(sys.executable).parent / "loyalty-ledger"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own entry point
            [*command, "serve", "--listen", self.target],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, in-flight calls are cut off."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self._reap(timeout=10)

    def stop(self) -> None:
        """For teardown: SIGTERM (graceful), SIGKILL if it does not exit in time."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._reap(timeout=10)

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _reap(self, timeout: float) -> None:
        assert self.process is not None
        self.process.wait(timeout=timeout)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


async def _start_and_wait(service: ServiceProcess) -> float:
    """Starts the service; seconds until its health reports SERVING."""
    started = time.monotonic()
    service.start()
    async with open_channel(service.target) as probe:
        while (await health_status(probe)) != SERVING:
            if service.exited():
                raise AssertionError(f"service exited:\n{service.log_tail()}")
            if time.monotonic() - started > START_TIMEOUT_SECONDS:
                raise AssertionError(
                    f"service not SERVING after {START_TIMEOUT_SECONDS} s:\n{service.log_tail()}"
                )
            await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.fault
async def test_sigkill_mid_burst_loses_and_doubles_nothing(
    postgres: PostgresInstance, tmp_path: Path
) -> None:
    service = ServiceProcess(postgres.url, free_port(), tmp_path / "service.log")
    tally = Tally()
    tasks: list[asyncio.Task[None]] = []
    began = time.monotonic()
    try:
        await _start_and_wait(service)
        async with open_channel(service.target) as channel:
            stub = ledger_pb2_grpc.LedgerServiceStub(channel)
            setup = await create_program_and_members(stub, tally, MEMBERS, seed=1)
            total = MEMBERS * REQUESTS_PER_MEMBER
            tasks = [
                asyncio.create_task(client.run(stub, tally, REQUESTS_PER_MEMBER))
                for client in setup.clients
            ]
            in_flight_at_kill: list[int] = []
            restart_seconds: list[float] = []
            for fraction in KILL_AT:
                await wait_until(
                    burst_reached(setup.clients, fraction * total),
                    within_seconds=60,
                    what=f"{fraction:.0%} of the burst acknowledged",
                )
                service.kill()
                in_flight_at_kill.append(total - acked_count(setup.clients))
                restart_seconds.append(await _start_and_wait(service))
            await finish(tasks, within_seconds=90)

            verified = await verify_ledger(postgres.url, stub, tally, setup)

        sent = sum(client.sent for client in setup.clients)
        retried = sum(client.retried_requests for client in setup.clients)
        assert sent == total
        assert all(remaining > 0 for remaining in in_flight_at_kill), "killed after the burst"
        assert set(tally.codes) <= {"OK", "UNAVAILABLE"}, tally.summary()  # no INTERNAL, no hang
        print(
            f"\nFAULT kill_service: requests={sent} (+{len(setup.acked)} setup)"
            f" acked={acked_count(setup.clients)} kills={len(KILL_AT)}"
            f" unacked_at_kill={in_flight_at_kill}"
            f" restart_to_serving_s={[round(s, 2) for s in restart_seconds]}"
            f" attempts={tally.attempts} retries={tally.retries} retried_requests={retried}"
            f" replies_lost_after_commit={verified.committed_before_failure}"
            f" codes[{tally.summary()}] events={verified.events}"
            f" elapsed_s={time.monotonic() - began:.1f}"
        )
    finally:
        await cancel(tasks)
        service.stop()
