"""GetProgramStatistics as a caller meets it: the period holding today when no date is given,
counted in the program's time zone, and bad requests refused naming the field."""

from datetime import UTC, datetime

import grpc
import pytest

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, FakeClock, create_program, enroll, request_id
from tests.e2e.errors import failure
from tests.projections.helpers import wait_caught_up


async def _buy(api: Api, account: str, order_id: str, dollars: int) -> None:
    await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=account,
            order_id=order_id,
            amount=pb.Money(currency_code="USD", units=dollars),
        )
    )


async def test_without_a_date_the_period_holding_today_in_the_programs_zone_answers(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    program_id = await create_program(api.stub, time_zone="Pacific/Auckland")
    account = await enroll(api.stub, program_id)
    # 23:30 UTC on 31 March is 12:30 on 1 April in Auckland (UTC+13): an April order there.
    clock.current = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    await _buy(api, account, "o-1", 40)
    await _buy(api, account, "o-2", 20)
    await wait_caught_up(database_url, "program_statistics")

    response = await api.stub.GetProgramStatistics(
        pb.GetProgramStatisticsRequest(
            program=f"programs/{program_id}", period=pb.STATISTICS_PERIOD_MONTH
        )
    )
    got = response.statistics
    assert (got.start_date, got.end_date, got.time_zone) == (
        "2026-04-01",
        "2026-04-30",
        "Pacific/Auckland",
    )
    (usd,) = got.currencies
    assert (usd.customers, usd.new_customers, usd.repeat_customers, usd.orders) == (1, 1, 1, 2)
    assert (usd.gross_revenue.units, usd.average_order_value.units) == (60, 30)
    assert usd.repeat_purchase_rate == 1.0 and usd.purchase_frequency == 2.0
    assert (got.points.issued, got.points.outstanding) == (60, 60)
    assert got.data_time.ToDatetime(UTC) == clock.current

    march = await api.stub.GetProgramStatistics(
        pb.GetProgramStatisticsRequest(
            program=f"programs/{program_id}", period=pb.STATISTICS_PERIOD_MONTH, date="2026-03-31"
        )
    )
    assert not march.statistics.currencies and march.statistics.points.issued == 0


@pytest.mark.parametrize(
    ("request_fields", "code", "field"),
    [
        ({"period": pb.STATISTICS_PERIOD_DAY}, grpc.StatusCode.INVALID_ARGUMENT, "program"),
        (
            {"program": "programs/x", "period": pb.STATISTICS_PERIOD_UNSPECIFIED},
            grpc.StatusCode.INVALID_ARGUMENT,
            "period",
        ),
        (
            {"program": "programs/x", "period": pb.STATISTICS_PERIOD_DAY, "date": "2026-13-01"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "date",
        ),
        (
            {"program": "programs/x", "period": pb.STATISTICS_PERIOD_DAY, "date": "2026-W10"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "date",
        ),
        (
            {"program": "programs/no-such-program", "period": pb.STATISTICS_PERIOD_YEAR},
            grpc.StatusCode.NOT_FOUND,
            "program",
        ),
    ],
)
async def test_a_bad_request_is_refused_naming_the_field(
    api: Api, request_fields: dict[str, object], code: grpc.StatusCode, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.GetProgramStatistics(pb.GetProgramStatisticsRequest(**request_fields))  # type: ignore[arg-type]
    got_code, _, fields = failure(refused.value)
    assert got_code == code
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert fields == [field]
