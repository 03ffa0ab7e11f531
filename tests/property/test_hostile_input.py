"""Hostile input through the real gRPC server: never INTERNAL or UNKNOWN, never a partial append.

Hypothesis builds requests for every method with extreme numbers (int64 and int32 limits in
points, amounts, nanos, TTLs, page sizes, timestamps), hostile strings (empty, NUL, lone
combining marks, right-to-left overrides, emoji sequences, up to ~1 MB and past the 4 MB
message limit), thousands of repeated elements, and raw bytes on the wire (random bytes,
truncated valid messages, a message of another type). For every call:

- the status is one a caller can act on, never INTERNAL or UNKNOWN;
- OK only if the request is valid by the API's documented rules (an oracle written from the
  proto and DESIGN.md, not from the servicer);
- a refused call appends nothing anywhere (the whole log's event count is unchanged; the
  server's background sweep is off, so only these calls write);
- afterwards the server still answers a health check and a valid request.
"""

import asyncio
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
import psycopg
import pytest
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ledger.currency import minor_unit_exponent
from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, FakeClock, create_program, earn, enroll, request_id, unique

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_POINTS = 1_000_000_000
MAX_AMOUNT_MINOR = 10**15
NANOS = 1_000_000_000
TIMESTAMP_MIN, TIMESTAMP_MAX = -62_135_596_800, 253_402_300_799  # 0001-01-01 .. 9999-12-31
SERVICE = "/loyalty.v1.LedgerService/"

OK = grpc.StatusCode.OK
ACCEPTABLE = {
    OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.ABORTED,  # UpdateProgram at another expected_revision (REVISION_MISMATCH)
}
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""The server's receive limit: larger requests get RESOURCE_EXHAUSTED, and only they do (a
status whose trailers are too big for the client shows up as RESOURCE_EXHAUSTED too)."""

HYPOTHESIS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- the target: one program and its members, shared by a test's examples -------------------


@dataclass
class Target:
    api: Api
    connection: psycopg.AsyncConnection[Any]
    clock: FakeClock
    program_id: str
    account: str
    """10,000 points, a pending USD order `order_id`, an open reservation `reservation_id`."""
    other: str
    order_id: str
    reservation_id: str
    stats: Counter[str]

    @property
    def parent(self) -> str:
        return f"programs/{self.program_id}"

    async def count_events(self) -> int:
        cursor = await self.connection.execute("SELECT count(*) FROM ledger.events")
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    def summary(self, test: str) -> str:
        statuses = " ".join(
            f"{name}={count}"
            for name, count in sorted(self.stats.items())
            if name not in {"calls", "held"}
        )
        return (
            f"[hostile] {test}: calls={self.stats['calls']} ({statuses}); never INTERNAL or "
            f"UNKNOWN, no partial append, OK only if valid: held for "
            f"{self.stats['held']}/{self.stats['calls']}"
        )


@pytest.fixture
async def target(
    api: Api,
    database_url: str,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> AsyncIterator[Target]:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    other = await enroll(api.stub, program_id)
    await earn(api.stub, account, 10_000)
    order_id = unique("order")
    await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=account,
            order_id=order_id,
            amount=pb.Money(currency_code="USD", units=100),
        )
    )
    reservation_id = unique("hold")
    await api.stub.ReservePoints(
        pb.ReservePointsRequest(
            request_id=request_id(), account=account, reservation_id=reservation_id, points=100
        )
    )
    connection = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    made = Target(
        api, connection, clock, program_id, account, other, order_id, reservation_id, Counter()
    )
    try:
        yield made
        await assert_still_serving(made)
    finally:
        await connection.close()
        with capsys.disabled():
            print("\n" + made.summary(request.node.name))


# --- the oracle: is a request valid by the API's rules? ---------------------------------------

REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")
EXTERNAL_ID = re.compile(r"[\x21-\x7e]{1,128}")
PROGRAM_ID = re.compile(r"[a-z][a-z0-9-]{0,63}")
MEMBER_ID = re.compile(r"[A-Za-z0-9._:@+-]{1,128}")
CODE = re.compile(r"[a-z0-9_]{1,64}")
PROGRAM_NAME = re.compile(r"programs/([a-z][a-z0-9-]{0,63})")
ACCOUNT_NAME = re.compile(r"programs/([a-z][a-z0-9-]{0,63})/accounts/[A-Za-z0-9._:@+-]{1,128}")
EARNING = {"USD": (1, 1), "JPY": (1, 100), "KWD": (10, 1)}
"""The target program's rates: currency -> (points, per major units)."""


def _matches(pattern: re.Pattern[str], value: str) -> bool:
    return pattern.fullmatch(value) is not None


def _points(points: int) -> bool:
    return 1 <= points <= MAX_POINTS


def _free_text(value: str, max_length: int) -> bool:
    return len(value) <= max_length and not any(
        ord(char) < 0x20 and char not in "\n\t" for char in value
    )


def _minor_units(money: pb.Money) -> int | None:
    """The amount in minor units, or None when it is not a valid amount."""
    exponent = minor_unit_exponent(money.currency_code)
    if exponent is None or not -NANOS < money.nanos < NANOS:
        return None
    if (money.units > 0 > money.nanos) or (money.units < 0 < money.nanos):
        return None
    per_minor = NANOS // 10**exponent
    if money.nanos % per_minor:
        return None
    minor = money.units * 10**exponent + money.nanos // per_minor
    return minor if 1 <= minor <= MAX_AMOUNT_MINOR else None


def _purchase_points(money: pb.Money) -> int | None:
    minor = _minor_units(money)
    rate = EARNING.get(money.currency_code)
    exponent = minor_unit_exponent(money.currency_code)
    if minor is None or rate is None or exponent is None:
        return None
    points: int = minor * rate[0] // (rate[1] * 10**exponent)
    return points


def _instant(stamp: Timestamp) -> datetime | None:
    if not 0 <= stamp.nanos < NANOS or not TIMESTAMP_MIN <= stamp.seconds <= TIMESTAMP_MAX:
        return None
    return stamp.ToDatetime(tzinfo=UTC)


def _settings(program: pb.Program) -> bool:
    codes = [rate.currency_code for rate in program.earn_rates]
    return (
        len(program.display_name) <= 200
        and not any(unicodedata.category(char) == "Cc" for char in program.display_name)
        and len(program.earn_rates) <= 200
        and len(set(codes)) == len(codes)
        and all(
            minor_unit_exponent(rate.currency_code) is not None
            and 0 <= rate.points <= 1_000_000
            and 1 <= rate.per_major_units <= 1_000_000_000
            for rate in program.earn_rates
        )
        and 0 <= program.return_window_days <= 365
        and 0 <= program.points_expiry_days <= 3_650
        and 0 <= program.max_hold_ttl_seconds <= 30 * 86_400
        and 0 <= program.negative_balance_policy <= 3
        and _expiry_policy_valid(program)
    )


def _expiry_policy_valid(program: pb.Program) -> bool:
    activities = list(program.qualifying_activities)
    return (
        0 <= program.expiry_rounding <= 3
        and (program.expiry_rounding <= 1 or program.points_expiry_days > 0)
        and 0 <= program.inactivity_expiry_days <= 3_650
        and all(1 <= activity <= 4 for activity in activities)
        and len(set(activities)) == len(activities)
        and bool(program.inactivity_expiry_days) == bool(activities)
    )


def _import(message: pb.ImportHistoryRequest, now: datetime) -> bool:
    parent = PROGRAM_NAME.fullmatch(message.parent)
    if parent is None or len(message.events) > 1_000:
        return False
    for event in message.events:
        account = ACCOUNT_NAME.fullmatch(event.account)
        occurred = _instant(event.occur_time) if event.HasField("occur_time") else None
        if (
            account is None
            or account.group(1) != parent.group(1)
            or event.points_delta == 0
            or not _points(abs(event.points_delta))
            or occurred is None
            or occurred > now
            or not _matches(EXTERNAL_ID, event.external_id)
            or not _matches(CODE, event.kind)
        ):
            return False
    return True


def valid(message: Message, now: datetime) -> bool:
    """Whether the request may succeed at all (it may still fail on the ledger's state)."""
    request_id = getattr(message, "request_id", None)
    if request_id is not None and not _matches(REQUEST_ID, request_id):
        return False
    account = getattr(message, "account", "")
    if isinstance(message, pb.ImportHistoryRequest):
        return _import(message, now)
    needs_account = not isinstance(
        message,
        (
            pb.CreateProgramRequest,
            pb.UpdateProgramRequest,
            pb.EnrollMemberRequest,
            pb.TransferPointsRequest,
        ),
    )
    if request_id is not None and needs_account and not _matches(ACCOUNT_NAME, account):
        return False
    match message:
        case pb.EarnPointsRequest():
            return _points(message.points) and _matches(CODE, message.reason)
        case pb.RedeemPointsRequest():
            return _points(message.points) and _free_text(message.reference, 128)
        case pb.AdjustPointsRequest():
            return (
                message.points_delta != 0
                and _points(abs(message.points_delta))
                and _matches(CODE, message.reason_code)
                and _free_text(message.note, 1_000)
            )
        case pb.ReservePointsRequest():
            return (
                _matches(EXTERNAL_ID, message.reservation_id)
                and _points(message.points)
                and 0 <= message.ttl_seconds <= 900  # the target program's maximum
            )
        case pb.CommitReservationRequest():
            return _matches(EXTERNAL_ID, message.reservation_id) and (
                message.points == 0 or _points(message.points)
            )
        case pb.CancelReservationRequest():
            return _matches(EXTERNAL_ID, message.reservation_id)
        case pb.ConfirmOrderRequest():
            return _matches(EXTERNAL_ID, message.order_id)
        case pb.RecordPurchaseRequest():
            points = _purchase_points(message.amount)
            return (
                _matches(EXTERNAL_ID, message.order_id)
                and points is not None
                and points <= MAX_POINTS
            )
        case pb.RefundPurchaseRequest():
            return _matches(EXTERNAL_ID, message.order_id) and (
                _minor_units(message.amount) is not None
            )
        case pb.TransferPointsRequest():
            source = ACCOUNT_NAME.fullmatch(message.source_account)
            destination = ACCOUNT_NAME.fullmatch(message.destination_account)
            return (
                source is not None
                and destination is not None
                and source.group(1) == destination.group(1)
                and message.source_account != message.destination_account
                and _points(message.points)
            )
        case pb.EnrollMemberRequest():
            return _matches(PROGRAM_NAME, message.parent) and _matches(MEMBER_ID, message.member_id)
        case pb.CreateProgramRequest():
            return _matches(PROGRAM_ID, message.program_id) and _settings(message.program)
        case pb.UpdateProgramRequest():
            return (
                _matches(PROGRAM_NAME, message.program.name)
                and message.expected_revision >= 0
                and _settings(message.program)
            )
    return True  # reads: any well-formed answer is fine


MUTATIONS = {
    "CreateProgram",
    "UpdateProgram",
    "EnrollMember",
    "RecordPurchase",
    "ConfirmOrder",
    "RefundPurchase",
    "EarnPoints",
    "AdjustPoints",
    "TransferPoints",
    "RedeemPoints",
    "ReservePoints",
    "CommitReservation",
    "CancelReservation",
    "ImportHistory",
}
REQUEST_TYPES: dict[str, type[Message]] = {
    "CreateProgram": pb.CreateProgramRequest,
    "UpdateProgram": pb.UpdateProgramRequest,
    "GetProgram": pb.GetProgramRequest,
    "EnrollMember": pb.EnrollMemberRequest,
    "RecordPurchase": pb.RecordPurchaseRequest,
    "ConfirmOrder": pb.ConfirmOrderRequest,
    "RefundPurchase": pb.RefundPurchaseRequest,
    "EarnPoints": pb.EarnPointsRequest,
    "AdjustPoints": pb.AdjustPointsRequest,
    "TransferPoints": pb.TransferPointsRequest,
    "RedeemPoints": pb.RedeemPointsRequest,
    "ReservePoints": pb.ReservePointsRequest,
    "CommitReservation": pb.CommitReservationRequest,
    "CancelReservation": pb.CancelReservationRequest,
    "GetAccount": pb.GetAccountRequest,
    "ListLedgerEntries": pb.ListLedgerEntriesRequest,
    "GetBalanceAsOf": pb.GetBalanceAsOfRequest,
    "StreamEvents": pb.StreamEventsRequest,
    "ImportHistory": pb.ImportHistoryRequest,
}

# --- sending and judging one call --------------------------------------------------------------

CALL_TIMEOUT_SECONDS = 30


async def _status(call: Callable[[], Any], streaming: bool) -> grpc.StatusCode:
    try:
        async with asyncio.timeout(CALL_TIMEOUT_SECONDS):
            if streaming:
                async for _ in call():
                    pass
            else:
                await call()
    except grpc.aio.AioRpcError as error:
        return error.code()
    return OK


async def check_call(
    target: Target,
    method: str,
    request: Message | bytes,
    *,
    expect_valid: bool | None = None,
) -> grpc.StatusCode:
    """Sends `request` (a message, or raw bytes) to `method` and checks what must hold.

    OK needs a valid request: for raw bytes, ones that decode as the method's request type
    into a valid request. `expect_valid` overrides the oracle for hand-picked cases."""
    streaming = method == "StreamEvents"
    if isinstance(request, bytes):
        payload = request
        try:
            decoded: Message | None = REQUEST_TYPES[method].FromString(payload)
        except DecodeError:
            decoded = None
    else:
        payload = request.SerializeToString()
        decoded = request
    if streaming and decoded is not None:
        assert isinstance(decoded, pb.StreamEventsRequest)
        assert decoded.catch_up_only, "a live stream never ends: send catch_up_only"
    channel = target.api.channel
    path = SERVICE + method
    # No serializers: the payload goes on the wire as it is.
    if streaming:
        stream: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(path)
        call: Callable[[], Any] = lambda: stream(payload)  # noqa: E731
    else:
        unary: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(path)
        call = lambda: unary(payload)  # noqa: E731
    before = await target.count_events()
    code = await _status(call, streaming)
    after = await target.count_events()
    target.stats["calls"] += 1
    target.stats[code.name] += 1
    shown = repr(payload[:200])
    if len(payload) > MAX_MESSAGE_BYTES:
        assert code is grpc.StatusCode.RESOURCE_EXHAUSTED, f"{method}: {code.name}"
    else:
        assert code in ACCEPTABLE, f"{method} answered {code.name} to {shown}"
    if code is OK:
        assert decoded is not None, f"{method} accepted bytes that do not decode: {shown}"
        ok_allowed = valid(decoded, target.clock()) if expect_valid is None else expect_valid
        assert ok_allowed, f"{method} accepted an invalid request: {shown}"
        assert after >= before
    else:
        assert after == before, f"{method} refused ({code.name}) but appended {after - before}"
    if method not in MUTATIONS:
        assert after == before, f"read {method} appended events"
    target.stats["held"] += 1
    return code


async def assert_still_serving(target: Target) -> None:
    health = health_pb2_grpc.HealthStub(target.api.channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(service=""))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    before = await target.count_events()
    response = await target.api.stub.EarnPoints(
        pb.EarnPointsRequest(
            request_id=request_id(), account=target.other, points=1, reason="still_serving"
        )
    )
    assert response.account.name == target.other
    assert await target.count_events() == before + 1


# --- strategies ---------------------------------------------------------------------------------

INT64_EDGES = [
    INT64_MIN,
    INT64_MIN + 1,
    -MAX_POINTS - 1,
    -MAX_POINTS,
    -1,
    0,
    1,
    MAX_POINTS,
    MAX_POINTS + 1,
    INT32_MAX,
    INT32_MAX + 1,
    2**53 + 1,
    MAX_AMOUNT_MINOR,
    MAX_AMOUNT_MINOR + 1,
    10**13,
    INT64_MAX - 1,
    INT64_MAX,
]
INT32_EDGES = [
    INT32_MIN,
    INT32_MIN + 1,
    -NANOS,
    -NANOS + 1,
    -1,
    0,
    1,
    365,
    366,
    900,
    901,
    3_650,
    3_651,
    30 * 86_400,
    30 * 86_400 + 1,
    NANOS - 1,
    NANOS,
    INT32_MAX - 1,
    INT32_MAX,
]
int64s = st.one_of(st.sampled_from(INT64_EDGES), st.integers(INT64_MIN, INT64_MAX))
int32s = st.one_of(st.sampled_from(INT32_EDGES), st.integers(INT32_MIN, INT32_MAX))
timestamps = st.builds(
    Timestamp,
    seconds=st.one_of(
        st.sampled_from(
            [INT64_MIN, TIMESTAMP_MIN - 1, TIMESTAMP_MIN, -1, 0, TIMESTAMP_MAX, TIMESTAMP_MAX + 1]
        ),
        st.sampled_from([INT64_MAX, -62_104_060_800, -30_610_224_000]),  # year 2, year 1000
        int64s,
    ),
    nanos=int32s,
)

SPECIAL_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x7f",
    "\n",
    "\t",
    "\u0301",  # a lone combining acute accent
    "\u0301\u0301\u0301\u0301",
    "e\u0301",
    "\u202eevil\u202c",  # right-to-left override
    "\u200f\u200e",
    "مرحبا",
    "שלום",
    "👩\u200d👩\u200d👧\u200d👦",
    "🏳️\u200d🌈",
    "\ufeff",
    "\uffff",
    "\U0010ffff",
    "\u2028",
    "\\u0000",
    "'; DROP TABLE ledger.events; --",
    "%s",
    "%(program_id)s",
    "{0}",
    "../../etc/passwd",
    "$program",
    "programs/",
    "programs//accounts/",
    "v",
    "v-1",
    "v\u0661",
    "v\u00b2",
    "1-2-3",
    "99999999999999999999999-0",
]
BIG_CHARS = ["x", "\x00", "é", "\u0301", "\u202e", "👩\u200d👩\u200d👧\u200d👦"]


def _big(char: str, size: int) -> str:
    return char * max(1, size // len(char.encode()))


big_strings = st.builds(
    _big, st.sampled_from(BIG_CHARS), st.sampled_from([129, 1_001, 65_536, 1_000_000])
)
hostile_text = st.one_of(
    st.sampled_from(SPECIAL_STRINGS),
    st.text(max_size=300),
    st.text(st.characters(categories=["Mn", "Me", "Cf", "Cc", "Zs", "So"]), max_size=50),
    big_strings,
)
# Once in a while, past the server's 4 MB message limit: RESOURCE_EXHAUSTED, nothing else.
oversized = st.builds(_big, st.sampled_from(BIG_CHARS), st.just(5_000_000))


class Fields:
    """Draws each field of a request: the valid value, or (when that kind of field is under
    attack) sometimes a hostile one."""

    def __init__(
        self, data: st.DataObject, *, numbers: bool = False, strings: bool = False
    ) -> None:
        self._data = data
        self._numbers = numbers
        self._strings = strings

    def text(self, valid_value: str, label: str) -> str:
        if not self._strings:
            return valid_value
        return self._data.draw(st.one_of(st.just(valid_value), hostile_text), label=label)

    def suffixed(self, valid_value: str, label: str) -> str:
        """A valid name with something appended (often still well formed)."""
        if not self._strings:
            return valid_value
        tail = self._data.draw(st.one_of(st.just(""), hostile_text), label=label)
        return valid_value + tail

    def int64(self, valid_value: int, label: str) -> int:
        if not self._numbers:
            return valid_value
        return self._data.draw(st.one_of(st.just(valid_value), int64s), label=label)

    def int32(self, valid_value: int, label: str) -> int:
        if not self._numbers:
            return valid_value
        return self._data.draw(st.one_of(st.just(valid_value), int32s), label=label)

    def stamp(self, valid_value: Timestamp, label: str) -> Timestamp:
        if not self._numbers:
            return valid_value
        return self._data.draw(st.one_of(st.just(valid_value), timestamps), label=label)


def build_request(method: str, target: Target, f: Fields) -> Message:
    """A request for `method`, valid unless `f` makes some field hostile."""
    rid = f.text(str(uuid.uuid4()), "request_id")
    account = f.suffixed(target.account, "account")
    now = int(target.clock().timestamp())
    match method:
        case "EarnPoints":
            return pb.EarnPointsRequest(
                request_id=rid,
                account=account,
                points=f.int64(5, "points"),
                reason=f.text("bonus", "reason"),
            )
        case "RedeemPoints":
            return pb.RedeemPointsRequest(
                request_id=rid,
                account=account,
                points=f.int64(1, "points"),
                reference=f.text("till-7", "reference"),
            )
        case "AdjustPoints":
            return pb.AdjustPointsRequest(
                request_id=rid,
                account=account,
                points_delta=f.int64(-1, "points_delta"),
                reason_code=f.text("goodwill", "reason_code"),
                note=f.text("customer called", "note"),
            )
        case "ReservePoints":
            return pb.ReservePointsRequest(
                request_id=rid,
                account=account,
                reservation_id=f.text(unique("hold"), "reservation_id"),
                points=f.int64(1, "points"),
                ttl_seconds=f.int32(60, "ttl_seconds"),
            )
        case "CommitReservation":
            return pb.CommitReservationRequest(
                request_id=rid,
                account=account,
                reservation_id=f.text(target.reservation_id, "reservation_id"),
                points=f.int64(1, "points"),
            )
        case "CancelReservation":
            return pb.CancelReservationRequest(
                request_id=rid,
                account=account,
                reservation_id=f.text(unique("hold"), "reservation_id"),
            )
        case "RecordPurchase" | "RefundPurchase":
            amount = pb.Money(
                currency_code=f.text("USD", "currency_code"),
                units=f.int64(1, "units"),
                nanos=f.int32(0, "nanos"),
            )
            order_id = unique("order") if method == "RecordPurchase" else target.order_id
            message_type = (
                pb.RecordPurchaseRequest if method == "RecordPurchase" else pb.RefundPurchaseRequest
            )
            return message_type(
                request_id=rid,
                account=account,
                order_id=f.text(order_id, "order_id"),
                amount=amount,
            )
        case "ConfirmOrder":
            return pb.ConfirmOrderRequest(
                request_id=rid, account=account, order_id=f.text(target.order_id, "order_id")
            )
        case "TransferPoints":
            return pb.TransferPointsRequest(
                request_id=rid,
                source_account=account,
                destination_account=f.suffixed(target.other, "destination_account"),
                points=f.int64(1, "points"),
            )
        case "EnrollMember":
            return pb.EnrollMemberRequest(
                request_id=rid,
                parent=f.suffixed(target.parent, "parent"),
                member_id=f.text(unique("member"), "member_id"),
            )
        case "CreateProgram" | "UpdateProgram":
            program = pb.Program(
                display_name=f.text("Hostile Rewards", "display_name"),
                earn_rates=[
                    pb.EarnRate(
                        currency_code=f.text("USD", "earn_rates.currency_code"),
                        points=f.int64(1, "earn_rates.points"),
                        per_major_units=f.int64(1, "earn_rates.per_major_units"),
                    )
                ],
                return_window_days=f.int32(0, "return_window_days"),
                points_expiry_days=f.int32(0, "points_expiry_days"),
                negative_balance_policy=f.int32(0, "negative_balance_policy"),  # type: ignore[arg-type]
                max_hold_ttl_seconds=f.int32(0, "max_hold_ttl_seconds"),
            )
            if method == "CreateProgram":
                return pb.CreateProgramRequest(
                    request_id=rid, program_id=f.text(unique("prog"), "program_id"), program=program
                )
            # Another program than the target's, so a successful update cannot change the
            # rules the other examples are judged by.
            program.name = f.suffixed(f"programs/{unique('nowhere')}", "program.name")
            return pb.UpdateProgramRequest(
                request_id=rid,
                program=program,
                expected_revision=f.int64(0, "expected_revision"),
            )
        case "GetProgram":
            return pb.GetProgramRequest(name=f.suffixed(target.parent, "name"))
        case "GetAccount":
            return pb.GetAccountRequest(name=account)
        case "ListLedgerEntries":
            request = pb.ListLedgerEntriesRequest(
                parent=account,
                page_size=f.int32(10, "page_size"),
                page_token=f.text("v1", "page_token"),
                event_types=[f.text("PointsEarned", "event_types")],
            )
            request.start_time.CopyFrom(f.stamp(Timestamp(seconds=now - 86_400), "start_time"))
            request.end_time.CopyFrom(f.stamp(Timestamp(seconds=now + 86_400), "end_time"))
            return request
        case "GetBalanceAsOf":
            return pb.GetBalanceAsOfRequest(
                name=account, as_of_time=f.stamp(Timestamp(seconds=now), "as_of_time")
            )
        case "StreamEvents":
            return pb.StreamEventsRequest(
                after_position=f.text("", "after_position"),
                program=f.suffixed(target.parent, "program"),
                catch_up_only=True,
            )
        case "ImportHistory":
            return pb.ImportHistoryRequest(
                request_id=rid,
                parent=f.suffixed(target.parent, "parent"),
                events=[
                    pb.HistoricalEvent(
                        account=f.suffixed(f"{target.parent}/accounts/{unique('old')}", "account"),
                        points_delta=f.int64(50, "points_delta"),
                        occur_time=f.stamp(Timestamp(seconds=now - 86_400), "occur_time"),
                        external_id=f.text(unique("ext"), "external_id"),
                        kind=f.text("purchase", "kind"),
                    )
                ],
            )
    raise AssertionError(method)


METHODS = sorted(REQUEST_TYPES)


# --- the tests ------------------------------------------------------------------------------


@HYPOTHESIS
@given(data=st.data())
async def test_extreme_numbers_never_fail_inside_the_server(
    target: Target, data: st.DataObject
) -> None:
    method = data.draw(st.sampled_from(METHODS), label="method")
    request = build_request(method, target, Fields(data, numbers=True))
    await check_call(target, method, request)
    if target.stats["calls"] % 25 == 0:
        await assert_still_serving(target)


@HYPOTHESIS
@given(data=st.data())
async def test_hostile_strings_never_fail_inside_the_server(
    target: Target, data: st.DataObject
) -> None:
    method = data.draw(st.sampled_from(METHODS), label="method")
    request = build_request(method, target, Fields(data, strings=True))
    await check_call(target, method, request)
    if target.stats["calls"] % 25 == 0:
        await assert_still_serving(target)


@settings(HYPOTHESIS, max_examples=10)
@given(data=st.data())
async def test_oversized_messages_are_refused_whole(target: Target, data: st.DataObject) -> None:
    method = data.draw(st.sampled_from(["EarnPoints", "AdjustPoints", "CreateProgram"]))
    request = build_request(method, target, Fields(data))
    field = {"EarnPoints": "reason", "AdjustPoints": "note", "CreateProgram": "program_id"}[method]
    setattr(request, field, data.draw(oversized, label=field))
    code = await check_call(target, method, request)
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    if target.stats["calls"] % 5 == 0:
        await assert_still_serving(target)


SPOILERS: dict[str, Callable[[pb.HistoricalEvent, FakeClock], None]] = {
    "zero_points": lambda e, _: setattr(e, "points_delta", 0),
    "int64_max_points": lambda e, _: setattr(e, "points_delta", INT64_MAX),
    "int64_min_points": lambda e, _: setattr(e, "points_delta", INT64_MIN),
    "bad_kind": lambda e, _: setattr(e, "kind", "Kind With Spaces"),
    "nul_kind": lambda e, _: setattr(e, "kind", "a\x00"),
    "empty_external_id": lambda e, _: setattr(e, "external_id", ""),
    "rtl_external_id": lambda e, _: setattr(e, "external_id", "\u202eabc"),
    "no_time": lambda e, _: e.ClearField("occur_time"),
    "negative_nanos": lambda e, _: setattr(e.occur_time, "nanos", -1),
    "int32_max_nanos": lambda e, _: setattr(e.occur_time, "nanos", INT32_MAX),
    "int64_max_seconds": lambda e, _: setattr(e.occur_time, "seconds", INT64_MAX),
    "int64_min_seconds": lambda e, _: setattr(e.occur_time, "seconds", INT64_MIN),
    "in_the_future": lambda e, c: setattr(e.occur_time, "seconds", int(c().timestamp()) + 60),
    "other_program": lambda e, _: setattr(e, "account", f"programs/{unique('x')}/accounts/m"),
    "bad_account": lambda e, _: setattr(e, "account", "programs/x/accounts/"),
    "nul_account": lambda e, _: setattr(e, "account", e.account + "\x00"),
}


@HYPOTHESIS
@given(data=st.data())
async def test_an_import_with_one_bad_event_appends_nothing(
    target: Target, data: st.DataObject
) -> None:
    """Many events over several members (new and existing), one of them bad: the whole
    import is refused and nothing at all is appended, not even the good members' shares."""
    size = data.draw(st.one_of(st.integers(1, 60), st.sampled_from([999, 1_000])), label="size")
    members = data.draw(st.integers(1, 6), label="members")
    names = [f"{target.parent}/accounts/{unique('old')}" for _ in range(members - 1)]
    names.append(target.other)
    now = int(target.clock().timestamp())
    events = [
        pb.HistoricalEvent(
            account=names[index % members],
            points_delta=data.draw(st.sampled_from([1, 7, -3, 500, MAX_POINTS])),
            occur_time=Timestamp(seconds=now - 86_400 * (1 + index % 400)),
            external_id=f"ext-{index}",
            kind="purchase",
        )
        for index in range(size)
    ]
    spoiler = data.draw(st.sampled_from([None, *sorted(SPOILERS)]), label="spoiler")
    if spoiler is not None:
        bad = data.draw(st.integers(0, size - 1), label="bad index")
        SPOILERS[spoiler](events[bad], target.clock)
    request = pb.ImportHistoryRequest(request_id=request_id(), parent=target.parent, events=events)
    code = await check_call(target, "ImportHistory", request)
    if spoiler is not None:
        assert code is grpc.StatusCode.INVALID_ARGUMENT, spoiler
        for name in names[:-1]:  # the new members were not enrolled either
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await target.api.stub.GetAccount(pb.GetAccountRequest(name=name))
            assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    else:
        assert code is OK
    if target.stats["calls"] % 25 == 0:
        await assert_still_serving(target)


async def test_thousands_of_repeated_elements(target: Target) -> None:
    now = int(target.clock().timestamp())
    rate = pb.EarnRate(currency_code="USD", points=1, per_major_units=1)
    many_rates = pb.Program(earn_rates=[rate] * 10_000)
    distinct = [
        pb.EarnRate(currency_code=code, points=1, per_major_units=1)
        for code in ("USD", "EUR", "JPY", "GBP", "KWD")
    ]
    event = pb.HistoricalEvent(
        account=target.other,
        points_delta=1,
        occur_time=Timestamp(seconds=now - 60),
        external_id="e",
        kind="k",
    )
    cases: list[tuple[str, Message]] = [
        (
            "CreateProgram",
            pb.CreateProgramRequest(
                request_id=request_id(), program_id=unique("prog"), program=many_rates
            ),
        ),
        (
            "CreateProgram",
            pb.CreateProgramRequest(
                request_id=request_id(),
                program_id=unique("prog"),
                program=pb.Program(earn_rates=distinct * 41),  # 205 rates, all repeated
            ),
        ),
        (
            "UpdateProgram",
            pb.UpdateProgramRequest(
                request_id=request_id(),
                program=pb.Program(name=target.parent, earn_rates=[rate] * 10_000),
            ),
        ),
        (
            "ImportHistory",
            pb.ImportHistoryRequest(
                request_id=request_id(), parent=target.parent, events=[event] * 10_000
            ),
        ),
        (
            "ImportHistory",
            pb.ImportHistoryRequest(
                request_id=request_id(), parent=target.parent, events=[event] * 1_001
            ),
        ),
        (
            "ListLedgerEntries",
            pb.ListLedgerEntriesRequest(
                parent=target.account, event_types=["PointsEarned"] * 10_000
            ),
        ),
        (
            "ListLedgerEntries",
            pb.ListLedgerEntriesRequest(parent=target.account, event_types=["X\x00"] * 10_000),
        ),
    ]
    codes = [await check_call(target, method, request) for method, request in cases]
    assert codes == [grpc.StatusCode.INVALID_ARGUMENT] * 5 + [OK, grpc.StatusCode.INVALID_ARGUMENT]
    await assert_still_serving(target)


# --- raw bytes on the wire ----------------------------------------------------------------


def _valid_bytes(method: str, target: Target) -> bytes:
    return build_request(method, target, Fields(_NO_DATA)).SerializeToString()


class _NoData:
    """Fields() without hostility never draws."""

    def draw(self, strategy: Any, label: Any = None) -> Any:
        raise AssertionError("not drawn")


_NO_DATA: Any = _NoData()


@HYPOTHESIS
@given(data=st.data())
async def test_raw_bytes_on_the_wire(target: Target, data: st.DataObject) -> None:
    """Random bytes, truncated valid messages and messages of another type, for every method:
    INVALID_ARGUMENT (or whatever the decoded request deserves), never INTERNAL/UNKNOWN."""
    method = data.draw(st.sampled_from(METHODS), label="method")
    kind = data.draw(st.sampled_from(["random", "truncated", "other_type", "garbled"]))
    if kind == "random":
        payload = data.draw(
            st.one_of(
                st.binary(max_size=64),
                st.binary(min_size=64, max_size=4_096),
                st.sampled_from([b"\xff" * 16, b"\x0a\xff\xff\xff\xff\x0f", b"\x0a\x02\xc3\x28"]),
            ),
            label="bytes",
        )
    elif kind == "truncated":
        whole = _valid_bytes(method, target)
        cut = data.draw(st.integers(0, max(len(whole) - 1, 0)), label="cut")
        payload = whole[:cut]
    elif kind == "other_type":
        other = data.draw(st.sampled_from([m for m in METHODS if m != method]), label="as")
        payload = _valid_bytes(other, target)
    else:  # a valid message with one byte changed
        garbled = bytearray(_valid_bytes(method, target))
        at = data.draw(st.integers(0, len(garbled) - 1), label="at")
        garbled[at] = data.draw(st.integers(0, 255), label="byte")
        payload = bytes(garbled)
    if method == "StreamEvents":
        # Garbage that decodes as a live stream request (catch_up_only unset) would wait
        # for events forever; force the catch-up form by appending field 3 = true.
        payload += b"\x18\x01"
        try:
            decoded = pb.StreamEventsRequest.FromString(payload)
        except DecodeError:
            pass
        else:
            assume(decoded.catch_up_only)
    await check_call(target, method, payload)
    if target.stats["calls"] % 25 == 0:
        await assert_still_serving(target)


# --- a few hand-picked cases --------------------------------------------------------------

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
Case = Callable[[Target], tuple[str, Message]]


def _earn(points: int) -> Case:
    return lambda t: (
        "EarnPoints",
        pb.EarnPointsRequest(request_id=request_id(), account=t.account, points=points, reason="b"),
    )


def _money(method: str, units: int, nanos: int, currency: str = "USD") -> Case:
    message_type = (
        pb.RecordPurchaseRequest if method == "RecordPurchase" else pb.RefundPurchaseRequest
    )
    return lambda t: (
        method,
        message_type(
            request_id=request_id(),
            account=t.account,
            order_id=unique("order") if method == "RecordPurchase" else t.order_id,
            amount=pb.Money(currency_code=currency, units=units, nanos=nanos),
        ),
    )


def _list(**fields: Any) -> Case:
    return lambda t: ("ListLedgerEntries", pb.ListLedgerEntriesRequest(parent=t.account, **fields))


def _as_of(seconds: int, nanos: int = 0) -> Case:
    return lambda t: (
        "GetBalanceAsOf",
        pb.GetBalanceAsOfRequest(
            name=t.account, as_of_time=Timestamp(seconds=seconds, nanos=nanos)
        ),
    )


def _position(text: str) -> Case:
    return lambda t: (
        "StreamEvents",
        pb.StreamEventsRequest(after_position=text, program=t.parent, catch_up_only=True),
    )


def _import_at(seconds: int) -> Case:
    return lambda t: (
        "ImportHistory",
        pb.ImportHistoryRequest(
            request_id=request_id(),
            parent=t.parent,
            events=[
                pb.HistoricalEvent(
                    account=t.other,
                    points_delta=5,
                    occur_time=Timestamp(seconds=seconds),
                    external_id=unique("ext"),
                    kind="legacy",
                )
            ],
        ),
    )


def _create(program_id: str | None = None, **settings: Any) -> Case:
    return lambda t: (
        "CreateProgram",
        pb.CreateProgramRequest(
            request_id=request_id(),
            program_id=program_id or unique("prog"),
            program=pb.Program(**settings),
        ),
    )


def _enroll(member_id: str) -> Case:
    return lambda t: (
        "EnrollMember",
        pb.EnrollMemberRequest(request_id=request_id(), parent=t.parent, member_id=member_id),
    )


def _request_id(value: str) -> Case:
    return lambda t: (
        "EarnPoints",
        pb.EarnPointsRequest(request_id=value, account=t.account, points=1, reason="b"),
    )


EITHER = (OK, INVALID)
"""Lenient or strict would both be right (nothing is stored either way that could break)."""

HAND_PICKED: list[tuple[str, Case, grpc.StatusCode | tuple[grpc.StatusCode, ...]]] = [
    ("earn int64 max", _earn(INT64_MAX), INVALID),
    ("earn int64 min", _earn(INT64_MIN), INVALID),
    ("earn the maximum", _earn(MAX_POINTS), OK),
    ("purchase int64 max units", _money("RecordPurchase", INT64_MAX, NANOS - 1), INVALID),
    ("purchase int64 min units", _money("RecordPurchase", INT64_MIN, -(NANOS - 1)), INVALID),
    ("purchase nanos int32 max", _money("RecordPurchase", 1, INT32_MAX), INVALID),
    ("purchase nanos int32 min", _money("RecordPurchase", -1, INT32_MIN), INVALID),
    ("purchase sub-cent", _money("RecordPurchase", 1, 1), INVALID),
    ("purchase the maximum amount", _money("RecordPurchase", 10**13, 0), INVALID),
    ("purchase 1e9 points", _money("RecordPurchase", MAX_POINTS, 0), OK),
    ("purchase 1e9+1 points", _money("RecordPurchase", MAX_POINTS + 1, 0), INVALID),
    ("refund int64 max", _money("RefundPurchase", INT64_MAX, 0), INVALID),
    ("page_size int32 max", _list(page_size=INT32_MAX), OK),  # served as 1,000 (AIP-158)
    ("page_size int32 min", _list(page_size=INT32_MIN), INVALID),
    ("page token int64 max", _list(page_token=f"v{INT64_MAX}"), EITHER),
    ("page token past int64", _list(page_token=f"v{INT64_MAX + 1}"), EITHER),
    ("page token unicode digits", _list(page_token="v\u0661\u0662"), INVALID),
    ("page token superscript", _list(page_token="v\u00b2"), INVALID),
    ("event type NUL", _list(event_types=["Points\x00Earned"]), INVALID),
    ("as of int64 max", _as_of(INT64_MAX), INVALID),
    ("as of int64 min", _as_of(INT64_MIN), INVALID),
    ("as of year 1", _as_of(TIMESTAMP_MIN), OK),
    ("as of year 9999", _as_of(TIMESTAMP_MAX, NANOS - 1), OK),
    ("as of nanos -1", _as_of(0, -1), INVALID),
    ("position xid8 max", _position(f"{2**64 - 1}-{INT64_MAX}"), OK),
    ("position past xid8", _position(f"{2**64}-0"), INVALID),
    ("position past bigint", _position(f"1-{2**63}"), INVALID),
    ("position unicode digits", _position("\u0661-\u0662"), EITHER),
    ("import in year 1", _import_at(TIMESTAMP_MIN), EITHER),
    ("import in year 999", _import_at(-30_641_760_000), EITHER),
    ("import a second ahead", lambda t: _import_at(int(t.clock().timestamp()) + 1)(t), INVALID),
    ("import at int64 max", _import_at(INT64_MAX), INVALID),
    ("program id NUL", _create("prog\x00"), INVALID),
    ("program id RTL", _create("prog\u202e"), INVALID),
    ("display name NUL", _create(display_name="a\x00b"), INVALID),
    ("display name RTL emoji", _create(display_name="\u202e👩\u200d👩\u200d👧 \u0301"), OK),
    ("display name combining only", _create(display_name="\u0301" * 200), OK),
    ("display name 201", _create(display_name="\u0301" * 201), INVALID),
    ("policy int32 max", _create(negative_balance_policy=INT32_MAX), INVALID),
    ("policy -1", _create(negative_balance_policy=-1), INVALID),
    ("ttl int32 min", _create(max_hold_ttl_seconds=INT32_MIN), INVALID),
    ("window int32 max", _create(return_window_days=INT32_MAX), INVALID),
    (
        "rate that overflows a purchase",
        _create(earn_rates=[pb.EarnRate(currency_code="USD", points=10**6, per_major_units=1)]),
        OK,
    ),
    ("member NUL", _enroll("m\x00"), INVALID),
    ("member combining", _enroll("m\u0301"), INVALID),
    ("member 1 MB", _enroll("m" * 1_000_000), INVALID),
    ("request id NUL", _request_id("r\x00"), INVALID),
    ("request id emoji", _request_id("👩\u200d👩"), INVALID),
    ("request id 1 MB", _request_id("r" * 1_000_000), INVALID),
    ("request id 128", _request_id("r" * 128), OK),
]


async def test_hand_picked_extremes(target: Target) -> None:
    mismatched = []
    for name, case, expected in HAND_PICKED:
        allowed = expected if isinstance(expected, tuple) else (expected,)
        method, request = case(target)
        code = await check_call(target, method, request, expect_valid=OK in allowed)
        if code not in allowed:
            mismatched.append((name, code.name, [c.name for c in allowed]))
    await assert_still_serving(target)
    assert not mismatched


async def test_a_purchase_that_would_overflow_the_balance_is_refused(target: Target) -> None:
    """A rate of 1,000,000 points per USD and the largest amount would earn 10^19 points."""
    stub = target.api.stub
    program_id = await create_program(
        stub, earn_rates=[pb.EarnRate(currency_code="USD", points=1_000_000, per_major_units=1)]
    )
    account = await enroll(stub, program_id)
    for units in (10**13, 10**4):
        request = pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=account,
            order_id=unique("order"),
            amount=pb.Money(currency_code="USD", units=units),
        )
        code = await check_call(target, "RecordPurchase", request, expect_valid=False)
        assert code is INVALID
    await assert_still_serving(target)
