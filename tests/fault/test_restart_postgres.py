"""PostgreSQL goes away under load, twice (a clean stop, then a crash), and comes back.

While it is down, the service must say so: grpc.health.v1 reports NOT_SERVING within a few
seconds and writes fail with UNAVAILABLE (retryable), never INTERNAL and never a hang. When
it is back, health returns to SERVING by itself, a write refused during the outage succeeds
when retried with its request_id, and no acknowledged write is lost or doubled.
"""

import asyncio
import time
from pathlib import Path

import grpc
import pytest

from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.config import Settings
from service.server import start_server
from tests.fault.harness import (
    NOT_SERVING,
    SERVING,
    AccountClient,
    Tally,
    acked_count,
    burst_reached,
    call_with_retries,
    cancel,
    create_program_and_members,
    finish,
    health_status,
    new_request_id,
    open_channel,
    verify_ledger,
    wait_for_health,
    wait_until,
)
from tests.fault.postgres import PostgresInstance, StopMode

MEMBERS = 8
REQUESTS_PER_MEMBER = 40
OUTAGES: tuple[tuple[float, StopMode], ...] = ((0.2, "fast"), (0.55, "immediate"))
"""(fraction of the burst acknowledged when PostgreSQL is stopped, pg_ctl stop mode)"""
NOT_SERVING_WITHIN_SECONDS = 5.0
SERVING_AGAIN_WITHIN_SECONDS = 15.0
PROBE_TIMEOUT_SECONDS = 15.0
"""Deadline of the write sent during the outage: long enough for the service to answer."""
DOWN_AT_LEAST_SECONDS = 3.0


@pytest.mark.fault
async def test_postgres_outage_is_reported_and_survived(
    postgres: PostgresInstance, tmp_path: Path
) -> None:
    settings = Settings(
        auth="none",
        plaintext=True,
        listen_address="127.0.0.1:0",
        sweep_interval_seconds=0,
        health_check_interval_seconds=0.2,
    )
    running = await start_server(settings, postgres.url)
    tally = Tally()
    tasks: list[asyncio.Task[None]] = []
    began = time.monotonic()
    try:
        async with open_channel(f"127.0.0.1:{running.port}") as channel:
            await wait_for_health(channel, SERVING, within_seconds=10)
            stub = ledger_pb2_grpc.LedgerServiceStub(channel)
            setup = await create_program_and_members(stub, tally, MEMBERS + 1, seed=2)
            prober, *clients = setup.clients  # the prober writes only during outages
            total = MEMBERS * REQUESTS_PER_MEMBER
            tasks = [
                asyncio.create_task(client.run(stub, tally, REQUESTS_PER_MEMBER))
                for client in clients
            ]
            probes: list[str] = []
            figures: list[str] = []
            for fraction, mode in OUTAGES:
                await wait_until(
                    burst_reached(clients, fraction * total),
                    within_seconds=60,
                    what=f"{fraction:.0%} of the burst acknowledged",
                )
                down_at = time.monotonic()
                postgres.stop(mode)
                unacked_at_stop = total - acked_count(clients)
                await wait_for_health(
                    channel, NOT_SERVING, within_seconds=NOT_SERVING_WITHIN_SECONDS
                )
                to_not_serving = time.monotonic() - down_at
                probe_id, probe_code, probe_seconds = await _write_while_down(stub, prober)
                assert probe_code == grpc.StatusCode.UNAVAILABLE, probe_code
                assert await health_status(channel) == NOT_SERVING
                await asyncio.sleep(max(0.0, DOWN_AT_LEAST_SECONDS - (time.monotonic() - down_at)))

                postgres.start()
                up_at = time.monotonic()
                to_serving = await wait_for_health(
                    channel, SERVING, within_seconds=SERVING_AGAIN_WITHIN_SECONDS
                )
                await _retry_probe(stub, tally, prober, probe_id)
                probes.append(probe_id)
                figures.append(
                    f"{mode}: unacked_at_stop={unacked_at_stop}"
                    f" not_serving_after_stop_s={to_not_serving:.2f}"
                    f" probe=UNAVAILABLE_in_{probe_seconds:.1f}s"
                    f" down_s={up_at - down_at:.1f} serving_after_s={to_serving:.2f}"
                )
            await finish(tasks, within_seconds=90)

            verified = await verify_ledger(postgres.url, stub, tally, setup, extra_acked=probes)

        assert sum(client.sent for client in clients) == total
        assert set(tally.codes) <= {"OK", "UNAVAILABLE"}, tally.summary()  # no INTERNAL, no hang
        print(
            f"\nFAULT restart_postgres: requests={total} (+{len(setup.acked)} setup"
            f" +{len(probes)} probes) outages={len(OUTAGES)} [{'; '.join(figures)}]"
            f" attempts={tally.attempts} retries={tally.retries}"
            f" retried_requests={sum(client.retried_requests for client in clients)}"
            f" replies_lost_after_commit={verified.committed_before_failure}"
            f" codes[{tally.summary()}] events={verified.events}"
            f" elapsed_s={time.monotonic() - began:.1f}"
        )
    finally:
        await cancel(tasks)
        await running.stop(1)


async def _write_while_down(
    stub: "ledger_pb2_grpc.LedgerServiceAsyncStub", prober: AccountClient
) -> tuple[str, grpc.StatusCode, float]:
    """One earn sent while the database is down: its request id, status code and latency."""
    request_id = new_request_id()
    started = time.monotonic()
    try:
        await stub.EarnPoints(
            pb.EarnPointsRequest(
                request_id=request_id, account=prober.account, points=7, reason="bonus"
            ),
            timeout=PROBE_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as error:
        return request_id, error.code(), time.monotonic() - started
    return request_id, grpc.StatusCode.OK, time.monotonic() - started


async def _retry_probe(
    stub: "ledger_pb2_grpc.LedgerServiceAsyncStub",
    tally: Tally,
    prober: AccountClient,
    request_id: str,
) -> None:
    """The refused write, retried with its request id once the database is back, succeeds."""
    request = pb.EarnPointsRequest(
        request_id=request_id, account=prober.account, points=7, reason="bonus"
    )
    acknowledged = await call_with_retries(tally, lambda: stub.EarnPoints(request, timeout=10))
    prober.available += 7
    prober.earned += 7
    prober.version += 1
    assert acknowledged.response.account.balances.available == prober.available
    assert acknowledged.response.account.version == prober.version
