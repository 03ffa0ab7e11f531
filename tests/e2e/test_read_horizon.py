"""A transaction left open in another database of the same server holds every reader back:
what a follower of StreamEvents and an operator would see, and what happens when it ends."""

import asyncio
import uuid
from collections.abc import Iterator

import grpc
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from structlog.testing import capture_logs

from ledger.application import Ledger
from ledger.eventlog.horizon import ReadHorizon
from ledger.feed import FeedLimits
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.config import Settings
from service.server import start_server
from tests.conftest import FakeClock, create_program, earn, enroll
from tests.e2e.streams import Subscriber, settled, stream_all, wait_until

HELD_EVENTS = 3


@pytest.fixture
def other_database(server_url: str) -> Iterator[str]:
    """A database of the same server that has nothing to do with the ledger."""
    name = f"loyalty_other_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


async def _count_events(database_url: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        cursor = await connection.execute("SELECT count(*) FROM ledger.events")
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def _held_by(ledger: Ledger, database: str) -> ReadHorizon:
    """The read horizon once the oldest holder is a session of `database`: a transaction that
    began earlier may still run a moment (this server's runners start on the whole log other
    tests wrote, and a page catching up holds an id), but none can begin earlier."""
    for _ in range(200):
        horizon = await ledger.read_horizon()
        if horizon.holder is not None and horizon.holder.database == database:
            return horizon
        await asyncio.sleep(0.05)
    raise AssertionError(f"the horizon is not held by {database}: {horizon}")


async def test_a_transaction_open_in_another_database_holds_readers_back_until_it_ends(
    server_url: str, database_url: str, other_database: str, clock: FakeClock
) -> None:
    settings = Settings(
        auth="none",
        plaintext=True,
        listen_address="127.0.0.1:0",
        sweep_interval_seconds=0,
        read_horizon_check_seconds=0.2,
        read_horizon_warn_seconds=0.5,
    )
    running = await start_server(
        settings, database_url, now=clock, feed_limits=FeedLimits(poll_seconds=0.3)
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    stub = ledger_pb2_grpc.LedgerServiceStub(channel)
    follower: Subscriber | None = None
    try:
        program_id = await create_program(stub)
        program = f"programs/{program_id}"
        account = await enroll(stub, program_id)
        # The enrolment may show in the feed a moment after it is acknowledged (a projection
        # page's transaction holds the horizon while it runs): start after it, once visible.
        await settled(running.ledger)
        entries = await stream_all(stub, program)
        assert any(entry.entry.account == account for entry in entries), "enrolment never seen"
        start = entries[-1].position
        follower = Subscriber(stub, pb.StreamEventsRequest(program=program, after_position=start))
        await wait_until(lambda: running.feed.live_subscribers == 1, 10, "the follower is live")

        other_url = make_conninfo(server_url, dbname=other_database)
        with capture_logs() as logs:
            async with await psycopg.AsyncConnection.connect(other_url) as forgotten:
                # A session that took a transaction id and went idle in its transaction.
                await forgotten.execute("SELECT pg_current_xact_id()")
                for points in range(1, HELD_EVENTS + 1):
                    await earn(stub, account, points)  # writes are not held up
                first = await _held_by(running.ledger, other_database)
                await asyncio.sleep(1.0)
                second = await running.ledger.read_horizon()
                assert follower.received == [], "the follower saw events past the horizon"
                assert await stream_all(stub, program, start) == [], "so did a catch-up read"
                stored = await _count_events(database_url)
                notifications = running.feed.stats.notified_rounds
                looked_again = running.feed.stats.held_back_rounds
                await forgotten.rollback()

            # No append from here on, so no notification: the feed's own look again at the
            # events it knows are held back delivers them.
            await follower.wait_for(HELD_EVENTS, 5)
            await wait_until(
                lambda: any(log["event"] == "read_horizon_released" for log in logs),
                5,
                "the release is logged",
            )
        released = await running.ledger.read_horizon()
    finally:
        if follower is not None:
            await follower.stop()
        await channel.close()
        await running.stop(1)

    assert [r.entry.points_delta for r in follower.received] == [1, 2, 3]
    assert await _count_events(database_url) == stored
    assert running.feed.stats.notified_rounds == notifications
    assert running.feed.stats.held_back_rounds > looked_again

    # What the operator sees while it lasts: who holds the horizon, for how long, and what waits.
    for report in (first, second):
        assert report.holder is not None
        assert (report.holder.kind, report.holder.database) == ("session", other_database)
        assert report.holder.state == "idle in transaction"
        assert report.hidden_events >= HELD_EVENTS
        assert report.transactions_behind >= HELD_EVENTS
    assert second.held_seconds >= first.held_seconds + 0.9
    assert released.holder is None or released.holder.database != other_database
    assert released.hidden_events == 0
    warnings = [log for log in logs if log["event"] == "read_horizon_held_back"]
    assert warnings, "the service warned while readers were held back"
    assert warnings[-1]["log_level"] == "warning"
    assert warnings[-1]["holder"]["database"] == other_database
