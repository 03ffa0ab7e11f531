"""Bad input -> INVALID_ARGUMENT or NOT_FOUND naming the field, and nothing is appended.

Every case runs on a fresh program (a member with points, a pending order and an open
reservation, so only the field under test is wrong) and counts the program's rows in
ledger.events before and after the call.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import T0, Api, create_program, earn, enroll, request_id, unique
from tests.e2e.errors import error_info, failure

if TYPE_CHECKING:
    from loyalty.v1.ledger_pb2_grpc import LedgerServiceAsyncStub

MAX_POINTS = 1_000_000_000
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


def usd(units: int, nanos: int = 0) -> pb.Money:
    return pb.Money(currency_code="USD", units=units, nanos=nanos)


def stamp(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


async def count_events(database_url: str, program_id: str | None = None) -> int:
    """Rows in ledger.events: the program's, or all of them."""
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        if program_id is None:
            cursor = await connection.execute("SELECT count(*) FROM ledger.events")
        else:
            cursor = await connection.execute(
                "SELECT count(*) FROM ledger.events WHERE program_id = %s", (program_id,)
            )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


@dataclass
class Setup:
    """A fresh program with one member holding points, an order and a reservation."""

    api: Api
    database_url: str
    program_id: str
    account: str
    """1,000 points earned, 100 of them held by `reservation_id`."""
    other: str
    """A second member of the program, with no points."""
    order_id: str
    """A USD 10.00 purchase of `account`, pending (30-day return window)."""
    reservation_id: str

    @property
    def stub(self) -> "LedgerServiceAsyncStub":
        return self.api.stub

    @property
    def parent(self) -> str:
        return f"programs/{self.program_id}"

    @property
    def stranger(self) -> str:
        """A well-formed name of an account that does not exist in the program."""
        return f"{self.parent}/accounts/{unique('nobody')}"

    async def _rejected(
        self, call: Callable[[], Awaitable[object]], *also_unchanged: str
    ) -> grpc.aio.AioRpcError:
        programs = (self.program_id, *also_unchanged)
        before = [await count_events(self.database_url, p) for p in programs]
        total_before = await count_events(self.database_url)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call()
        after = [await count_events(self.database_url, p) for p in programs]
        assert after == before, "a refused request appended events"
        assert await count_events(self.database_url) == total_before
        return caught.value

    async def invalid(
        self,
        call: Callable[[], Awaitable[object]],
        field: str,
        reason: str | None = None,
        *also_unchanged: str,
    ) -> None:
        """The call fails with INVALID_ARGUMENT naming exactly `field`; nothing appended."""
        error = await self._rejected(call, *also_unchanged)
        code, got_reason, fields = failure(error)
        assert code == INVALID, (code, fields)
        assert fields == [field]
        if reason is not None:
            assert got_reason == reason

    async def not_found(
        self, call: Callable[[], Awaitable[object]], field: str, reason: str, *also: str
    ) -> None:
        """The call fails with NOT_FOUND, ErrorInfo naming `field`; nothing appended."""
        error = await self._rejected(call, *also)
        code, got_reason, fields = failure(error)
        assert code == NOT_FOUND, (code, fields)
        assert got_reason == reason
        assert error_info(error).metadata["field"] == field


@pytest.fixture
async def s(api: Api, database_url: str) -> Setup:
    program_id = await create_program(api.stub, return_window_days=30)
    account = await enroll(api.stub, program_id)
    other = await enroll(api.stub, program_id)
    await earn(api.stub, account, 1_000)
    order_id = unique("order")
    await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(), account=account, order_id=order_id, amount=usd(10)
        )
    )
    reservation_id = unique("hold")
    await api.stub.ReservePoints(
        pb.ReservePointsRequest(
            request_id=request_id(), account=account, reservation_id=reservation_id, points=100
        )
    )
    return Setup(api, database_url, program_id, account, other, order_id, reservation_id)


Call = Callable[[Setup], Awaitable[object]]
"""Sends one request built from the setup; the awaitable is the call's response."""


# --- points out of range ----------------------------------------------------------------------


def earn_points(points: int) -> Call:
    return lambda s: s.stub.EarnPoints(
        pb.EarnPointsRequest(
            request_id=request_id(), account=s.account, points=points, reason="bonus"
        )
    )


def redeem_points(points: int) -> Call:
    return lambda s: s.stub.RedeemPoints(
        pb.RedeemPointsRequest(request_id=request_id(), account=s.account, points=points)
    )


def reserve_points(points: int) -> Call:
    return lambda s: s.stub.ReservePoints(
        pb.ReservePointsRequest(
            request_id=request_id(), account=s.account, reservation_id="r-new", points=points
        )
    )


def transfer_points(points: int) -> Call:
    return lambda s: s.stub.TransferPoints(
        pb.TransferPointsRequest(
            request_id=request_id(),
            source_account=s.account,
            destination_account=s.other,
            points=points,
        )
    )


def commit_points(points: int) -> Call:
    return lambda s: s.stub.CommitReservation(
        pb.CommitReservationRequest(
            request_id=request_id(),
            account=s.account,
            reservation_id=s.reservation_id,
            points=points,
        )
    )


BAD_POINTS = [0, -1, -MAX_POINTS, MAX_POINTS + 1, 2**63 - 1, -(2**63)]


@pytest.mark.parametrize("points", BAD_POINTS)
@pytest.mark.parametrize(
    "rpc",
    [earn_points, redeem_points, reserve_points, transfer_points],
    ids=["EarnPoints", "RedeemPoints", "ReservePoints", "TransferPoints"],
)
async def test_points_outside_1_to_max_are_refused(
    s: Setup, rpc: Callable[[int], Call], points: int
) -> None:
    await s.invalid(lambda: rpc(points)(s), "points")


@pytest.mark.parametrize("points", [-1, MAX_POINTS + 1])
async def test_commit_points_outside_0_to_max_are_refused(s: Setup, points: int) -> None:
    await s.invalid(lambda: commit_points(points)(s), "points")


async def test_commit_more_than_held_is_refused(s: Setup) -> None:
    await s.invalid(lambda: commit_points(101)(s), "points", "COMMIT_EXCEEDS_HOLD")


@pytest.mark.parametrize("delta", [0, MAX_POINTS + 1, -MAX_POINTS - 1])
async def test_adjust_delta_zero_or_over_max_is_refused(s: Setup, delta: int) -> None:
    await s.invalid(
        lambda: s.stub.AdjustPoints(
            pb.AdjustPointsRequest(
                request_id=request_id(),
                account=s.account,
                points_delta=delta,
                reason_code="goodwill",
            )
        ),
        "points_delta",
    )


# --- ids --------------------------------------------------------------------------------------

BAD_IDS = [
    pytest.param("", id="empty"),
    pytest.param("x" * 129, id="129-chars"),
    pytest.param("has space", id="space"),
    pytest.param(" leading", id="leading-space"),
    pytest.param("tab\there", id="tab"),
    pytest.param("new\nline", id="newline"),
    pytest.param("nul\x00byte", id="nul"),
    pytest.param("bell\x07", id="control"),
    pytest.param("del\x7f", id="del"),
]


@pytest.mark.parametrize("member_id", [*BAD_IDS, pytest.param("ünïcode", id="non-ascii")])
async def test_enroll_with_a_bad_member_id_is_refused(s: Setup, member_id: str) -> None:
    await s.invalid(
        lambda: s.stub.EnrollMember(
            pb.EnrollMemberRequest(request_id=request_id(), parent=s.parent, member_id=member_id)
        ),
        "member_id",
    )


@pytest.mark.parametrize("order_id", BAD_IDS)
async def test_purchase_with_a_bad_order_id_is_refused(s: Setup, order_id: str) -> None:
    await s.invalid(
        lambda: s.stub.RecordPurchase(
            pb.RecordPurchaseRequest(
                request_id=request_id(), account=s.account, order_id=order_id, amount=usd(5)
            )
        ),
        "order_id",
    )


@pytest.mark.parametrize("order_id", BAD_IDS)
async def test_confirm_and_refund_with_a_bad_order_id_are_refused(s: Setup, order_id: str) -> None:
    await s.invalid(
        lambda: s.stub.ConfirmOrder(
            pb.ConfirmOrderRequest(request_id=request_id(), account=s.account, order_id=order_id)
        ),
        "order_id",
    )
    await s.invalid(
        lambda: s.stub.RefundPurchase(
            pb.RefundPurchaseRequest(
                request_id=request_id(), account=s.account, order_id=order_id, amount=usd(1)
            )
        ),
        "order_id",
    )


@pytest.mark.parametrize("reservation_id", BAD_IDS)
async def test_a_bad_reservation_id_is_refused(s: Setup, reservation_id: str) -> None:
    await s.invalid(
        lambda: s.stub.ReservePoints(
            pb.ReservePointsRequest(
                request_id=request_id(),
                account=s.account,
                reservation_id=reservation_id,
                points=10,
            )
        ),
        "reservation_id",
    )
    await s.invalid(
        lambda: s.stub.CommitReservation(
            pb.CommitReservationRequest(
                request_id=request_id(), account=s.account, reservation_id=reservation_id
            )
        ),
        "reservation_id",
    )
    await s.invalid(
        lambda: s.stub.CancelReservation(
            pb.CancelReservationRequest(
                request_id=request_id(), account=s.account, reservation_id=reservation_id
            )
        ),
        "reservation_id",
    )


@pytest.mark.parametrize("bad_request_id", [param for param in BAD_IDS if param.id != "empty"])
async def test_a_bad_request_id_is_refused(s: Setup, bad_request_id: str) -> None:
    await s.invalid(
        lambda: s.stub.EarnPoints(
            pb.EarnPointsRequest(
                request_id=bad_request_id, account=s.account, points=10, reason="bonus"
            )
        ),
        "request_id",
    )
    await s.invalid(
        lambda: s.stub.EnrollMember(
            pb.EnrollMemberRequest(
                request_id=bad_request_id, parent=s.parent, member_id=unique("m")
            )
        ),
        "request_id",
    )


# --- money ------------------------------------------------------------------------------------


def purchase(amount: pb.Money) -> Call:
    return lambda s: s.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(), account=s.account, order_id=unique("o"), amount=amount
        )
    )


def refund(amount: pb.Money) -> Call:
    return lambda s: s.stub.RefundPurchase(
        pb.RefundPurchaseRequest(
            request_id=request_id(), account=s.account, order_id=s.order_id, amount=amount
        )
    )


MONEY_RPCS = pytest.mark.parametrize(
    "rpc", [purchase, refund], ids=["RecordPurchase", "RefundPurchase"]
)


@MONEY_RPCS
@pytest.mark.parametrize("currency", ["XXX", "usd", "", "US", "USDD", "XAU"])
async def test_an_unknown_currency_is_refused(
    s: Setup, rpc: Callable[[pb.Money], Call], currency: str
) -> None:
    amount = pb.Money(currency_code=currency, units=5)
    await s.invalid(lambda: rpc(amount)(s), "amount.currency_code", "UNKNOWN_CURRENCY")


@MONEY_RPCS
@pytest.mark.parametrize(
    ("currency", "units", "nanos"),
    [("JPY", 0, 500_000_000), ("USD", 0, 1_000_000), ("KWD", 1, 100_000), ("USD", 1, 1)],
    ids=["0.5-JPY", "0.001-USD", "1.0001-KWD", "1.000000001-USD"],
)
async def test_more_decimals_than_the_currency_has_are_refused(
    s: Setup, rpc: Callable[[pb.Money], Call], currency: str, units: int, nanos: int
) -> None:
    amount = pb.Money(currency_code=currency, units=units, nanos=nanos)
    await s.invalid(lambda: rpc(amount)(s), "amount.nanos", "TOO_MANY_DECIMALS")


@MONEY_RPCS
@pytest.mark.parametrize(
    ("units", "nanos"),
    [(1, -500_000_000), (-1, 500_000_000), (0, 1_000_000_000), (0, -1_000_000_000)],
    ids=["positive-units-negative-nanos", "negative-units-positive-nanos", "1e9", "-1e9"],
)
async def test_nanos_with_the_wrong_sign_or_range_are_refused(
    s: Setup, rpc: Callable[[pb.Money], Call], units: int, nanos: int
) -> None:
    await s.invalid(lambda: rpc(usd(units, nanos))(s), "amount.nanos")


@MONEY_RPCS
@pytest.mark.parametrize(
    "amount",
    [
        usd(0),
        usd(-5),
        usd(0, -10_000_000),
        pb.Money(currency_code="JPY", units=-1),
        usd(10**13, 10_000_000),
    ],
    ids=["zero", "minus-5", "minus-1-cent", "minus-1-yen", "over-max"],
)
async def test_zero_negative_and_huge_amounts_are_refused(
    s: Setup, rpc: Callable[[pb.Money], Call], amount: pb.Money
) -> None:
    await s.invalid(lambda: rpc(amount)(s), "amount")


async def test_a_purchase_in_a_currency_the_program_does_not_earn_in_is_refused(
    s: Setup,
) -> None:
    amount = pb.Money(currency_code="EUR", units=5)
    await s.invalid(lambda: purchase(amount)(s), "amount.currency_code", "CURRENCY_NOT_EARNING")


async def test_a_refund_in_another_currency_than_the_order_is_refused(s: Setup) -> None:
    amount = pb.Money(currency_code="JPY", units=5)
    await s.invalid(lambda: refund(amount)(s), "amount.currency_code")


async def test_a_refund_over_the_order_amount_is_refused(s: Setup) -> None:
    await s.invalid(lambda: refund(usd(10, 10_000_000))(s), "amount", "REFUND_EXCEEDS_ORDER")


# --- request_id on every mutation -------------------------------------------------------------

MUTATIONS: list[tuple[str, Call]] = [
    (
        "CreateProgram",
        lambda s: s.stub.CreateProgram(
            pb.CreateProgramRequest(program_id=unique("prog"), program=pb.Program())
        ),
    ),
    (
        "UpdateProgram",
        lambda s: s.stub.UpdateProgram(pb.UpdateProgramRequest(program=pb.Program(name=s.parent))),
    ),
    (
        "EnrollMember",
        lambda s: s.stub.EnrollMember(
            pb.EnrollMemberRequest(parent=s.parent, member_id=unique("m"))
        ),
    ),
    (
        "RecordPurchase",
        lambda s: s.stub.RecordPurchase(
            pb.RecordPurchaseRequest(account=s.account, order_id=unique("o"), amount=usd(5))
        ),
    ),
    (
        "ConfirmOrder",
        lambda s: s.stub.ConfirmOrder(
            pb.ConfirmOrderRequest(account=s.account, order_id=s.order_id)
        ),
    ),
    (
        "RefundPurchase",
        lambda s: s.stub.RefundPurchase(
            pb.RefundPurchaseRequest(account=s.account, order_id=s.order_id, amount=usd(1))
        ),
    ),
    (
        "EarnPoints",
        lambda s: s.stub.EarnPoints(
            pb.EarnPointsRequest(account=s.account, points=5, reason="bonus")
        ),
    ),
    (
        "AdjustPoints",
        lambda s: s.stub.AdjustPoints(
            pb.AdjustPointsRequest(account=s.account, points_delta=5, reason_code="goodwill")
        ),
    ),
    (
        "RecordAction",
        lambda s: s.stub.RecordAction(
            pb.RecordActionRequest(account=s.account, action_id="review")
        ),
    ),
    (
        "GrantBonus",
        lambda s: s.stub.GrantBonus(
            pb.GrantBonusRequest(account=s.account, points=5, reason_code="vip_surprise")
        ),
    ),
    (
        "RecordFeedback",
        lambda s: s.stub.RecordFeedback(pb.RecordFeedbackRequest(account=s.account, nps_score=9)),
    ),
    (
        "ChangeTier",
        lambda s: s.stub.ChangeTier(
            pb.ChangeTierRequest(account=s.account, tier="gold", reason_code="goodwill")
        ),
    ),
    (
        "TransferPoints",
        lambda s: s.stub.TransferPoints(
            pb.TransferPointsRequest(
                source_account=s.account, destination_account=s.other, points=5
            )
        ),
    ),
    (
        "RedeemPoints",
        lambda s: s.stub.RedeemPoints(pb.RedeemPointsRequest(account=s.account, points=5)),
    ),
    (
        "ReservePoints",
        lambda s: s.stub.ReservePoints(
            pb.ReservePointsRequest(account=s.account, reservation_id="r-2", points=5)
        ),
    ),
    (
        "RedeemReward",
        lambda s: s.stub.RedeemReward(pb.RedeemRewardRequest(account=s.account, reward_id="x")),
    ),
    (
        "CommitReservation",
        lambda s: s.stub.CommitReservation(
            pb.CommitReservationRequest(account=s.account, reservation_id=s.reservation_id)
        ),
    ),
    (
        "CancelReservation",
        lambda s: s.stub.CancelReservation(
            pb.CancelReservationRequest(account=s.account, reservation_id=s.reservation_id)
        ),
    ),
    (
        "ImportHistory",
        lambda s: s.stub.ImportHistory(
            pb.ImportHistoryRequest(
                parent=s.parent,
                events=[
                    pb.HistoricalEvent(
                        account=s.account,
                        points_delta=5,
                        occur_time=stamp(int(T0.timestamp()) - 86_400),
                        external_id="legacy-1",
                        kind="purchase",
                    )
                ],
            )
        ),
    ),
]


@pytest.mark.parametrize("rpc", [call for _, call in MUTATIONS], ids=[n for n, _ in MUTATIONS])
async def test_every_mutation_requires_a_request_id(s: Setup, rpc: Call) -> None:
    await s.invalid(lambda: rpc(s), "request_id")


async def test_the_mutation_list_covers_every_mutating_rpc() -> None:
    reads = {
        "GetProgram",
        "ListProgramRevisions",
        "GetAccount",
        "ListLedgerEntries",
        "GetBalanceAsOf",
        "StreamEvents",
        "ListAccounts",
        "BatchGetAccounts",
        "StreamStageChanges",
        "GetProgramStatistics",
        "ListReferrals",
        # Idempotent by nature (forgetting twice is forgetting once): it takes no request id.
        "ForgetMember",
        # Appends nothing: a retry starts another operation, whose replay writes nothing.
        "SimulateProgramChange",
    }
    service = pb.DESCRIPTOR.services_by_name["LedgerService"]
    assert {method.name for method in service.methods} - reads == {n for n, _ in MUTATIONS}


# --- resource names ---------------------------------------------------------------------------

BAD_ACCOUNT_NAMES = [
    pytest.param(lambda s: "programs/x", id="program-only"),
    pytest.param(lambda s: "accounts/y", id="account-only"),
    pytest.param(lambda s: "", id="empty"),
    pytest.param(lambda s: f"{s.parent}/accounts/", id="no-member"),
    pytest.param(lambda s: f"{s.parent}/accounts/a b", id="space-in-member"),
    pytest.param(lambda s: f"{s.account}/", id="trailing-slash"),
    pytest.param(lambda s: f"/{s.account}", id="leading-slash"),
    pytest.param(lambda s: s.account.upper(), id="upper-case-program"),
    pytest.param(lambda s: f"{s.parent}/members/x", id="wrong-collection"),
]
NameOf = Callable[[Setup], str]


@pytest.mark.parametrize("name", BAD_ACCOUNT_NAMES)
async def test_a_malformed_account_name_is_refused(s: Setup, name: NameOf) -> None:
    await s.invalid(
        lambda: s.stub.EarnPoints(
            pb.EarnPointsRequest(request_id=request_id(), account=name(s), points=5, reason="bonus")
        ),
        "account",
    )
    await s.invalid(lambda: s.stub.GetAccount(pb.GetAccountRequest(name=name(s))), "name")
    await s.invalid(
        lambda: s.stub.ListLedgerEntries(pb.ListLedgerEntriesRequest(parent=name(s))), "parent"
    )
    await s.invalid(lambda: s.stub.ListReferrals(pb.ListReferralsRequest(parent=name(s))), "parent")
    await s.invalid(
        lambda: s.stub.GetBalanceAsOf(
            pb.GetBalanceAsOfRequest(name=name(s), as_of_time=stamp(int(T0.timestamp())))
        ),
        "name",
    )
    await s.invalid(
        lambda: s.stub.TransferPoints(
            pb.TransferPointsRequest(
                request_id=request_id(),
                source_account=name(s),
                destination_account=s.other,
                points=5,
            )
        ),
        "source_account",
    )
    await s.invalid(
        lambda: s.stub.TransferPoints(
            pb.TransferPointsRequest(
                request_id=request_id(),
                source_account=s.account,
                destination_account=name(s),
                points=5,
            )
        ),
        "destination_account",
    )


@pytest.mark.parametrize(
    "name",
    ["", "programs/", "accounts/y", "programs/Upper", "programs/1abc", "programs/a/accounts/b"],
)
async def test_a_malformed_program_name_is_refused(s: Setup, name: str) -> None:
    await s.invalid(
        lambda: s.stub.EnrollMember(
            pb.EnrollMemberRequest(request_id=request_id(), parent=name, member_id="m-1")
        ),
        "parent",
    )
    await s.invalid(lambda: s.stub.GetProgram(pb.GetProgramRequest(name=name)), "name")
    await s.invalid(
        lambda: s.stub.UpdateProgram(
            pb.UpdateProgramRequest(request_id=request_id(), program=pb.Program(name=name))
        ),
        "program.name",
    )
    await s.invalid(
        lambda: s.stub.ImportHistory(pb.ImportHistoryRequest(request_id=request_id(), parent=name)),
        "parent",
    )


@pytest.mark.parametrize("where", ["self", "other-program"])
async def test_a_transfer_to_oneself_or_another_program_is_refused(s: Setup, where: str) -> None:
    elsewhere = await create_program(s.stub)
    destination = s.account if where == "self" else await enroll(s.stub, elsewhere)
    await s.invalid(
        lambda: s.stub.TransferPoints(
            pb.TransferPointsRequest(
                request_id=request_id(),
                source_account=s.account,
                destination_account=destination,
                points=5,
            )
        ),
        "destination_account",
        None,
        elsewhere,
    )


# --- unknown accounts, programs, orders, reservations -----------------------------------------


async def test_an_unknown_account_is_not_found(s: Setup) -> None:
    nobody = s.stranger
    reason = "ACCOUNT_NOT_FOUND"
    await s.not_found(
        lambda: s.stub.EarnPoints(
            pb.EarnPointsRequest(request_id=request_id(), account=nobody, points=5, reason="b")
        ),
        "account",
        reason,
    )
    await s.not_found(
        lambda: s.stub.RecordPurchase(
            pb.RecordPurchaseRequest(
                request_id=request_id(), account=nobody, order_id="o-1", amount=usd(5)
            )
        ),
        "account",
        reason,
    )
    await s.not_found(
        lambda: s.stub.RedeemPoints(
            pb.RedeemPointsRequest(request_id=request_id(), account=nobody, points=5)
        ),
        "account",
        reason,
    )
    await s.not_found(lambda: s.stub.GetAccount(pb.GetAccountRequest(name=nobody)), "name", reason)
    await s.not_found(
        lambda: s.stub.ListLedgerEntries(pb.ListLedgerEntriesRequest(parent=nobody)),
        "parent",
        reason,
    )
    await s.not_found(
        lambda: s.stub.GetBalanceAsOf(
            pb.GetBalanceAsOfRequest(name=nobody, as_of_time=stamp(int(T0.timestamp())))
        ),
        "name",
        reason,
    )
    await s.not_found(
        lambda: s.stub.TransferPoints(
            pb.TransferPointsRequest(
                request_id=request_id(),
                source_account=nobody,
                destination_account=s.other,
                points=5,
            )
        ),
        "source_account",
        reason,
    )
    await s.not_found(
        lambda: s.stub.TransferPoints(
            pb.TransferPointsRequest(
                request_id=request_id(),
                source_account=s.account,
                destination_account=nobody,
                points=5,
            )
        ),
        "destination_account",
        reason,
    )


async def test_an_unknown_program_is_not_found(s: Setup) -> None:
    missing = unique("nope")
    parent = f"programs/{missing}"
    account = f"{parent}/accounts/m-1"
    reason = "PROGRAM_NOT_FOUND"
    await s.not_found(
        lambda: s.stub.EnrollMember(
            pb.EnrollMemberRequest(request_id=request_id(), parent=parent, member_id="m-1")
        ),
        "parent",
        reason,
        missing,
    )
    await s.not_found(
        lambda: s.stub.GetProgram(pb.GetProgramRequest(name=parent)), "name", reason, missing
    )
    await s.not_found(
        lambda: s.stub.UpdateProgram(
            pb.UpdateProgramRequest(request_id=request_id(), program=pb.Program(name=parent))
        ),
        "program.name",
        reason,
        missing,
    )
    await s.not_found(
        lambda: s.stub.EarnPoints(
            pb.EarnPointsRequest(request_id=request_id(), account=account, points=5, reason="b")
        ),
        "account",
        reason,
        missing,
    )
    await s.not_found(
        lambda: s.stub.ImportHistory(
            pb.ImportHistoryRequest(
                request_id=request_id(),
                parent=parent,
                events=[
                    pb.HistoricalEvent(
                        account=account,
                        points_delta=5,
                        occur_time=stamp(int(T0.timestamp()) - 60),
                        external_id="x-1",
                        kind="purchase",
                    )
                ],
            )
        ),
        "parent",
        reason,
        missing,
    )


async def test_an_unknown_order_is_not_found(s: Setup) -> None:
    await s.not_found(
        lambda: s.stub.ConfirmOrder(
            pb.ConfirmOrderRequest(request_id=request_id(), account=s.account, order_id="nope")
        ),
        "order_id",
        "ORDER_NOT_FOUND",
    )
    await s.not_found(
        lambda: s.stub.RefundPurchase(
            pb.RefundPurchaseRequest(
                request_id=request_id(), account=s.account, order_id="nope", amount=usd(1)
            )
        ),
        "order_id",
        "ORDER_NOT_FOUND",
    )


async def test_an_order_of_another_member_is_not_found(s: Setup) -> None:
    await s.not_found(
        lambda: s.stub.ConfirmOrder(
            pb.ConfirmOrderRequest(request_id=request_id(), account=s.other, order_id=s.order_id)
        ),
        "order_id",
        "ORDER_NOT_FOUND",
    )


async def test_an_unknown_reservation_is_not_found(s: Setup) -> None:
    await s.not_found(
        lambda: s.stub.CommitReservation(
            pb.CommitReservationRequest(
                request_id=request_id(), account=s.account, reservation_id="nope"
            )
        ),
        "reservation_id",
        "RESERVATION_NOT_FOUND",
    )
    await s.not_found(
        lambda: s.stub.CancelReservation(
            pb.CancelReservationRequest(
                request_id=request_id(), account=s.account, reservation_id="nope"
            )
        ),
        "reservation_id",
        "RESERVATION_NOT_FOUND",
    )


# --- other fields -----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "Bonus", "with space", "x" * 65, "tab\t"])
async def test_a_bad_earn_reason_is_refused(s: Setup, reason: str) -> None:
    await s.invalid(
        lambda: s.stub.EarnPoints(
            pb.EarnPointsRequest(
                request_id=request_id(), account=s.account, points=5, reason=reason
            )
        ),
        "reason",
    )


@pytest.mark.parametrize(
    ("reason_code", "note", "field"),
    [
        ("", "", "reason_code"),
        ("Goodwill", "", "reason_code"),
        ("goodwill", "n" * 1_001, "note"),
        ("goodwill", "nul\x00", "note"),
        ("goodwill", "bell\x07", "note"),
    ],
    ids=["empty-code", "upper-code", "long-note", "nul-in-note", "control-in-note"],
)
async def test_a_bad_adjustment_reason_or_note_is_refused(
    s: Setup, reason_code: str, note: str, field: str
) -> None:
    await s.invalid(
        lambda: s.stub.AdjustPoints(
            pb.AdjustPointsRequest(
                request_id=request_id(),
                account=s.account,
                points_delta=5,
                reason_code=reason_code,
                note=note,
            )
        ),
        field,
    )


@pytest.mark.parametrize("reference", ["r" * 129, "ctl\x01", "nul\x00"])
async def test_a_bad_redemption_reference_is_refused(s: Setup, reference: str) -> None:
    await s.invalid(
        lambda: s.stub.RedeemPoints(
            pb.RedeemPointsRequest(
                request_id=request_id(), account=s.account, points=5, reference=reference
            )
        ),
        "reference",
    )


@pytest.mark.parametrize("ttl_seconds", [-1, 901, 30 * 86_400 + 1, 2**31 - 1])
async def test_a_ttl_outside_the_programs_maximum_is_refused(s: Setup, ttl_seconds: int) -> None:
    await s.invalid(
        lambda: s.stub.ReservePoints(
            pb.ReservePointsRequest(
                request_id=request_id(),
                account=s.account,
                reservation_id="r-ttl",
                points=5,
                ttl_seconds=ttl_seconds,
            )
        ),
        "ttl_seconds",
    )


# --- paging, positions, times -----------------------------------------------------------------


@pytest.mark.parametrize("page_size", [-1, -(2**31)])
async def test_a_negative_page_size_is_refused(s: Setup, page_size: int) -> None:
    await s.invalid(
        lambda: s.stub.ListLedgerEntries(
            pb.ListLedgerEntriesRequest(parent=s.account, page_size=page_size)
        ),
        "page_size",
    )
    await s.invalid(
        lambda: s.stub.ListReferrals(
            pb.ListReferralsRequest(parent=s.account, page_size=page_size)
        ),
        "page_size",
    )


@pytest.mark.parametrize("token", ["garbage", "v", "v-1", "v1.5", "1", "v 1", "v+1", "v\u0661"])
async def test_a_garbage_page_token_is_refused(s: Setup, token: str) -> None:
    await s.invalid(
        lambda: s.stub.ListLedgerEntries(
            pb.ListLedgerEntriesRequest(parent=s.account, page_token=token)
        ),
        "page_token",
    )


@pytest.mark.parametrize(
    "position",
    [
        "garbage",
        "-",
        "1-",
        "-1",
        "1-2-3",
        "-1-0",
        "1--2",
        "x-1",
        "99999999999999999999999-0",
        "1-99999999999999999999999",
    ],
)
async def test_a_garbage_stream_position_is_refused(s: Setup, position: str) -> None:
    async def consume() -> None:
        async for _ in s.stub.StreamEvents(
            pb.StreamEventsRequest(after_position=position, program=s.parent, catch_up_only=True)
        ):
            pass

    await s.invalid(consume, "after_position")


async def test_a_malformed_stream_program_is_refused(s: Setup) -> None:
    async def consume() -> None:
        async for _ in s.stub.StreamEvents(
            pb.StreamEventsRequest(program="accounts/x", catch_up_only=True)
        ):
            pass

    await s.invalid(consume, "program")


async def test_bad_times_are_refused(s: Setup) -> None:
    await s.invalid(
        lambda: s.stub.GetBalanceAsOf(pb.GetBalanceAsOfRequest(name=s.account)), "as_of_time"
    )
    await s.invalid(
        lambda: s.stub.GetBalanceAsOf(
            pb.GetBalanceAsOfRequest(name=s.account, as_of_time=stamp(0, -1))
        ),
        "as_of_time.nanos",
    )
    await s.invalid(
        lambda: s.stub.GetBalanceAsOf(
            pb.GetBalanceAsOfRequest(name=s.account, as_of_time=stamp(10**12))
        ),
        "as_of_time",
    )
    await s.invalid(
        lambda: s.stub.ListLedgerEntries(
            pb.ListLedgerEntriesRequest(parent=s.account, start_time=stamp(0, 1_000_000_000))
        ),
        "start_time.nanos",
    )
    await s.invalid(
        lambda: s.stub.ListLedgerEntries(
            pb.ListLedgerEntriesRequest(parent=s.account, end_time=stamp(-(10**12)))
        ),
        "end_time",
    )


# --- bulk import ------------------------------------------------------------------------------


def historical(account: str, external_id: str, points_delta: int = 50) -> pb.HistoricalEvent:
    return pb.HistoricalEvent(
        account=account,
        points_delta=points_delta,
        occur_time=stamp(int(T0.timestamp()) - 30 * 86_400),
        external_id=external_id,
        kind="purchase",
    )


Spoil = Callable[[Setup, pb.HistoricalEvent], None]


def _set_points(points: int) -> Spoil:
    def spoil(s: Setup, event: pb.HistoricalEvent) -> None:
        event.points_delta = points

    return spoil


def _set(field: str, value: str) -> Spoil:
    def spoil(s: Setup, event: pb.HistoricalEvent) -> None:
        setattr(event, field, value)

    return spoil


def _other_program(s: Setup, event: pb.HistoricalEvent) -> None:
    event.account = f"programs/{unique('elsewhere')}/accounts/m-1"


def _bad_nanos(s: Setup, event: pb.HistoricalEvent) -> None:
    event.occur_time.nanos = -5


def _future(s: Setup, event: pb.HistoricalEvent) -> None:
    event.occur_time.seconds = int(T0.timestamp()) + 86_400


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        (_set_points(0), "events[3].points_delta"),
        (_set_points(MAX_POINTS + 1), "events[3].points_delta"),
        (_set_points(-MAX_POINTS - 1), "events[3].points_delta"),
        (_set("kind", "Purchase"), "events[3].kind"),
        (_set("kind", ""), "events[3].kind"),
        (_set("external_id", ""), "events[3].external_id"),
        (_set("external_id", "has space"), "events[3].external_id"),
        (_set("external_id", "x" * 129), "events[3].external_id"),
        (_set("account", "accounts/x"), "events[3].account"),
        (_other_program, "events[3].account"),
        (_bad_nanos, "events[3].occur_time.nanos"),
        (_future, "events[3].occur_time"),
    ],
    ids=[
        "zero-points",
        "too-many-points",
        "too-many-points-spent",
        "upper-kind",
        "empty-kind",
        "empty-external-id",
        "space-in-external-id",
        "long-external-id",
        "malformed-account",
        "other-program",
        "bad-nanos",
        "in-the-future",
    ],
)
async def test_one_bad_event_spoils_the_whole_import(s: Setup, spoil: Spoil, field: str) -> None:
    newcomer = f"{s.parent}/accounts/{unique('legacy')}"
    events = [
        historical(s.account, "h-0"),
        historical(newcomer, "h-1"),
        historical(s.other, "h-2"),
        historical(newcomer, "h-3"),
        historical(s.account, "h-4", -10),
    ]
    spoil(s, events[3])
    await s.invalid(
        lambda: s.stub.ImportHistory(
            pb.ImportHistoryRequest(request_id=request_id(), parent=s.parent, events=events)
        ),
        field,
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await s.stub.GetAccount(pb.GetAccountRequest(name=newcomer))
    assert caught.value.code() == NOT_FOUND


async def test_an_import_over_1000_events_is_refused(s: Setup) -> None:
    events = [historical(s.account, f"h-{index}") for index in range(1_001)]
    await s.invalid(
        lambda: s.stub.ImportHistory(
            pb.ImportHistoryRequest(request_id=request_id(), parent=s.parent, events=events)
        ),
        "events",
    )


# --- program settings -------------------------------------------------------------------------


def rate(currency: str = "USD", points: int = 1, per_major_units: int = 1) -> pb.EarnRate:
    return pb.EarnRate(currency_code=currency, points=points, per_major_units=per_major_units)


BAD_SETTINGS = [
    pytest.param(pb.Program(return_window_days=-1), "program.return_window_days", id="window<0"),
    pytest.param(pb.Program(return_window_days=366), "program.return_window_days", id="window>365"),
    pytest.param(pb.Program(points_expiry_days=-1), "program.points_expiry_days", id="expiry<0"),
    pytest.param(
        pb.Program(points_expiry_days=3_651), "program.points_expiry_days", id="expiry>3650"
    ),
    pytest.param(
        pb.Program(earn_rates=[rate("XXX")]), "program.earn_rates[0].currency_code", id="XXX"
    ),
    pytest.param(
        pb.Program(earn_rates=[rate("usd")]), "program.earn_rates[0].currency_code", id="usd"
    ),
    pytest.param(
        pb.Program(earn_rates=[rate("")]), "program.earn_rates[0].currency_code", id="no-code"
    ),
    pytest.param(
        pb.Program(earn_rates=[rate("USD"), rate("USD")]),
        "program.earn_rates[1].currency_code",
        id="duplicate-currency",
    ),
    pytest.param(
        pb.Program(earn_rates=[rate("JPY"), rate("USD", points=-1)]),
        "program.earn_rates[1].points",
        id="negative-rate",
    ),
    pytest.param(
        pb.Program(earn_rates=[rate(per_major_units=0)]),
        "program.earn_rates[0].per_major_units",
        id="per-zero-units",
    ),
    pytest.param(pb.Program(max_hold_ttl_seconds=-1), "program.max_hold_ttl_seconds", id="ttl<0"),
    pytest.param(
        pb.Program(max_hold_ttl_seconds=30 * 86_400 + 1),
        "program.max_hold_ttl_seconds",
        id="ttl>30d",
    ),
    pytest.param(
        pb.Program(negative_balance_policy=99),  # type: ignore[arg-type]
        "program.negative_balance_policy",
        id="unknown-policy",
    ),
    pytest.param(pb.Program(display_name="d" * 201), "program.display_name", id="long-name"),
    pytest.param(pb.Program(display_name="nul\x00"), "program.display_name", id="nul-in-name"),
]


@pytest.mark.parametrize(("settings", "field"), BAD_SETTINGS)
async def test_create_program_with_settings_out_of_range_is_refused(
    s: Setup, settings: pb.Program, field: str
) -> None:
    program_id = unique("prog")
    await s.invalid(
        lambda: s.stub.CreateProgram(
            pb.CreateProgramRequest(
                request_id=request_id(), program_id=program_id, program=settings
            )
        ),
        field,
        None,
        program_id,
    )


@pytest.mark.parametrize(("settings", "field"), BAD_SETTINGS)
async def test_update_program_with_settings_out_of_range_is_refused(
    s: Setup, settings: pb.Program, field: str
) -> None:
    program = pb.Program()
    program.CopyFrom(settings)
    program.name = s.parent
    await s.invalid(
        lambda: s.stub.UpdateProgram(
            pb.UpdateProgramRequest(request_id=request_id(), program=program)
        ),
        field,
    )
    response = await s.stub.GetProgram(pb.GetProgramRequest(name=s.parent))
    assert response.program.revision == 1
    assert response.program.return_window_days == 30


@pytest.mark.parametrize(
    "program_id", ["", "Upper", "1abc", "-abc", "a" * 65, "has space", "under_score", "nul\x00"]
)
async def test_create_program_with_a_bad_id_is_refused(s: Setup, program_id: str) -> None:
    await s.invalid(
        lambda: s.stub.CreateProgram(
            pb.CreateProgramRequest(
                request_id=request_id(), program_id=program_id, program=pb.Program()
            )
        ),
        "program_id",
    )


async def test_update_program_with_a_negative_expected_revision_is_refused(s: Setup) -> None:
    await s.invalid(
        lambda: s.stub.UpdateProgram(
            pb.UpdateProgramRequest(
                request_id=request_id(), program=pb.Program(name=s.parent), expected_revision=-1
            )
        ),
        "expected_revision",
    )


@pytest.mark.parametrize("event_type", ["", "nul\x00", "has space", "pointsEarned", "X" * 65])
async def test_a_malformed_event_type_filter_is_refused(s: Setup, event_type: str) -> None:
    await s.invalid(
        lambda: s.stub.ListLedgerEntries(
            pb.ListLedgerEntriesRequest(parent=s.account, event_types=["PointsEarned", event_type])
        ),
        "event_types[1]",
    )


async def test_an_import_event_without_occur_time_is_refused(s: Setup) -> None:
    events = [historical(s.account, "h-0"), historical(s.other, "h-1")]
    events[1].ClearField("occur_time")
    await s.invalid(
        lambda: s.stub.ImportHistory(
            pb.ImportHistoryRequest(request_id=request_id(), parent=s.parent, events=events)
        ),
        "events[1].occur_time",
    )
