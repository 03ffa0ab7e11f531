"""Concurrent requests never overspend, never leave a version gap, never duplicate."""

import asyncio

import grpc
import psycopg

from ledger.audit.replay import replay
from ledger.domain.commands import EarnPoints, RedeemPoints
from ledger.domain.decisions import Target
from ledger.domain.errors import FailedPrecondition
from ledger.requests import Request
from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, FakeClock, create_program, earn, enroll, request_id
from tests.integration.ledgers import (
    count_events,
    member_key,
    new_member,
    new_program,
    running_ledger,
)


async def test_fifty_concurrent_redemptions_of_a_balance_covering_ten_let_exactly_ten_through(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 100)

    async def redeem() -> grpc.StatusCode:
        try:
            await api.stub.RedeemPoints(
                pb.RedeemPointsRequest(request_id=request_id(), account=account, points=10)
            )
        except grpc.aio.AioRpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    codes = await asyncio.gather(*(redeem() for _ in range(50)))

    assert codes.count(grpc.StatusCode.OK) == 10
    assert codes.count(grpc.StatusCode.FAILED_PRECONDITION) == 40
    balances = (await api.stub.GetAccount(pb.GetAccountRequest(name=account))).account.balances
    assert balances.available == 0
    assert balances.lifetime_redeemed == 100
    assert count_events(database_url, program_id, "PointsRedeemed") == 10


async def test_redemptions_racing_through_two_ledger_processes_never_overspend(
    database_url: str, clock: FakeClock
) -> None:
    async with (
        running_ledger(database_url, clock) as first,
        running_ledger(database_url, clock) as second,
    ):
        program_id = await new_program(first)
        member_id = await new_member(first, program_id, points=100)

        async def redeem(index: int) -> bool:
            ledger = first if index % 2 else second
            try:
                await ledger.execute(
                    Request(Target(program_id, member_id), RedeemPoints(10), request_id())
                )
            except FailedPrecondition:
                return False
            return True

        results = await asyncio.gather(*(redeem(index) for index in range(50)))

        account = await first.get_account(program_id, member_id, "name")
    assert results.count(True) == 10
    assert account.balances.available == 0
    assert count_events(database_url, program_id, "PointsRedeemed") == 10


async def test_writers_in_three_processes_leave_contiguous_versions_and_an_intact_chain(
    database_url: str, clock: FakeClock
) -> None:
    async with (
        running_ledger(database_url, clock) as one,
        running_ledger(database_url, clock) as two,
        running_ledger(database_url, clock) as three,
    ):
        program_id = await new_program(one)
        member_id = await new_member(one, program_id)
        ledgers = [one, two, three]
        await asyncio.gather(
            *(
                ledgers[index % 3].execute(
                    Request(
                        Target(program_id, member_id), EarnPoints(1 + index, "bonus"), request_id()
                    )
                )
                for index in range(60)
            )
        )
        account = await one.get_account(program_id, member_id, "name")

    with psycopg.connect(database_url) as connection:
        versions = [
            row[0]
            for row in connection.execute(
                "SELECT version FROM ledger.events WHERE program_id = %s AND stream_id = %s"
                " ORDER BY version",
                [program_id, member_key(database_url, program_id, member_id)],
            )
        ]
    assert versions == list(range(1, 62))  # enrolment + 60 earns, no gap, no duplicate
    assert account.balances.available == sum(1 + index for index in range(60))
    audit = replay(database_url, program_id)
    assert audit.ok, audit.discrepancies
    assert audit.events == 62  # the program's own event too
