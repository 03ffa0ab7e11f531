"""A server whose connections are all taken by calls is busy, not down: readiness stays
SERVING.

Were readiness to fail whenever every pooled connection is in use, Kubernetes would take a
busy server out of the Service, and under a load spread evenly over the servers it would
take them all out at once: an overload turned into an outage. The health check reads the
schema over a connection of its own, so it never waits behind the calls.
"""

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2

from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.config import Settings
from service.server import start_server
from tests.conftest import (
    FakeClock,
    create_program,
    earn,
    enroll,
    health_status,
    request_id,
    wait_for_health,
)
from tests.integration.log_v1 import fresh_database

SERVING = health_pb2.HealthCheckResponse.SERVING
POOL_SIZE = 2
CHECK_INTERVAL_SECONDS = 0.1
WATCHED_SECONDS = 3.0
"""Longer than a call waits for a pooled connection (2 s) plus a check interval: through the
shared pool, the check would have failed within it."""
CALL_TIMEOUT_SECONDS = 9.0


@pytest.fixture
def own_database(server_url: str) -> Iterator[str]:
    """A database of this test's own: it locks the log's tables."""
    with fresh_database(server_url, "health_busy") as url:
        yield url


async def _backends_waiting_on_a_lock(admin: psycopg.AsyncConnection[Any]) -> int:
    cursor = await admin.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def test_readiness_stays_serving_while_calls_hold_every_pooled_connection(
    own_database: str,
) -> None:
    settings = Settings(
        auth="none",
        plaintext=True,
        listen_address="127.0.0.1:0",
        sweep_interval_seconds=0,
        health_check_interval_seconds=CHECK_INTERVAL_SECONDS,
        run_projections=False,
        pool_max_size=POOL_SIZE,
    )
    running = await start_server(settings, own_database, now=FakeClock())
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = ledger_pb2_grpc.LedgerServiceStub(channel)
            await wait_for_health(channel, SERVING)
            program_id = await create_program(stub)
            account = await enroll(stub, program_id)
            await earn(stub, account, 10)

            async with (
                await psycopg.AsyncConnection.connect(own_database, autocommit=True) as admin,
                await psycopg.AsyncConnection.connect(own_database) as blocker,
            ):
                # Every read and write of accounts now waits, holding its pooled connection.
                await blocker.execute(
                    "LOCK TABLE ledger.streams, ledger.events IN ACCESS EXCLUSIVE MODE"
                )
                earn_five = pb.EarnPointsRequest(
                    request_id=request_id(), account=account, points=5, reason="bonus"
                )
                calls = [
                    asyncio.ensure_future(stub.EarnPoints(earn_five, timeout=CALL_TIMEOUT_SECONDS)),
                    asyncio.ensure_future(
                        stub.GetAccount(
                            pb.GetAccountRequest(name=account), timeout=CALL_TIMEOUT_SECONDS
                        )
                    ),
                    *(
                        asyncio.ensure_future(
                            stub.ListLedgerEntries(
                                pb.ListLedgerEntriesRequest(parent=account),
                                timeout=CALL_TIMEOUT_SECONDS,
                            )
                        )
                        for _ in range(3)
                    ),
                ]
                deadline = time.monotonic() + 5
                while await _backends_waiting_on_a_lock(admin) < POOL_SIZE:
                    assert time.monotonic() < deadline, "the calls did not fill the pool"
                    await asyncio.sleep(0.02)

                statuses = []
                watch_until = time.monotonic() + WATCHED_SECONDS
                while time.monotonic() < watch_until:
                    statuses.append(await health_status(channel))
                    await asyncio.sleep(0.05)
                assert await _backends_waiting_on_a_lock(admin) >= POOL_SIZE, (
                    "the pool was not full all along"
                )
                await blocker.rollback()

            assert set(statuses) == {SERVING}, statuses
            # The calls that found no connection within 2 s were turned away UNAVAILABLE (to
            # be retried), the others answered once the tables were free; the earn, sent again
            # under its request id, is applied once whichever it was.
            for outcome in await asyncio.gather(*calls, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    assert isinstance(outcome, grpc.aio.AioRpcError), outcome
                    assert outcome.code() == grpc.StatusCode.UNAVAILABLE, outcome
            again = await stub.EarnPoints(earn_five, timeout=CALL_TIMEOUT_SECONDS)
            assert again.account.balances.available == 15
    finally:
        await running.stop(1)
