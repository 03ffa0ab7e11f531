"""Reads show the account as of now, and a caller's deadline bounds the database work done for
it: what a storefront notices, through the real gRPC channel."""

import asyncio
from collections.abc import Awaitable
from typing import Any

import grpc
import psycopg
import pytest

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, FakeClock, create_program, earn, enroll, request_id

DEADLINE_SECONDS = 0.05
ATTEMPTS = 5
"""Calls made until one's query is caught in pg_stat_activity: on a loaded machine a 50 ms
call may be given up before its query reaches PostgreSQL, which proves nothing either way."""
POLLS_WHILE_RUNNING = 10_000
"""Far more than a 50 ms call leaves time for (a look takes a fraction of a millisecond)."""
POLLS_AFTER_THE_CALL = 100
"""Looks, 20 ms apart, for the given-up query to leave (2 s: far above a cancellation's
round trip; a query left running stays as long as the lock is held)."""


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


async def _blocked_by(observer: psycopg.AsyncConnection[Any], locker_pid: int) -> int:
    """Statements in this database waiting, right now, for the lock `locker_pid` holds."""
    cursor = await observer.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND state = 'active' AND %s = ANY(pg_blocking_pids(pid))",
        [locker_pid],
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def _seen_while_running(
    call: "asyncio.Task[object]", observer: psycopg.AsyncConnection[Any], locker_pid: int
) -> bool:
    """Whether the call's query was seen waiting in PostgreSQL before the call ended (the
    observer asks as fast as it can: a call lives 50 ms)."""
    for _ in range(POLLS_WHILE_RUNNING):
        if call.done():
            return False
        if await _blocked_by(observer, locker_pid):
            return True
    raise AssertionError("the call outlived its deadline by far: the client never gave up")


async def _gone(observer: psycopg.AsyncConnection[Any], locker_pid: int) -> bool:
    for _ in range(POLLS_AFTER_THE_CALL):
        if await _blocked_by(observer, locker_pid) == 0:
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.mark.parametrize("call", ["GetAccount", "EarnPoints"])
async def test_a_call_past_its_deadline_leaves_no_query_behind(
    api: Api, database_url: str, call: str
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 10)

    def slow_call() -> "asyncio.Task[object]":
        if call == "GetAccount":
            rpc: Awaitable[object] = api.stub.GetAccount(
                pb.GetAccountRequest(name=account), timeout=DEADLINE_SECONDS
            )
        else:
            # A fresh ledger reads the stream first; this one has it cached and goes
            # straight to the append, which waits on the lock too.
            rpc = api.stub.EarnPoints(
                pb.EarnPointsRequest(
                    request_id=request_id(), account=account, points=5, reason="bonus"
                ),
                timeout=DEADLINE_SECONDS,
            )
        return asyncio.ensure_future(rpc)

    # Another session holds the state rows' table: reads and appends of it wait in
    # PostgreSQL, as a slow query would, until cancelled.
    locker = await psycopg.AsyncConnection.connect(database_url)
    observer = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    async with observer, locker, locker.transaction():
        await locker.execute("LOCK TABLE ledger.streams IN ACCESS EXCLUSIVE MODE")
        locker_pid = locker.info.backend_pid
        seen = False
        codes = []
        for _ in range(ATTEMPTS):
            running = slow_call()
            seen = await _seen_while_running(running, observer, locker_pid)
            with pytest.raises(grpc.aio.AioRpcError) as expired:
                await running
            codes.append(expired.value.code())
            if seen:
                break
        # Still holding the lock: a query the server left running would wait on it yet.
        gone = await _gone(observer, locker_pid)

    assert seen, "no call's query ever reached PostgreSQL: the test proved nothing"
    assert set(codes) == {grpc.StatusCode.DEADLINE_EXCEEDED}
    assert gone, "the query outlived its caller"
    # Cancelled in PostgreSQL, so never applied: the earn given up on added nothing.
    assert (await _account(api, account)).balances.available == 10
