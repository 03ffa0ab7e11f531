"""What a storefront or POS team would notice, each through the real gRPC channel."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import grpc
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import T0, Api, FakeClock, create_program, earn, enroll, request_id, unique
from tests.e2e.errors import error_info, failure
from tests.e2e.streams import settled

ACTOR = (("loyalty-actor", "agent-7"),)


def usd(units: int, nanos: int = 0) -> pb.Money:
    return pb.Money(currency_code="USD", units=units, nanos=nanos)


def stamp(moment: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(moment)
    return result


async def count_events(database_url: str, program_id: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        cursor = await connection.execute(
            "SELECT count(*) FROM ledger.events WHERE program_id = %s", (program_id,)
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def balances(api: Api, account: str) -> pb.Balances:
    response = await api.stub.GetAccount(pb.GetAccountRequest(name=account))
    return response.account.balances


async def entries(api: Api, account: str, *event_types: str) -> list[pb.LedgerEntry]:
    response = await api.stub.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(parent=account, event_types=event_types, page_size=1_000)
    )
    assert not response.next_page_token
    return list(response.entries)


def data_of(entry: pb.LedgerEntry) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(entry.data_json)
    return data


async def purchase(
    api: Api, account: str, amount: pb.Money, order_id: str | None = None
) -> pb.RecordPurchaseResponse:
    return await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=account,
            order_id=order_id or unique("order"),
            amount=amount,
        )
    )


async def refund(
    api: Api, account: str, order_id: str, amount: pb.Money
) -> pb.RefundPurchaseResponse:
    return await api.stub.RefundPurchase(
        pb.RefundPurchaseRequest(
            request_id=request_id(), account=account, order_id=order_id, amount=amount
        )
    )


async def confirm(api: Api, account: str, order_id: str) -> pb.ConfirmOrderResponse:
    return await api.stub.ConfirmOrder(
        pb.ConfirmOrderRequest(request_id=request_id(), account=account, order_id=order_id)
    )


async def redeem(api: Api, account: str, points: int) -> pb.RedeemPointsResponse:
    return await api.stub.RedeemPoints(
        pb.RedeemPointsRequest(
            request_id=request_id(), account=account, points=points, reference="checkout-1"
        )
    )


async def reserve(
    api: Api, account: str, points: int, ttl_seconds: int = 0
) -> pb.ReservePointsResponse:
    return await api.stub.ReservePoints(
        pb.ReservePointsRequest(
            request_id=request_id(),
            account=account,
            reservation_id=unique("hold"),
            points=points,
            ttl_seconds=ttl_seconds,
        )
    )


async def rejected(call: Awaitable[object]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


# --- enrollment -------------------------------------------------------------------------------


async def test_enroll_opens_an_empty_account_and_a_second_enroll_is_already_exists(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    member_id = unique("member")
    enroll_request = pb.EnrollMemberRequest(
        request_id=request_id(), parent=f"programs/{program_id}", member_id=member_id
    )
    account = (await api.stub.EnrollMember(enroll_request)).account
    assert account.name == f"programs/{program_id}/accounts/{member_id}"
    assert account.version == 1
    assert account.balances == pb.Balances()
    assert account.enroll_time.ToDatetime(tzinfo=T0.tzinfo) == T0
    assert account.referral_code
    assert (await api.stub.GetAccount(pb.GetAccountRequest(name=account.name))).account == account

    before = await count_events(database_url, program_id)
    enroll_request.request_id = request_id()
    error = await rejected(api.stub.EnrollMember(enroll_request))
    assert failure(error)[:2] == (grpc.StatusCode.ALREADY_EXISTS, "ACCOUNT_ALREADY_EXISTS")
    assert await count_events(database_url, program_id) == before


# --- purchases, confirmation, refunds ---------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "points"),
    [
        (usd(123, 450_000_000), 123),  # 1 point per USD, fractions of a point dropped
        (pb.Money(currency_code="JPY", units=12_345), 123),  # 1 point per 100 JPY
        (pb.Money(currency_code="KWD", units=1, nanos=234_000_000), 12),  # 10 points per KWD
        (usd(0, 990_000_000), 0),  # earns nothing, nothing pending
    ],
    ids=["USD", "JPY", "KWD", "under-a-point"],
)
async def test_a_purchase_earns_pending_points_that_confirm_order_makes_available(
    api: Api, amount: pb.Money, points: int
) -> None:
    program_id = await create_program(api.stub, return_window_days=30)
    account = await enroll(api.stub, program_id)
    order_id = unique("order")

    recorded = await purchase(api, account, amount, order_id)
    assert recorded.points == points
    assert recorded.pending is (points > 0)
    assert recorded.account.balances.pending == points
    assert recorded.account.balances.available == 0
    assert recorded.account.balances.lifetime_earned == points

    confirmed = await confirm(api, account, order_id)
    assert confirmed.points_released == points
    assert confirmed.account.balances.pending == 0
    assert confirmed.account.balances.available == points
    assert await balances(api, account) == confirmed.account.balances

    again = await confirm(api, account, order_id)  # a second confirmation changes nothing
    assert again.points_released == 0
    assert again.account.balances == confirmed.account.balances


async def test_pending_points_become_available_once_the_return_window_passes(
    api: Api, clock: FakeClock
) -> None:
    program_id = await create_program(api.stub, return_window_days=14)
    account = await enroll(api.stub, program_id)
    await purchase(api, account, usd(80))
    clock.advance(days=13)
    await api.running.ledger.sweep()
    assert (await balances(api, account)).pending == 80
    clock.advance(days=1)
    await api.running.ledger.sweep()
    released = await balances(api, account)
    assert (released.pending, released.available) == (0, 80)
    (entry,) = await entries(api, account, "PendingPointsReleased")
    assert data_of(entry)["reason"] == "window_passed"


async def test_a_program_without_return_window_makes_purchase_points_available_at_once(
    api: Api,
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    recorded = await purchase(api, account, usd(42))
    assert (recorded.points, recorded.pending) == (42, False)
    assert recorded.account.balances.available == 42


@pytest.mark.parametrize(
    ("policy", "clawed_back", "not_recovered", "available_after"),
    [
        (pb.NEGATIVE_BALANCE_POLICY_PENDING_ONLY, 0, 50, 5),
        (pb.NEGATIVE_BALANCE_POLICY_WITHIN_BALANCE, 5, 45, 0),
        (pb.NEGATIVE_BALANCE_POLICY_UNSPECIFIED, 5, 45, 0),
        (pb.NEGATIVE_BALANCE_POLICY_ALLOW_NEGATIVE, 50, 0, -45),
    ],
    ids=["pending-only", "within-balance", "unspecified", "allow-negative"],
)
async def test_refunds_claw_back_proportionally_per_the_negative_balance_policy(
    api: Api,
    policy: pb.NegativeBalancePolicy.ValueType,
    clawed_back: int,
    not_recovered: int,
    available_after: int,
) -> None:
    program_id = await create_program(
        api.stub, return_window_days=30, negative_balance_policy=policy
    )
    account = await enroll(api.stub, program_id)
    order_id = unique("order")
    await purchase(api, account, usd(100), order_id)

    first = await refund(api, account, order_id, usd(25))  # a quarter, still pending
    assert (first.points_clawed_back, first.points_not_recovered) == (25, 0)
    assert first.account.balances.pending == 75
    assert first.account.balances.lifetime_earned == 75

    await confirm(api, account, order_id)
    await redeem(api, account, 70)  # 5 left

    second = await refund(api, account, order_id, usd(50))  # half more: 50 points
    assert second.points_clawed_back == clawed_back
    assert second.points_not_recovered == not_recovered
    assert second.account.balances.available == available_after
    assert second.account.balances.lifetime_earned == 75 - clawed_back
    assert second.account.balances.lifetime_redeemed == 70
    assert await balances(api, account) == second.account.balances


async def test_partial_refunds_never_claw_back_more_than_the_order_earned(api: Api) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    order_id = unique("order")
    await purchase(api, account, usd(10), order_id)  # 10 points
    clawed = [
        (await refund(api, account, order_id, amount)).points_clawed_back
        for amount in (usd(3, 330_000_000), usd(3, 330_000_000), usd(3, 330_000_000))
    ]
    assert clawed == [3, 3, 3]  # cumulative shares: floor(10 * 3.33 / 10), floor(6.66), ...
    last = await refund(api, account, order_id, usd(0, 10_000_000))
    assert last.points_clawed_back == 1
    assert last.account.balances.available == 0
    assert last.account.balances.lifetime_earned == 0
    error = await rejected(refund(api, account, order_id, usd(0, 10_000_000)))
    assert failure(error)[:2] == (grpc.StatusCode.INVALID_ARGUMENT, "REFUND_EXCEEDS_ORDER")


# --- redemption -------------------------------------------------------------------------------


async def test_redeem_takes_points_in_one_step(api: Api) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 500)
    redeemed = await redeem(api, account, 200)
    assert redeemed.account.balances.available == 300
    assert redeemed.account.balances.lifetime_redeemed == 200
    (entry,) = await entries(api, account, "PointsRedeemed")
    assert entry.points_delta == -200
    assert data_of(entry)["reference"] == "checkout-1"


async def test_reserve_then_commit_part_gives_the_rest_back(api: Api) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 500)
    reserved = await reserve(api, account, 300, ttl_seconds=120)
    hold = reserved.reservation
    assert hold.points == 300
    assert hold.expire_time.ToDatetime(tzinfo=T0.tzinfo) == T0 + timedelta(seconds=120)
    assert (reserved.account.balances.available, reserved.account.balances.held) == (200, 300)

    committed = await api.stub.CommitReservation(
        pb.CommitReservationRequest(
            request_id=request_id(),
            account=account,
            reservation_id=hold.reservation_id,
            points=120,
        )
    )
    assert (committed.points_redeemed, committed.points_released) == (120, 180)
    after = committed.account.balances
    assert (after.available, after.held, after.lifetime_redeemed) == (380, 0, 120)

    error = await rejected(
        api.stub.CancelReservation(
            pb.CancelReservationRequest(
                request_id=request_id(), account=account, reservation_id=hold.reservation_id
            )
        )
    )
    assert failure(error)[:2] == (grpc.StatusCode.NOT_FOUND, "RESERVATION_NOT_FOUND")


async def test_reserve_then_commit_all_by_default(api: Api) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 100)
    hold = (await reserve(api, account, 60)).reservation
    committed = await api.stub.CommitReservation(
        pb.CommitReservationRequest(
            request_id=request_id(), account=account, reservation_id=hold.reservation_id
        )
    )
    assert (committed.points_redeemed, committed.points_released) == (60, 0)
    assert committed.account.balances.available == 40


async def test_reserve_then_cancel_gives_everything_back(api: Api) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 500)
    hold = (await reserve(api, account, 300)).reservation
    assert hold.expire_time.ToDatetime(tzinfo=T0.tzinfo) == T0 + timedelta(seconds=900)
    canceled = await api.stub.CancelReservation(
        pb.CancelReservationRequest(
            request_id=request_id(), account=account, reservation_id=hold.reservation_id
        )
    )
    assert canceled.points_released == 300
    after = canceled.account.balances
    assert (after.available, after.held, after.lifetime_redeemed) == (500, 0, 0)


async def test_an_expired_reservation_cannot_be_committed_and_its_points_come_back(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 100)
    hold = (await reserve(api, account, 100, ttl_seconds=60)).reservation
    clock.advance(seconds=61)

    before = await count_events(database_url, program_id)
    error = await rejected(
        api.stub.CommitReservation(
            pb.CommitReservationRequest(
                request_id=request_id(), account=account, reservation_id=hold.reservation_id
            )
        )
    )
    assert failure(error)[:2] == (grpc.StatusCode.NOT_FOUND, "RESERVATION_NOT_FOUND")
    assert error_info(error).metadata["field"] == "reservation_id"
    assert await count_events(database_url, program_id) == before

    await api.running.ledger.sweep()  # the sweep records the lapse (a CronJob in production)
    after = await balances(api, account)
    assert (after.available, after.held, after.lifetime_redeemed) == (100, 0, 0)
    (released,) = await entries(api, account, "ReservationReleased")
    assert data_of(released)["reason"] == "expired"
    assert (await redeem(api, account, 100)).account.balances.available == 0


async def test_insufficient_points_is_failed_precondition_and_appends_nothing(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    other = await enroll(api.stub, program_id)
    await earn(api.stub, account, 50)
    await reserve(api, account, 20)  # 30 left to spend
    before = await count_events(database_url, program_id)
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: redeem(api, account, 31),
        lambda: reserve(api, account, 31),
        lambda: api.stub.TransferPoints(
            pb.TransferPointsRequest(
                request_id=request_id(),
                source_account=account,
                destination_account=other,
                points=31,
            )
        ),
        lambda: api.stub.AdjustPoints(
            pb.AdjustPointsRequest(
                request_id=request_id(),
                account=account,
                points_delta=-31,
                reason_code="correction",
            )
        ),
    ]
    for call in calls:
        error = await rejected(call())
        assert failure(error)[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_POINTS")
        assert error_info(error).metadata["points_available"] == "30"
        assert error_info(error).metadata["points_requested"] == "31"
    assert await count_events(database_url, program_id) == before
    assert (await redeem(api, account, 30)).account.balances.available == 0


# --- adjustments and transfers ----------------------------------------------------------------


async def test_adjust_points_records_reason_code_note_and_actor(api: Api) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    added = await api.stub.AdjustPoints(
        pb.AdjustPointsRequest(
            request_id=request_id(),
            account=account,
            points_delta=40,
            reason_code="goodwill",
            note="Parcel arrived late; ticket #4711",
        ),
        metadata=ACTOR,
    )
    assert added.account.balances.available == 40
    removed = await api.stub.AdjustPoints(
        pb.AdjustPointsRequest(
            request_id=request_id(), account=account, points_delta=-15, reason_code="correction"
        ),
        metadata=ACTOR,
    )
    assert removed.account.balances.available == 25

    plus, minus = await entries(api, account, "PointsAdjusted")
    assert (plus.points_delta, minus.points_delta) == (40, -15)
    assert plus.actor == minus.actor == "agent-7"
    assert data_of(plus)["reason_code"] == "goodwill"
    assert data_of(plus)["note"] == "Parcel arrived late; ticket #4711"
    assert data_of(plus)["actor"] == "agent-7"
    assert data_of(minus)["reason_code"] == "correction"

    await earn(api.stub, account, 1)  # no actor metadata
    (earned,) = await entries(api, account, "PointsEarned")
    assert earned.actor == "anonymous"


async def test_transfer_moves_points_between_two_members_atomically(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    giver = await enroll(api.stub, program_id)
    taker = await enroll(api.stub, program_id)
    await earn(api.stub, giver, 300)
    transfer = pb.TransferPointsRequest(
        request_id=request_id(), source_account=giver, destination_account=taker, points=120
    )
    moved = await api.stub.TransferPoints(transfer)
    assert moved.source_account.name == giver
    assert moved.destination_account.name == taker
    assert moved.source_account.balances.available == 180
    assert moved.destination_account.balances.available == 120

    (out,) = await entries(api, giver, "PointsTransferredOut")
    (into,) = await entries(api, taker, "PointsTransferredIn")
    assert out.request_id == into.request_id == transfer.request_id
    assert out.record_time == into.record_time
    assert (out.points_delta, into.points_delta) == (-120, 120)

    before = await count_events(database_url, program_id)
    too_much = pb.TransferPointsRequest(
        request_id=request_id(), source_account=giver, destination_account=taker, points=181
    )
    error = await rejected(api.stub.TransferPoints(too_much))
    assert failure(error)[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_POINTS")
    assert await count_events(database_url, program_id) == before
    assert (await balances(api, giver)).available == 180
    assert (await balances(api, taker)).available == 120


# --- reading the ledger -----------------------------------------------------------------------


async def test_list_ledger_entries_pages_filters_by_type_and_time(
    api: Api, clock: FakeClock
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)  # v1 at T0
    for points in (10, 20, 30, 40):  # v2..v5, one hour apart
        clock.advance(hours=1)
        await earn(api.stub, account, points)

    versions: list[list[int]] = []
    token = ""
    while True:
        page = await api.stub.ListLedgerEntries(
            pb.ListLedgerEntriesRequest(parent=account, page_size=2, page_token=token)
        )
        versions.append([entry.version for entry in page.entries])
        token = page.next_page_token
        if not token:
            break
    assert versions == [[1, 2], [3, 4], [5]]
    # A page larger than served is served as the largest (AIP-158), not refused.
    whole = await api.stub.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(parent=account, page_size=2**31 - 1)
    )
    assert [entry.version for entry in whole.entries] == [1, 2, 3, 4, 5]
    assert whole.next_page_token == ""

    everything = await entries(api, account)
    assert [entry.event_type for entry in everything] == ["MemberEnrolled"] + ["PointsEarned"] * 4
    assert [entry.balances_after.available for entry in everything] == [0, 10, 30, 60, 100]
    assert all(entry.account == account and len(entry.hash) == 64 for entry in everything)
    assert len({entry.event_id for entry in everything}) == 5

    earned = await entries(api, account, "PointsEarned")
    assert [entry.points_delta for entry in earned] == [10, 20, 30, 40]
    assert await entries(api, account, "PointsRedeemed") == []

    window = pb.ListLedgerEntriesRequest(
        parent=account,
        start_time=stamp(T0 + timedelta(hours=2)),  # inclusive
        end_time=stamp(T0 + timedelta(hours=4)),  # exclusive
        page_size=1,
    )
    first = await api.stub.ListLedgerEntries(window)
    assert [entry.version for entry in first.entries] == [3]
    window.page_token = first.next_page_token
    second = await api.stub.ListLedgerEntries(window)
    assert [entry.version for entry in second.entries] == [4]
    assert second.next_page_token == ""


async def test_get_balance_as_of_returns_the_balances_at_an_earlier_time(
    api: Api, clock: FakeClock
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)  # T0
    clock.advance(days=1)
    await earn(api.stub, account, 100)  # T0 + 1d
    clock.advance(days=1)
    await redeem(api, account, 30)  # T0 + 2d
    clock.advance(days=1)

    async def as_of(moment: datetime) -> tuple[int, int, int]:
        response = await api.stub.GetBalanceAsOf(
            pb.GetBalanceAsOfRequest(name=account, as_of_time=stamp(moment))
        )
        return response.version, response.balances.available, response.balances.lifetime_redeemed

    assert await as_of(T0 - timedelta(seconds=1)) == (0, 0, 0)
    assert await as_of(T0) == (1, 0, 0)
    assert await as_of(T0 + timedelta(days=1, hours=23)) == (2, 100, 0)
    assert await as_of(T0 + timedelta(days=2)) == (3, 70, 30)
    assert await as_of(clock.current) == (3, 70, 30)


async def _stream(api: Api, **request: Any) -> list[pb.StreamEventsResponse]:
    call = api.stub.StreamEvents(pb.StreamEventsRequest(catch_up_only=True, **request))
    return [response async for response in call]


async def _stream_settled(api: Api, **request: Any) -> list[pb.StreamEventsResponse]:
    """A catch-up once readers can see every committed event (tests/e2e/streams.settled)."""
    await settled(api.running.ledger)
    return await _stream(api, **request)


async def test_stream_events_catches_up_in_order_and_resumes_after_a_position(api: Api) -> None:
    program_id = await create_program(api.stub)
    first = await enroll(api.stub, program_id)
    second = await enroll(api.stub, program_id)
    await earn(api.stub, first, 100)
    await earn(api.stub, second, 5)
    await redeem(api, first, 40)
    program = f"programs/{program_id}"

    streamed = await _stream_settled(api, program=program)
    assert [(r.entry.account, r.entry.event_type) for r in streamed] == [
        (program, "ProgramCreated"),
        (first, "MemberEnrolled"),
        (second, "MemberEnrolled"),
        (first, "PointsEarned"),
        (second, "PointsEarned"),
        (first, "PointsRedeemed"),
    ]
    assert len({r.position for r in streamed}) == len(streamed)
    assert [r.entry for r in streamed if r.entry.account == first] == await entries(api, first)

    resumed = await _stream(api, program=program, after_position=streamed[2].position)
    assert [r.entry.event_id for r in resumed] == [r.entry.event_id for r in streamed[3:]]
    assert await _stream(api, program=program, after_position=streamed[-1].position) == []

    # Unfiltered, the program's events come in the same order among everyone else's.
    everything = await _stream(api)
    ours = [r.entry.event_id for r in everything if r.entry.account.startswith(program + "/")]
    assert ours == [r.entry.event_id for r in streamed[1:]]


async def test_stream_events_follows_live_after_catching_up(api: Api) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    program = f"programs/{program_id}"
    caught_up = await _stream_settled(api, program=program)
    call = api.stub.StreamEvents(
        pb.StreamEventsRequest(program=program, after_position=caught_up[-1].position)
    )
    try:
        await earn(api.stub, account, 7)
        async with asyncio.timeout(10):
            response = await call.read()
        assert isinstance(response, pb.StreamEventsResponse)
        assert (response.entry.event_type, response.entry.points_delta) == ("PointsEarned", 7)
    finally:
        call.cancel()


# --- bulk import ------------------------------------------------------------------------------


def historical(
    account: str, external_id: str, points_delta: int, days_ago: int, kind: str
) -> pb.HistoricalEvent:
    return pb.HistoricalEvent(
        account=account,
        points_delta=points_delta,
        occur_time=stamp(T0 - timedelta(days=days_ago)),
        external_id=external_id,
        kind=kind,
    )


async def test_import_history_for_several_accounts_is_idempotent(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    parent = f"programs/{program_id}"
    known = await enroll(api.stub, program_id)
    await earn(api.stub, known, 10)
    newcomer = f"{parent}/accounts/{unique('legacy')}"
    request = pb.ImportHistoryRequest(
        request_id=request_id(),
        parent=parent,
        events=[
            historical(known, "old-1", 500, 60, "purchase"),
            historical(newcomer, "old-2", 300, 50, "purchase"),
            historical(known, "old-3", -200, 40, "redemption"),
            historical(newcomer, "old-4", -50, 30, "redemption"),
        ],
    )
    imported = await api.stub.ImportHistory(request)
    assert imported.imported_count == 4

    known_balances = await balances(api, known)
    assert (known_balances.available, known_balances.lifetime_redeemed) == (310, 200)
    newcomer_balances = await balances(api, newcomer)
    assert (newcomer_balances.available, newcomer_balances.lifetime_earned) == (250, 300)
    history = await entries(api, newcomer)
    assert [entry.event_type for entry in history] == [
        "MemberEnrolled",
        "HistoryImported",
        "HistoryImported",
    ]
    assert data_of(history[1])["external_id"] == "old-2"
    assert data_of(history[1])["kind"] == "purchase"
    assert data_of(history[1])["occurred_at"].startswith(
        (T0 - timedelta(days=50)).date().isoformat()
    )

    count = await count_events(database_url, program_id)
    retried = await api.stub.ImportHistory(request)
    assert retried == imported
    assert await count_events(database_url, program_id) == count

    request.events[0].points_delta = 501
    error = await rejected(api.stub.ImportHistory(request))
    assert failure(error)[:2] == (grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED")
    assert await count_events(database_url, program_id) == count


# --- programs ---------------------------------------------------------------------------------


async def test_get_program_returns_the_settings_as_created(api: Api, database_url: str) -> None:
    program_id = unique("prog")
    settings = pb.Program(
        display_name="Coffee Club",
        earn_rates=[
            pb.EarnRate(currency_code="EUR", points=2, per_major_units=1),
            pb.EarnRate(currency_code="JPY", points=1, per_major_units=100),
        ],
        return_window_days=14,
        points_expiry_days=365,
        negative_balance_policy=pb.NEGATIVE_BALANCE_POLICY_ALLOW_NEGATIVE,
        max_hold_ttl_seconds=600,
    )
    create = pb.CreateProgramRequest(
        request_id=request_id(), program_id=program_id, program=settings
    )
    created = (await api.stub.CreateProgram(create)).program
    got = (await api.stub.GetProgram(pb.GetProgramRequest(name=f"programs/{program_id}"))).program
    assert got == created
    assert got.name == f"programs/{program_id}"
    assert got.revision == 1
    assert got.create_time.ToDatetime(tzinfo=T0.tzinfo) == T0
    assert got.update_time == got.create_time
    expected = pb.Program()
    expected.CopyFrom(got)
    for output_only in ("name", "revision", "create_time", "update_time"):
        expected.ClearField(output_only)
    assert expected.time_zone == "UTC"  # the zone it counts in when none is given
    expected.ClearField("time_zone")
    assert expected.points_rounding == pb.POINTS_ROUNDING_DOWN  # when none is given
    expected.ClearField("points_rounding")
    # Lots last until the end of their last day unless the program rounds further.
    assert expected.expiry_rounding == pb.EXPIRY_ROUNDING_END_OF_DAY
    expected.ClearField("expiry_rounding")
    # The policy a program without milestones would follow, answered as it is in force.
    assert expected.milestone_refund_policy == pb.MILESTONE_REFUND_POLICY_CLAW_BACK
    expected.ClearField("milestone_refund_policy")
    # The stage thresholds' defaults, answered as in force.
    assert expected.stage_settings == pb.StageSettings(
        lapsed_after_days=180, action_purchases=3, action_window_days=90
    )
    expected.ClearField("stage_settings")
    assert expected == settings

    assert (await api.stub.CreateProgram(create)).program == created  # a retry
    create.request_id = request_id()
    error = await rejected(api.stub.CreateProgram(create))
    assert failure(error)[:2] == (grpc.StatusCode.ALREADY_EXISTS, "PROGRAM_ALREADY_EXISTS")
    assert await count_events(database_url, program_id) == 1


async def test_get_program_fills_defaults(api: Api) -> None:
    program_id = await create_program(api.stub)
    got = (await api.stub.GetProgram(pb.GetProgramRequest(name=f"programs/{program_id}"))).program
    assert got.max_hold_ttl_seconds == 900
    assert got.negative_balance_policy == pb.NEGATIVE_BALANCE_POLICY_WITHIN_BALANCE


async def test_update_program_bumps_revision_and_only_later_purchases_use_the_new_rate(
    api: Api, clock: FakeClock
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    first_order = unique("order")
    assert (await purchase(api, account, usd(100), first_order)).points == 100

    clock.advance(hours=1)
    updated = (
        await api.stub.UpdateProgram(
            pb.UpdateProgramRequest(
                request_id=request_id(),
                program=pb.Program(
                    name=f"programs/{program_id}",
                    earn_rates=[pb.EarnRate(currency_code="USD", points=2, per_major_units=1)],
                ),
                expected_revision=1,
            )
        )
    ).program
    assert updated.revision == 2
    assert updated.update_time.ToDatetime(tzinfo=T0.tzinfo) == T0 + timedelta(hours=1)
    assert updated.create_time.ToDatetime(tzinfo=T0.tzinfo) == T0
    got = (await api.stub.GetProgram(pb.GetProgramRequest(name=f"programs/{program_id}"))).program
    assert got == updated

    assert (await purchase(api, account, usd(100))).points == 200
    old, new = await entries(api, account, "PurchaseRecorded")
    assert (data_of(old)["program_revision"], data_of(old)["rate_points"]) == (1, 1)
    assert (data_of(new)["program_revision"], data_of(new)["rate_points"]) == (2, 2)
    assert (old.points_delta, new.points_delta) == (100, 200)

    # A refund of the first order claws back from what it earned then, not at today's rate.
    assert (await refund(api, account, first_order, usd(50))).points_clawed_back == 50


async def test_update_program_with_a_stale_revision_is_aborted(api: Api, database_url: str) -> None:
    program_id = await create_program(api.stub)
    name = f"programs/{program_id}"

    def update(expected_revision: int) -> pb.UpdateProgramRequest:
        return pb.UpdateProgramRequest(
            request_id=request_id(),
            program=pb.Program(name=name, return_window_days=expected_revision),
            expected_revision=expected_revision,
        )

    assert (await api.stub.UpdateProgram(update(1))).program.revision == 2
    before = await count_events(database_url, program_id)
    error = await rejected(api.stub.UpdateProgram(update(1)))
    assert failure(error)[:2] == (grpc.StatusCode.ABORTED, "REVISION_MISMATCH")
    assert error_info(error).metadata["current_revision"] == "2"
    assert await count_events(database_url, program_id) == before
    assert (await api.stub.UpdateProgram(update(0))).program.revision == 3  # 0: unconditional


async def test_points_expire_per_the_program_and_get_account_lists_them(
    api: Api, clock: FakeClock
) -> None:
    program_id = await create_program(api.stub, points_expiry_days=30)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 70)
    clock.advance(days=1)
    await earn(api.stub, account, 30)
    view = (await api.stub.GetAccount(pb.GetAccountRequest(name=account))).account
    # At the end of the day (UTC) their 30 days end: never sooner than 30 days.
    assert [
        (portion.points, portion.expire_time.ToDatetime(tzinfo=T0.tzinfo))
        for portion in view.expiring_points
    ] == [
        (70, datetime(2026, 4, 1, tzinfo=T0.tzinfo)),
        (30, datetime(2026, 4, 2, tzinfo=T0.tzinfo)),
    ]

    await redeem(api, account, 50)  # soonest-expiring lot first
    clock.advance(days=29, hours=11, minutes=59)  # a minute before the first lot's expiry
    await api.running.ledger.sweep()
    assert (await balances(api, account)).expired == 0
    clock.advance(minutes=1)  # 2026-04-01 00:00 UTC: the first lot's 20 points are due
    await api.running.ledger.sweep()
    after = await balances(api, account)
    assert (after.available, after.expired) == (30, 20)


# --- idempotency ------------------------------------------------------------------------------


async def test_a_retried_request_returns_the_original_response_and_appends_nothing(
    api: Api, database_url: str, clock: FakeClock
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    order = pb.RecordPurchaseRequest(
        request_id=request_id(), account=account, order_id=unique("order"), amount=usd(100)
    )
    bonus = pb.EarnPointsRequest(
        request_id=request_id(), account=account, points=25, reason="welcome"
    )
    first_order = await api.stub.RecordPurchase(order)
    first_bonus = await api.stub.EarnPoints(bonus)
    count = await count_events(database_url, program_id)

    clock.advance(hours=2)
    assert await api.stub.RecordPurchase(order) == first_order
    assert await api.stub.EarnPoints(bonus, metadata=ACTOR) == first_bonus  # actor is not content
    assert await count_events(database_url, program_id) == count
    assert (await balances(api, account)).available == 125
    assert first_order.account.version == 2  # the original answer, not today's account


async def test_a_retry_that_would_now_be_refused_still_gets_the_original_response(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    join = pb.EnrollMemberRequest(
        request_id=request_id(), parent=f"programs/{program_id}", member_id=unique("member")
    )
    joined = await api.stub.EnrollMember(join)
    account = joined.account.name
    await earn(api.stub, account, 100)
    spend = pb.RedeemPointsRequest(request_id=request_id(), account=account, points=100)
    spent = await api.stub.RedeemPoints(spend)
    count = await count_events(database_url, program_id)

    assert await api.stub.EnrollMember(join) == joined  # not ACCOUNT_ALREADY_EXISTS
    assert await api.stub.RedeemPoints(spend) == spent  # not INSUFFICIENT_POINTS
    assert await count_events(database_url, program_id) == count


async def test_a_request_id_reused_for_different_content_is_already_exists(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    reused = request_id()
    await api.stub.EarnPoints(
        pb.EarnPointsRequest(request_id=reused, account=account, points=25, reason="welcome")
    )
    count = await count_events(database_url, program_id)
    changed: list[Callable[[], Awaitable[object]]] = [
        lambda: api.stub.EarnPoints(
            pb.EarnPointsRequest(request_id=reused, account=account, points=26, reason="welcome")
        ),
        lambda: api.stub.RedeemPoints(
            pb.RedeemPointsRequest(request_id=reused, account=account, points=5)
        ),
    ]
    for call in changed:
        error = await rejected(call())
        assert failure(error)[:2] == (grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED")
        assert error_info(error).metadata["request_id"] == reused
    assert await count_events(database_url, program_id) == count


# --- standard services ------------------------------------------------------------------------


async def test_the_health_service_reports_serving(api: Api) -> None:
    health = health_pb2_grpc.HealthStub(api.channel)
    assert (
        await health.Check(health_pb2.HealthCheckRequest(service=""))
    ).status == health_pb2.HealthCheckResponse.SERVING
    async with asyncio.timeout(10):  # the database watch marks the service on its first pass
        while True:
            try:
                response = await health.Check(
                    health_pb2.HealthCheckRequest(service="loyalty.v1.LedgerService")
                )
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND
            else:
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    break
            await asyncio.sleep(0.05)


async def test_server_reflection_lists_the_ledger_service(api: Api) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(api.channel)
    call = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    services = {
        service.name
        async for response in call
        for service in response.list_services_response.service
    }
    assert "loyalty.v1.LedgerService" in services
    assert "grpc.health.v1.Health" in services
