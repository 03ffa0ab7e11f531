"""A request is applied once, however often and however concurrently it is sent."""

import asyncio

import grpc

from ledger.domain.commands import RedeemPoints
from ledger.domain.decisions import Target
from ledger.requests import Request
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.config import Settings
from service.server import start_server
from tests.conftest import Api, FakeClock, create_program, earn, enroll, request_id
from tests.integration.ledgers import count_events, new_member, new_program, running_ledger


async def test_the_same_request_sent_five_times_at_once_appends_once_and_answers_alike(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 500)
    before = count_events(database_url, program_id)
    request = pb.RedeemPointsRequest(request_id=request_id(), account=account, points=120)

    responses = await asyncio.gather(*(api.stub.RedeemPoints(request) for _ in range(5)))

    assert count_events(database_url, program_id) == before + 1
    assert all(response == responses[0] for response in responses)
    assert responses[0].account.balances.available == 380


async def test_the_same_request_through_two_processes_at_once_appends_once(
    database_url: str, clock: FakeClock
) -> None:
    async with (
        running_ledger(database_url, clock) as first,
        running_ledger(database_url, clock) as second,
    ):
        program_id = await new_program(first)
        member_id = await new_member(first, program_id, points=100)
        before = count_events(database_url, program_id)
        request = Request(Target(program_id, member_id), RedeemPoints(30), request_id())

        outcomes = await asyncio.gather(
            *((first if index % 2 else second).execute(request) for index in range(6))
        )

    assert count_events(database_url, program_id) == before + 1
    assert all(outcome == outcomes[0] for outcome in outcomes)
    assert outcomes[0].accounts[member_id].balances.available == 70


async def test_a_restarted_server_answers_a_retry_of_a_request_committed_before_the_restart(
    database_url: str, clock: FakeClock
) -> None:
    settings = Settings(
        auth="none", plaintext=True, listen_address="127.0.0.1:0", sweep_interval_seconds=0
    )
    first = await start_server(settings, database_url, now=clock)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{first.port}") as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        program_id = await create_program(stub)
        account = await enroll(stub, program_id)
        await earn(stub, account, 200)
        request = pb.RedeemPointsRequest(request_id=request_id(), account=account, points=50)
        original = await stub.RedeemPoints(request)
    await first.stop(1)
    appended = count_events(database_url, program_id)

    clock.advance(minutes=5)
    second = await start_server(settings, database_url, now=clock)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{second.port}") as channel:
        retried = await ledger_pb2_grpc.LedgerServiceStub(channel).RedeemPoints(request)
    await second.stop(1)

    assert retried == original
    assert count_events(database_url, program_id) == appended
