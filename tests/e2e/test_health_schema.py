"""A server is ready only on a database at its migrations.

Kubernetes starts the servers with `serve --no-migrate` and runs the migrations in a Job of
their own; until that Job has run, a server must not take traffic (every call would fail):
its readiness (health "") is NOT_SERVING and says why in a log line, while its liveness
stays SERVING (restarting it would not help). It turns SERVING by itself once migrated.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2
from psycopg import sql
from psycopg.conninfo import make_conninfo
from structlog.testing import capture_logs

from ledger import bootstrap
from ledger.store.migrate import migration_names
from loyalty.v1 import ledger_pb2_grpc
from service.config import Settings
from service.server import LIVENESS_CHECK, SERVICE_NAME, start_server
from tests.conftest import FakeClock, create_program, health_status, wait_for_health
from tests.integration.log_v1 import fresh_database

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
CHECK_INTERVAL_SECONDS = 0.05
WATCHED_SECONDS = 1.0
"""How long a server on a database behind is watched: twenty checks of its database."""
LAST_BEFORE_GRANT = "0007_member_keys.sql"
"""The last migration before the one that lets the service's role read what is applied."""


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    """A new database no migration has touched, dropped on the way out."""
    name = f"loyalty_empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@asynccontextmanager
async def serving_without_migrating(
    database_url: str, clock: FakeClock, role: str | None = None
) -> AsyncIterator[grpc.aio.Channel]:
    """What `serve --no-migrate` starts, on port 0, and a channel to it."""
    settings = Settings(
        auth="none",
        plaintext=True,
        listen_address="127.0.0.1:0",
        database_role=role,
        sweep_interval_seconds=0,
        health_check_interval_seconds=CHECK_INTERVAL_SECONDS,
        run_projections=False,
    )
    running = await start_server(settings, database_url, now=clock)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield channel
    finally:
        await channel.close()
        await running.stop(1)


async def never_ready_while_watched(channel: grpc.aio.Channel) -> None:
    """Readiness is NOT_SERVING at every look for WATCHED_SECONDS; liveness SERVING."""
    deadline = time.monotonic() + WATCHED_SECONDS
    while time.monotonic() < deadline:
        assert await health_status(channel) == NOT_SERVING
        assert await health_status(channel, SERVICE_NAME) == NOT_SERVING
        assert await health_status(channel, LIVENESS_CHECK) == SERVING
        await asyncio.sleep(CHECK_INTERVAL_SECONDS / 2)


def logged(logs: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if line["event"] == event]


async def test_a_server_on_an_empty_database_is_not_ready_until_it_is_migrated(
    empty_database: str, clock: FakeClock
) -> None:
    with capture_logs() as logs:
        async with serving_without_migrating(empty_database, clock) as channel:
            await never_ready_while_watched(channel)
            [behind] = logged(logs, "schema_behind")
            assert behind["missing_migrations"] == sorted(migration_names())

            bootstrap.migrate(empty_database, until=LAST_BEFORE_GRANT)
            await never_ready_while_watched(channel)

            bootstrap.migrate(empty_database)
            await wait_for_health(channel, SERVING)
            assert await health_status(channel, SERVICE_NAME) == SERVING
            await create_program(ledger_pb2_grpc.LedgerServiceStub(channel))

    missing = [line["missing_migrations"] for line in logged(logs, "schema_behind")]
    assert missing[-1] == [name for name in sorted(migration_names()) if name > LAST_BEFORE_GRANT]
    assert len(logged(logs, "schema_current")) == 1


async def test_the_service_role_is_not_ready_before_the_migration_that_lets_it_read_the_schema(
    empty_database: str, clock: FakeClock
) -> None:
    bootstrap.migrate(empty_database, until=LAST_BEFORE_GRANT)
    with capture_logs() as logs:
        async with serving_without_migrating(
            empty_database, clock, role="loyalty_ledger_app"
        ) as channel:
            await never_ready_while_watched(channel)
            assert logged(logs, "schema_unreadable")

            bootstrap.migrate(empty_database)
            await wait_for_health(channel, SERVING)
            await create_program(ledger_pb2_grpc.LedgerServiceStub(channel))


async def test_a_database_a_newer_release_migrated_further_keeps_this_release_ready(
    server_url: str, clock: FakeClock
) -> None:
    """A rolling update migrates before it replaces the servers: the old ones stay ready."""
    with fresh_database(server_url, "loyalty_ahead") as url:
        with psycopg.connect(url, autocommit=True) as owner:
            owner.execute(
                "INSERT INTO ledger.schema_migrations (name) VALUES (%s)",
                ["9999_from_a_newer_release.sql"],
            )
        with capture_logs() as logs:
            async with serving_without_migrating(url, clock) as channel:
                await wait_for_health(channel, SERVING)
                await create_program(ledger_pb2_grpc.LedgerServiceStub(channel))
        [ahead] = logged(logs, "schema_ahead")
        assert ahead["unknown_migrations"] == ["9999_from_a_newer_release.sql"]
