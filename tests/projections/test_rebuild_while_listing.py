"""A rebuild of the member directory while ListAccounts is called in a loop, through the real
server (its own runner keeping the live slot current): every call answers, in full, and the
copy swapped in equals the live one it replaces."""

import asyncio
import io
from datetime import timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from ledger.projections.catalog import MEMBER_DIRECTORY
from ledger.projections.workers import rebuild_projection
from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import T0, Api, create_program, request_id
from tests.projections.helpers import directory_rows, live_status, wait_caught_up

ACCOUNTS = 300
EVENTS_PER_ACCOUNT = 10
REBUILD_PAGE_EVENTS = 50
"""Small pages, so the rebuild takes many transactions and the calls overlap all of it."""
FILTER = "lifetime_earned >= 1000"


async def _import(api: Api, program_id: str) -> None:
    when = Timestamp()
    when.FromDatetime(T0 - timedelta(days=1))
    for round_number in range(EVENTS_PER_ACCOUNT):
        await api.stub.ImportHistory(
            pb.ImportHistoryRequest(
                request_id=request_id(),
                parent=f"programs/{program_id}",
                events=[
                    pb.HistoricalEvent(
                        account=f"programs/{program_id}/accounts/member-{index:03d}",
                        points_delta=index + 1,
                        occur_time=when,
                        external_id=f"import-{round_number}-{index}",
                        kind="purchase",
                    )
                    for index in range(ACCOUNTS)
                ],
            )
        )


async def _list_all(api: Api, program_id: str, filter_text: str = "") -> list[pb.Account]:
    accounts: list[pb.Account] = []
    token = ""
    for _ in range(ACCOUNTS):
        page = await api.stub.ListAccounts(
            pb.ListAccountsRequest(
                parent=f"programs/{program_id}",
                page_size=1000,
                page_token=token,
                filter=filter_text,
            )
        )
        accounts += page.accounts
        token = page.next_page_token
        if not token:
            return accounts
    raise AssertionError("more pages than accounts")


async def test_a_rebuild_swaps_in_an_equal_copy_while_every_list_call_answers_in_full(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    await _import(api, program_id)
    await wait_caught_up(database_url, "member_directory")
    everyone = await _list_all(api, program_id)
    assert len(everyone) == ACCOUNTS
    expected = [a for a in everyone if a.balances.lifetime_earned >= 1000]
    assert 0 < len(expected) < ACCOUNTS
    live_before = await live_status(database_url, "member_directory")
    rows_before = directory_rows(database_url, f"member_directory_{live_before.slot}")

    rebuild = asyncio.create_task(
        rebuild_projection(
            database_url, MEMBER_DIRECTORY, io.StringIO(), page_events=REBUILD_PAGE_EVENTS
        )
    )
    answered = 0
    while not rebuild.done():
        page = await api.stub.ListAccounts(
            pb.ListAccountsRequest(parent=f"programs/{program_id}", filter=FILTER)
        )
        assert list(page.accounts) == expected[:100], "a call during the rebuild answered wrong"
        answered += 1
    result = await rebuild

    assert answered >= 10, f"only {answered} calls overlapped the rebuild"
    assert result.events >= ACCOUNTS * (EVENTS_PER_ACCOUNT + 1)
    live_after = await live_status(database_url, "member_directory")
    assert live_after.slot != live_before.slot, "the rebuilt copy was not swapped in"
    assert directory_rows(database_url, f"member_directory_{live_after.slot}") == rows_before
    assert await _list_all(api, program_id) == everyone
