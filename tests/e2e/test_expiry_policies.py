"""Expiry policies through gRPC: the account shows what expires soonest and when, and when its
whole balance expires if the member stays inactive; the sweep expires it with a fixed clock."""

from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, FakeClock, create_program, enroll, request_id, unique
from tests.e2e.errors import failure, violation_fields

PARIS = "Europe/Paris"


def usd(units: int) -> pb.Money:
    return pb.Money(currency_code="USD", units=units)


async def buy(api: Api, account: str, units: int) -> None:
    await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(), account=account, order_id=unique("o"), amount=usd(units)
        )
    )


async def get(api: Api, account: str) -> pb.Account:
    return (await api.stub.GetAccount(pb.GetAccountRequest(name=account))).account


def when(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


async def test_get_account_shows_points_expiring_soon_and_when_an_inactive_balance_expires(
    api: Api, clock: FakeClock
) -> None:
    program_id = await create_program(
        api.stub,
        time_zone=PARIS,
        points_expiry_days=365,
        expiry_rounding=pb.EXPIRY_ROUNDING_END_OF_YEAR,
        inactivity_expiry_days=180,
        qualifying_activities=[pb.QUALIFYING_ACTIVITY_PURCHASE],
    )
    account = await enroll(api.stub, program_id)
    await buy(api, account, 100)  # at T0, 2026-03-01 12:00 UTC

    view = await get(api, account)

    # 365 days end on 2027-03-01, rounded to the end of 2027 in Paris (UTC+1 in winter).
    assert [(p.points, when(p.expire_time)) for p in view.expiring_points] == [
        (100, datetime(2027, 12, 31, 23, tzinfo=UTC))
    ]
    # 180 days end on 2026-08-28, the balance lasts until the end of that day in Paris (UTC+2).
    assert when(view.balance_expire_time) == datetime(2026, 8, 28, 22, tzinfo=UTC)

    clock.advance(days=100)  # a purchase on 2026-06-09 moves the deadline to 2026-12-06
    await buy(api, account, 20)
    moved = await get(api, account)
    assert when(moved.balance_expire_time) == datetime(2026, 12, 6, 23, tzinfo=UTC)

    clock.current = datetime(2026, 8, 29, tzinfo=UTC)  # the first deadline has passed
    await api.running.ledger.sweep()
    assert (await get(api, account)).balances.available == 120

    clock.current = datetime(2026, 12, 6, 23, tzinfo=UTC)
    await api.running.ledger.sweep()
    await api.running.ledger.sweep()
    expired = await get(api, account)
    assert (expired.balances.available, expired.balances.expired) == (0, 120)
    assert not expired.HasField("balance_expire_time")
    assert list(expired.expiring_points) == []


async def test_the_program_answers_its_expiry_policy_as_set(api: Api) -> None:
    program_id = await create_program(
        api.stub,
        points_expiry_days=30,
        expiry_rounding=pb.EXPIRY_ROUNDING_END_OF_MONTH,
        inactivity_expiry_days=365,
        qualifying_activities=[pb.QUALIFYING_ACTIVITY_PURCHASE, pb.QUALIFYING_ACTIVITY_REDEMPTION],
    )

    got = await api.stub.GetProgram(pb.GetProgramRequest(name=f"programs/{program_id}"))

    assert got.program.expiry_rounding == pb.EXPIRY_ROUNDING_END_OF_MONTH
    assert got.program.inactivity_expiry_days == 365
    assert list(got.program.qualifying_activities) == [
        pb.QUALIFYING_ACTIVITY_PURCHASE,
        pb.QUALIFYING_ACTIVITY_REDEMPTION,
    ]


async def test_expiry_settings_that_make_no_sense_are_refused_naming_each(api: Api) -> None:
    program_id = unique("prog")
    program = pb.Program(
        earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)],
        expiry_rounding=pb.EXPIRY_ROUNDING_END_OF_YEAR,
        inactivity_expiry_days=90,
    )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.CreateProgram(
            pb.CreateProgramRequest(request_id=request_id(), program_id=program_id, program=program)
        )

    assert failure(refused.value)[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert violation_fields(refused.value) == [
        "program.expiry_rounding",
        "program.qualifying_activities",
    ]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await api.stub.GetProgram(pb.GetProgramRequest(name=f"programs/{program_id}"))
    assert failure(missing.value)[0] == grpc.StatusCode.NOT_FOUND


async def test_an_unknown_activity_is_refused_naming_its_index(api: Api) -> None:
    program = pb.Program(
        inactivity_expiry_days=90,
        qualifying_activities=[pb.QUALIFYING_ACTIVITY_PURCHASE, 99],  # type: ignore[list-item]
    )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.CreateProgram(
            pb.CreateProgramRequest(
                request_id=request_id(), program_id=unique("prog"), program=program
            )
        )

    assert violation_fields(refused.value) == ["program.qualifying_activities[1]"]
