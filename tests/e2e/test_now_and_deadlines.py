"""Reads show the account as of now, and a caller's deadline bounds the database work done for
it: what a storefront notices, through the real gRPC channel."""

import asyncio

import grpc
import psycopg
import pytest

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, FakeClock, create_program, earn, enroll, request_id

DEADLINE_SECONDS = 0.05


async def _account(api: Api, account: str) -> pb.Account:
    return (await api.stub.GetAccount(pb.GetAccountRequest(name=account))).account


async def test_a_hold_that_lapsed_a_second_ago_shows_as_released_before_any_write(
    api: Api, clock: FakeClock
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 30)
    await api.stub.ReservePoints(
        pb.ReservePointsRequest(
            request_id=request_id(),
            account=account,
            reservation_id="basket-1",
            points=30,
            ttl_seconds=1,
        )
    )
    held = await _account(api, account)

    clock.advance(seconds=2)
    lapsed = await _account(api, account)

    assert (held.balances.available, held.balances.held) == (0, 30)
    assert (lapsed.balances.available, lapsed.balances.held) == (30, 0)
    assert lapsed.version == held.version, "reading appends nothing"


async def test_pending_points_past_their_window_show_as_available_before_the_sweep(
    api: Api, clock: FakeClock
) -> None:
    program_id = await create_program(api.stub, return_window_days=14)
    account = await enroll(api.stub, program_id)
    await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=account,
            order_id="order-1",
            amount=pb.Money(currency_code="USD", units=40),
        )
    )
    clock.advance(days=14, seconds=1)

    balances = (await _account(api, account)).balances

    assert (balances.available, balances.pending) == (40, 0)


async def _waiting_on_a_lock(database_url: str) -> int:
    """Statements of the ledger's connections waiting on a lock right now."""
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        cursor = await connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state = 'active' AND wait_event_type = 'Lock'"
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def _gone(database_url: str) -> bool:
    for _ in range(50):
        if await _waiting_on_a_lock(database_url) == 0:
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.parametrize("call", ["GetAccount", "EarnPoints"])
async def test_a_call_past_its_deadline_leaves_no_query_behind(
    api: Api, database_url: str, call: str
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 10)
    # Another session holds the state rows' table: reads and appends of it wait.
    locker = await psycopg.AsyncConnection.connect(database_url)
    async with locker, locker.transaction():
        await locker.execute("LOCK TABLE ledger.streams IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(grpc.aio.AioRpcError) as expired:
            if call == "GetAccount":
                await api.stub.GetAccount(
                    pb.GetAccountRequest(name=account), timeout=DEADLINE_SECONDS
                )
            else:
                # A fresh ledger reads the stream first; this one has it cached and
                # goes straight to the append, which waits on the lock too.
                await api.stub.EarnPoints(
                    pb.EarnPointsRequest(
                        request_id=request_id(), account=account, points=5, reason="bonus"
                    ),
                    timeout=DEADLINE_SECONDS,
                )
        # The client's own verdict: the call is given up at the deadline, whatever the
        # server was doing.
        assert expired.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert await _gone(database_url), "the query outlived its caller"

    assert (await _account(api, account)).balances.available in (10, 15)
