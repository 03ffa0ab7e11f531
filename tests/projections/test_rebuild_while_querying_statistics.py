"""A rebuild of the program statistics while GetProgramStatistics is called in a loop, through
the real server (its own runner keeping the live slot current): every call answers the same
figures, and the copy swapped in equals the live one it replaces, table for table."""

import asyncio
import io

from ledger.projections.catalog import PROGRAM_STATISTICS
from ledger.projections.workers import rebuild_projection
from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, FakeClock, create_program, enroll, request_id
from tests.projections.helpers import live_status, view_rows, wait_caught_up

MEMBERS = 30
ORDERS_EACH = 8
REBUILD_PAGE_EVENTS = 20
"""Small pages, so the rebuild takes many transactions and the calls overlap all of it."""
PERIODS = (pb.STATISTICS_PERIOD_DAY, pb.STATISTICS_PERIOD_MONTH, pb.STATISTICS_PERIOD_YEAR)


async def test_a_rebuild_swaps_in_an_equal_copy_while_every_statistics_call_answers(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    program = f"programs/{program_id}"
    accounts = [await enroll(api.stub, program_id) for _ in range(MEMBERS)]
    for number in range(ORDERS_EACH):
        clock.advance(hours=7)
        for index, account in enumerate(accounts):
            await api.stub.RecordPurchase(
                pb.RecordPurchaseRequest(
                    request_id=request_id(),
                    account=account,
                    order_id=f"o-{number}",
                    amount=pb.Money(currency_code="USD", units=10 + index),
                )
            )
    await wait_caught_up(database_url, PROGRAM_STATISTICS.name)

    async def ask() -> list[pb.ProgramStatistics]:
        answers = []
        for period in PERIODS:
            response = await api.stub.GetProgramStatistics(
                pb.GetProgramStatisticsRequest(
                    program=program, period=period, date=clock.current.date().isoformat()
                )
            )
            answers.append(response.statistics)
        return answers

    expected = await ask()
    (year,) = expected[-1].currencies
    assert (year.customers, year.orders) == (MEMBERS, MEMBERS * ORDERS_EACH)
    live_before = await live_status(database_url, PROGRAM_STATISTICS.name)
    rows_before = view_rows(database_url, PROGRAM_STATISTICS)

    rebuild = asyncio.create_task(
        rebuild_projection(
            database_url, PROGRAM_STATISTICS, io.StringIO(), page_events=REBUILD_PAGE_EVENTS
        )
    )
    answered = 0
    while not rebuild.done():
        assert await ask() == expected, "a call during the rebuild answered other figures"
        answered += 1
    result = await rebuild

    assert answered >= 10, f"only {answered} rounds of calls overlapped the rebuild"
    assert result.events >= MEMBERS * (ORDERS_EACH + 1)
    live_after = await live_status(database_url, PROGRAM_STATISTICS.name)
    assert live_after.slot != live_before.slot, "the rebuilt copy was not swapped in"
    assert view_rows(database_url, PROGRAM_STATISTICS) == rows_before
    assert await ask() == expected
