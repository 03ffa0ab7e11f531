"""Shared fixtures: a fresh database per test run, a clock tests control, a ledger, a server.

The database server is $DATABASE_URL's when set, else the embedded PostgreSQL (pgserver).
Either way the run creates its own database, migrates it, and drops it at the end; no other
database is touched.
"""

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ledger import bootstrap
from ledger.application import Ledger
from ledger.store.embedded import default_data_dir, service_login_url, start_embedded_postgres
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.config import Settings
from service.server import RunningServer, start_server

if TYPE_CHECKING:
    # The stub's type over a grpc.aio channel (mypy-protobuf; exists only for type checkers).
    from loyalty.v1.ledger_pb2_grpc import LedgerServiceAsyncStub

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """The time tests decide: starts at T0 and moves only when told."""

    def __init__(self, start: datetime = T0) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture(scope="session")
def server_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    return url or start_embedded_postgres(default_data_dir())


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    name = f"loyalty_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(server_url, dbname=name)
    bootstrap.migrate(url)
    yield url
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def service_database_url(database_url: str) -> str:
    """The run's database as the service's own login, a member of loyalty_ledger_app only
    (README "Database roles"): what a `serve` process logs in as, since it refuses a
    superuser. Per test, as packages of tests have databases of their own."""
    return service_login_url(database_url)


@pytest.fixture
def db_params(database_url: str) -> dict[str, Any]:
    return conninfo_to_dict(database_url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def ledger(database_url: str, clock: FakeClock) -> AsyncIterator[Ledger]:
    async with bootstrap.postgres_ledger(
        database_url, clock, shards=2, pool_min_size=1, pool_max_size=4
    ) as instance:
        yield instance


@dataclass
class Api:
    running: RunningServer
    channel: grpc.aio.Channel
    stub: "LedgerServiceAsyncStub"
    target: str


@pytest.fixture
async def api(database_url: str, clock: FakeClock) -> AsyncIterator[Api]:
    """The real server on port 0 and a real channel to it."""
    settings = Settings(
        auth="none", plaintext=True, listen_address="127.0.0.1:0", sweep_interval_seconds=0
    )
    running = await start_server(settings, database_url, now=clock)
    target = f"127.0.0.1:{running.port}"
    channel = grpc.aio.insecure_channel(target)
    # Ready as Kubernetes would route to it: health starts NOT_SERVING until its first check
    # of the database.
    await wait_for_health(channel, health_pb2.HealthCheckResponse.SERVING)
    yield Api(running, channel, ledger_pb2_grpc.LedgerServiceStub(channel), target)
    await channel.close()
    await running.stop(1)


SERVING_WITHIN_SECONDS = 10.0


async def health_status(channel: grpc.aio.Channel, service: str = "") -> int | None:
    """The health `service` reports, or None if it is unknown to the server."""
    try:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=1.0
        )
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return None
    return int(response.status)


async def wait_for_health(
    channel: grpc.aio.Channel, status: int, within_seconds: float = SERVING_WITHIN_SECONDS
) -> None:
    """Polls every 20 ms until the overall health is `status`; fails after `within_seconds`."""
    deadline = time.monotonic() + within_seconds
    while await health_status(channel) != status:
        if time.monotonic() > deadline:
            name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
            raise AssertionError(f"health did not report {name} within {within_seconds} s")
        await asyncio.sleep(0.02)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def request_id() -> str:
    return str(uuid.uuid4())


async def create_program(stub: "LedgerServiceAsyncStub", **settings: Any) -> str:
    """A fresh program (1 point per USD, 1 per 100 JPY, 10 per KWD unless told otherwise)."""
    program_id = unique("prog")
    program = pb.Program(
        earn_rates=settings.pop(
            "earn_rates",
            [
                pb.EarnRate(currency_code="USD", points=1, per_major_units=1),
                pb.EarnRate(currency_code="JPY", points=1, per_major_units=100),
                pb.EarnRate(currency_code="KWD", points=10, per_major_units=1),
            ],
        ),
        **settings,
    )
    await stub.CreateProgram(
        pb.CreateProgramRequest(request_id=request_id(), program_id=program_id, program=program)
    )
    return program_id


async def enroll(stub: "LedgerServiceAsyncStub", program_id: str) -> str:
    """A fresh member of the program; returns the account name."""
    member_id = unique("member")
    response = await stub.EnrollMember(
        pb.EnrollMemberRequest(
            request_id=request_id(), parent=f"programs/{program_id}", member_id=member_id
        )
    )
    return response.account.name


async def earn(stub: "LedgerServiceAsyncStub", account: str, points: int) -> None:
    await stub.EarnPoints(
        pb.EarnPointsRequest(
            request_id=request_id(), account=account, points=points, reason="bonus"
        )
    )
