"""A request with several bad fields gets one INVALID_ARGUMENT whose BadRequest names every one
of them, each with its own reason, and nothing is appended: a caller fixes them all in one
round. One request per RPC family, each with at least two independent faults, through the real
channel; the log's rows are counted before and after."""

from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import psycopg
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import T0, Api, create_program, earn, enroll, request_id, unique
from tests.e2e.errors import error_info, rich_status

if TYPE_CHECKING:
    from loyalty.v1.ledger_pb2_grpc import LedgerServiceAsyncStub

SEVERAL = "SEVERAL_FIELDS_INVALID"
SETTING = "PROGRAM_SETTING_INVALID"
MALFORMED_ACCOUNT = "accounts/x"
"""Neither a program's name nor an account's."""


@dataclass
class Shop:
    api: Api
    database_url: str
    program_id: str
    account: str
    """A member with 1,000 points."""
    elsewhere: str
    """An account of another program."""

    @property
    def stub(self) -> "LedgerServiceAsyncStub":
        return self.api.stub

    @property
    def parent(self) -> str:
        return f"programs/{self.program_id}"


@pytest.fixture
async def shop(api: Api, database_url: str) -> Shop:
    program_id = await create_program(api.stub, return_window_days=30)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 1_000)
    elsewhere = await enroll(api.stub, await create_program(api.stub))
    return Shop(api, database_url, program_id, account, elsewhere)


async def events_in_log(database_url: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        cursor = await connection.execute("SELECT count(*) FROM ledger.events")
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def drained(responses: AsyncIterable[Any]) -> None:
    async for _ in responses:
        pass


def stamp(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def usd(units: int, nanos: int = 0) -> pb.Money:
    return pb.Money(currency_code="USD", units=units, nanos=nanos)


def violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    """(field, reason) of each field violation, sorted."""
    found: list[tuple[str, str]] = []
    for detail in rich_status(error).details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found += [(each.field, each.reason) for each in bad_request.field_violations]
    return sorted(found)


async def refused(shop: Shop, call: Callable[[], Awaitable[object]]) -> grpc.aio.AioRpcError:
    """The call's error, checked to be INVALID_ARGUMENT with nothing appended anywhere."""
    before = await events_in_log(shop.database_url)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call()
    assert await events_in_log(shop.database_url) == before, "a refused request appended"
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    return caught.value


@dataclass(frozen=True)
class Case:
    call: Callable[[Shop], Awaitable[object]]
    expected: list[tuple[str, str]]
    """(field, reason) of every violation, sorted."""
    reason: str = SEVERAL


def historical(
    account: str, external_id: str, points: int = 50, occur_seconds: int | None = None
) -> pb.HistoricalEvent:
    seconds = int(T0.timestamp()) - 86_400 if occur_seconds is None else occur_seconds
    return pb.HistoricalEvent(
        account=account,
        points_delta=points,
        occur_time=stamp(seconds),
        external_id=external_id,
        kind="purchase",
    )


def _import(s: Shop) -> Awaitable[object]:
    newcomer = f"{s.parent}/accounts/{unique('legacy')}"
    return s.stub.ImportHistory(
        pb.ImportHistoryRequest(
            request_id="",
            parent=s.parent,
            events=[
                historical(s.account, "h-0"),
                historical(newcomer, "h-1", points=0),
                historical(newcomer, "h-2"),
                historical(s.account, "h-3", occur_seconds=int(T0.timestamp()) + 86_400),
                historical(s.elsewhere, "h-4"),
            ],
        )
    )


def _purchase(s: Shop) -> Awaitable[object]:
    # The amount has a tenth of a cent: unreadable, so the lines' sum is not held against it.
    return s.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=s.account,
            order_id="has space",
            amount=usd(10, 1_000_000),
            lines=[
                pb.OrderLine(line_id="a", quantity=1, amount=usd(5), kind=pb.ORDER_LINE_KIND_GOODS),
                pb.OrderLine(
                    line_id="b", quantity=1, amount=pb.Money(currency_code="EUR", units=5)
                ),
            ],
        )
    )


CASES = {
    "RecordPurchase": Case(
        _purchase,
        [
            ("amount.nanos", "TOO_MANY_DECIMALS"),
            ("lines[1].amount.currency_code", "ORDER_LINE_INVALID"),
            ("lines[1].kind", "ORDER_LINE_INVALID"),
            ("order_id", "FIELD_MALFORMED"),
        ],
    ),
    "RefundPurchase": Case(
        lambda s: s.stub.RefundPurchase(
            pb.RefundPurchaseRequest(
                request_id=request_id(),
                account=s.account,
                order_id="",
                amount=pb.Money(currency_code="XXX", units=1),
            )
        ),
        [("amount.currency_code", "UNKNOWN_CURRENCY"), ("order_id", "FIELD_REQUIRED")],
    ),
    "EnrollMember": Case(
        lambda s: s.stub.EnrollMember(
            pb.EnrollMemberRequest(
                request_id=request_id(),
                parent=s.parent,
                member_id="has space",
                referral_fingerprint="f" * 257,
            )
        ),
        [("member_id", "FIELD_MALFORMED"), ("referral_fingerprint", "TEXT_TOO_LONG")],
    ),
    "RecordFeedback": Case(
        lambda s: s.stub.RecordFeedback(
            pb.RecordFeedbackRequest(
                request_id=request_id(), account=MALFORMED_ACCOUNT, nps_score=11
            )
        ),
        [("account", "ACCOUNT_NAME_MALFORMED"), ("nps_score", "SCORE_OUT_OF_RANGE")],
    ),
    "ChangeTier": Case(
        lambda s: s.stub.ChangeTier(
            pb.ChangeTierRequest(
                request_id=request_id(), account=MALFORMED_ACCOUNT, tier="", reason_code="Bad"
            )
        ),
        [("account", "ACCOUNT_NAME_MALFORMED"), ("reason_code", "FIELD_MALFORMED")],
    ),
    "ImportHistory": Case(
        _import,
        [
            ("events[1].points_delta", "POINTS_NOT_POSITIVE"),
            ("events[3].occur_time", "OCCUR_TIME_IN_FUTURE"),
            ("events[4].account", "ACCOUNT_IN_OTHER_PROGRAM"),
            ("request_id", "REQUEST_ID_INVALID"),
        ],
    ),
    "CreateProgram": Case(
        lambda s: s.stub.CreateProgram(
            pb.CreateProgramRequest(
                request_id="has space",
                program_id="Upper",
                program=pb.Program(earn_rates=[pb.EarnRate(currency_code="XXX", points=1)]),
            )
        ),
        [
            ("program.earn_rates[0].currency_code", SETTING),
            ("program.earn_rates[0].per_major_units", SETTING),
            ("program_id", "FIELD_MALFORMED"),
            ("request_id", "REQUEST_ID_INVALID"),
        ],
    ),
    "UpdateProgram-partial": Case(
        lambda s: s.stub.UpdateProgram(
            pb.UpdateProgramRequest(
                request_id=request_id(),
                program=pb.Program(name=s.parent, return_window_days=-1, points_expiry_days=-1),
                update_mask=FieldMask(paths=["return_window_days", "points_expiry_days"]),
                expected_revision=-1,
            )
        ),
        [
            ("expected_revision", "REVISION_NEGATIVE"),
            ("program.points_expiry_days", SETTING),
            ("program.return_window_days", SETTING),
        ],
    ),
    "UpdateProgram-name": Case(
        lambda s: s.stub.UpdateProgram(
            pb.UpdateProgramRequest(
                request_id=request_id(), program=pb.Program(name="programs/", time_zone="Mars")
            )
        ),
        [("program.name", "PROGRAM_NAME_MALFORMED"), ("program.time_zone", SETTING)],
    ),
    "GetProgram": Case(
        lambda s: s.stub.GetProgram(pb.GetProgramRequest(name=MALFORMED_ACCOUNT, revision=-1)),
        [("name", "PROGRAM_NAME_MALFORMED"), ("revision", "REVISION_NEGATIVE")],
    ),
    "ListProgramRevisions": Case(
        lambda s: s.stub.ListProgramRevisions(
            pb.ListProgramRevisionsRequest(parent=MALFORMED_ACCOUNT, page_size=-1, order_by="x")
        ),
        [
            ("order_by", "ORDER_BY_INVALID"),
            ("page_size", "PAGE_SIZE_OUT_OF_RANGE"),
            ("parent", "PROGRAM_NAME_MALFORMED"),
        ],
    ),
    "BatchGetAccounts": Case(
        lambda s: s.stub.BatchGetAccounts(
            pb.BatchGetAccountsRequest(
                parent=s.parent, names=[MALFORMED_ACCOUNT, s.account, s.elsewhere]
            )
        ),
        [("names[0]", "ACCOUNT_NAME_MALFORMED"), ("names[2]", "ACCOUNT_IN_OTHER_PROGRAM")],
    ),
    "ListAccounts": Case(
        lambda s: s.stub.ListAccounts(
            pb.ListAccountsRequest(
                parent=s.parent,
                page_size=-1,
                filter='available > many AND stage = "fond"',
                page_token="garbage",
            )
        ),
        [
            ("filter", "INVALID_FILTER"),
            ("filter", "INVALID_FILTER"),
            ("page_size", "PAGE_SIZE_OUT_OF_RANGE"),
            ("page_token", "PAGE_TOKEN_INVALID"),
        ],
    ),
    "ListLedgerEntries": Case(
        lambda s: s.stub.ListLedgerEntries(
            pb.ListLedgerEntriesRequest(
                parent=s.account,
                page_size=-1,
                page_token="garbage",
                event_types=["PointsEarned", "not a type"],
                start_time=stamp(0, -1),
            )
        ),
        [
            ("event_types[1]", "EVENT_TYPE_UNKNOWN"),
            ("page_size", "PAGE_SIZE_OUT_OF_RANGE"),
            ("page_token", "PAGE_TOKEN_INVALID"),
            ("start_time.nanos", "TIMESTAMP_INVALID"),
        ],
    ),
    "GetBalanceAsOf": Case(
        lambda s: s.stub.GetBalanceAsOf(pb.GetBalanceAsOfRequest(name=MALFORMED_ACCOUNT)),
        [("as_of_time", "AS_OF_TIME_REQUIRED"), ("name", "ACCOUNT_NAME_MALFORMED")],
    ),
    "StreamEvents": Case(
        lambda s: drained(
            s.stub.StreamEvents(
                pb.StreamEventsRequest(
                    after_position="garbage",
                    program=MALFORMED_ACCOUNT,
                    event_types=["NoSuchEvent"],
                    catch_up_only=True,
                )
            )
        ),
        [
            ("after_position", "POSITION_INVALID"),
            ("event_types[0]", "EVENT_TYPE_UNKNOWN"),
            ("program", "PROGRAM_NAME_MALFORMED"),
        ],
    ),
    "StreamStageChanges": Case(
        lambda s: drained(
            s.stub.StreamStageChanges(
                pb.StreamStageChangesRequest(
                    program=MALFORMED_ACCOUNT,
                    after_position="garbage",
                    kinds=[pb.CHANGE_KIND_TIER, pb.CHANGE_KIND_TIER],
                    catch_up_only=True,
                )
            )
        ),
        [
            ("after_position", "POSITION_INVALID"),
            ("kinds[1]", "CHANGE_KIND_INVALID"),
            ("program", "PROGRAM_NAME_MALFORMED"),
        ],
    ),
    "GetProgramStatistics": Case(
        lambda s: s.stub.GetProgramStatistics(
            pb.GetProgramStatisticsRequest(program=MALFORMED_ACCOUNT, date="2026-13-01")
        ),
        [
            ("date", "FIELD_MALFORMED"),
            ("period", "STATISTICS_PERIOD_INVALID"),
            ("program", "PROGRAM_NAME_MALFORMED"),
        ],
    ),
    "ListReferrals": Case(
        lambda s: s.stub.ListReferrals(
            pb.ListReferralsRequest(parent=s.parent, page_size=-1, page_token="garbage")
        ),
        [
            ("page_size", "PAGE_SIZE_OUT_OF_RANGE"),
            ("page_token", "PAGE_TOKEN_INVALID"),
            ("parent", "ACCOUNT_NAME_MALFORMED"),
        ],
    ),
    "ForgetMember": Case(
        lambda s: s.stub.ForgetMember(
            pb.ForgetMemberRequest(name=MALFORMED_ACCOUNT, reason="Not A Code")
        ),
        [("name", "ACCOUNT_NAME_MALFORMED"), ("reason", "FIELD_MALFORMED")],
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_a_request_with_several_bad_fields_names_every_one_and_appends_nothing(
    shop: Shop, case: Case
) -> None:
    error = await refused(shop, lambda: case.call(shop))

    assert violations(error) == case.expected
    assert error_info(error).reason == case.reason


def nonsense_settings(name: str = "") -> pb.Program:
    """The five settings issue 16 names: a negative rate, an unknown currency, a cap of zero,
    a reward costing 0 points, an expiry rounding without an expiry."""
    return pb.Program(
        name=name,
        earn_rates=[
            pb.EarnRate(currency_code="USD", points=-1, per_major_units=1),
            pb.EarnRate(currency_code="XXX", points=1, per_major_units=1),
        ],
        actions=[
            pb.RewardedAction(
                action_id="review",
                points=5,
                caps=[pb.ActionCap(period=pb.CAP_PERIOD_DAY, max_times=0, max_points=0)],
            )
        ],
        rewards=[pb.Reward(reward_id="tote", display_name="Tote", points_cost=0, percent_off=10)],
        expiry_rounding=pb.EXPIRY_ROUNDING_END_OF_MONTH,
        points_expiry_days=0,
    )


NONSENSE = [
    ("program.actions[0].caps[0]", SETTING),
    ("program.earn_rates[0].points", SETTING),
    ("program.earn_rates[1].currency_code", SETTING),
    ("program.expiry_rounding", SETTING),
    ("program.rewards[0].points_cost", SETTING),
]


async def test_a_new_program_with_five_nonsense_settings_is_refused_naming_all_five(
    shop: Shop,
) -> None:
    program_id = unique("prog")

    error = await refused(
        shop,
        lambda: shop.stub.CreateProgram(
            pb.CreateProgramRequest(
                request_id=request_id(), program_id=program_id, program=nonsense_settings()
            )
        ),
    )

    assert violations(error) == NONSENSE
    assert error_info(error).reason == SETTING
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await shop.stub.GetProgram(pb.GetProgramRequest(name=f"programs/{program_id}"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_program_update_to_five_nonsense_settings_is_refused_naming_all_five(
    shop: Shop,
) -> None:
    error = await refused(
        shop,
        lambda: shop.stub.UpdateProgram(
            pb.UpdateProgramRequest(
                request_id=request_id(), program=nonsense_settings(name=shop.parent)
            )
        ),
    )

    assert violations(error) == NONSENSE
    current = await shop.stub.GetProgram(pb.GetProgramRequest(name=shop.parent))
    assert (current.program.revision, current.program.return_window_days) == (1, 30)
