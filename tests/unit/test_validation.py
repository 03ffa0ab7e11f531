"""Bad requests name the fields at fault; commands need an enrolled account and a program."""

import pytest

from ledger.domain import limits
from ledger.domain.commands import (
    AdjustPoints,
    CancelReservation,
    Command,
    CommitReservation,
    ConfirmOrder,
    CreateProgram,
    EarnPoints,
    Enroll,
    RecordPurchase,
    RedeemPoints,
    RefundPurchase,
    ReservePoints,
    Sweep,
    TransferPoints,
    UpdateProgram,
)
from ledger.domain.decide import decide_transfer
from ledger.domain.errors import (
    AlreadyExists,
    Conflict,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Violations,
)
from ledger.domain.events import MemberEnrolled, ProgramCreated, ProgramUpdated
from ledger.domain.program import ProgramState
from ledger.domain.program import decide as decide_program
from ledger.domain.settings import EarnRate, ProgramSettings

from .scenario import (
    MEMBER,
    OTHER_MEMBER,
    PROGRAM,
    PROGRAM_ID,
    T0,
    earned,
    enrolled,
    fields,
    given,
    program,
    then,
    when,
)

MAX = limits.MAX_POINTS_PER_COMMAND
TOO_LONG_ID = "x" * (limits.MAX_ID_LENGTH + 1)


def adjust(points_delta: int = 5, reason_code: str = "goodwill", note: str = "") -> AdjustPoints:
    return AdjustPoints(points_delta, reason_code, note, "agent:42")


@pytest.mark.parametrize(
    ("command", "bad_fields"),
    [
        # points: at least 1, at most the per-command maximum
        (EarnPoints(0, "bonus"), ["points"]),
        (EarnPoints(-5, "bonus"), ["points"]),
        (EarnPoints(MAX + 1, "bonus"), ["points"]),
        (RedeemPoints(0), ["points"]),
        (RedeemPoints(MAX + 1), ["points"]),
        (ReservePoints("r-1", 0), ["points"]),
        (ReservePoints("r-1", MAX + 1), ["points"]),
        (CommitReservation("r-1", -1), ["points"]),
        (CommitReservation("r-1", MAX + 1), ["points"]),
        (adjust(0), ["points_delta"]),
        (adjust(MAX + 1), ["points_delta"]),
        (adjust(-(MAX + 1)), ["points_delta"]),
        # caller-chosen ids: required, printable, no spaces, bounded
        (RecordPurchase("", 100, "USD", 2), ["order_id"]),
        (RecordPurchase(TOO_LONG_ID, 100, "USD", 2), ["order_id"]),
        (RecordPurchase("order 1", 100, "USD", 2), ["order_id"]),
        (RecordPurchase("order\t1", 100, "USD", 2), ["order_id"]),
        (RecordPurchase("ordér-1", 100, "USD", 2), ["order_id"]),
        (ConfirmOrder(""), ["order_id"]),
        (RefundPurchase("o 1", 100, "USD"), ["order_id"]),
        (ReservePoints("", 5), ["reservation_id"]),
        (ReservePoints(TOO_LONG_ID, 5), ["reservation_id"]),
        (CommitReservation("r 1"), ["reservation_id"]),
        (CancelReservation(""), ["reservation_id"]),
        # money
        (RecordPurchase("o-1", 0, "USD", 2), ["amount"]),
        (RecordPurchase("o-1", -100, "USD", 2), ["amount"]),
        (RecordPurchase("o-1", limits.MAX_AMOUNT_MINOR_UNITS + 1, "USD", 2), ["amount"]),
        (RecordPurchase("o-1", 100, "usd", 2), ["amount.currency_code"]),
        (RecordPurchase("o-1", 100, "", 2), ["amount.currency_code"]),
        (RefundPurchase("o-1", 0, "USD"), ["amount"]),
        (RefundPurchase("o-1", 100, "US"), ["amount.currency_code"]),
        # codes and free text
        (EarnPoints(5, "Bad Reason"), ["reason"]),
        (EarnPoints(5, ""), ["reason"]),
        (adjust(reason_code="x" * (limits.MAX_CODE_LENGTH + 1)), ["reason_code"]),
        (adjust(note="bell\x07"), ["note"]),
        (adjust(note="nul\x00"), ["note"]),
        (adjust(note="escape\x1b[31m"), ["note"]),
        (adjust(note="n" * (limits.MAX_NOTE_LENGTH + 1)), ["note"]),
        (RedeemPoints(5, "ref\x00"), ["reference"]),
        (RedeemPoints(5, "r" * (limits.MAX_REFERENCE_LENGTH + 1)), ["reference"]),
        (ReservePoints("r-1", 5, ttl_seconds=-1), ["ttl_seconds"]),
        # every bad field at once, in the request's order
        (RecordPurchase("", 0, "us", 2), ["order_id", "amount", "amount.currency_code"]),
        (AdjustPoints(0, "No", "\x00", "agent"), ["points_delta", "reason_code", "note"]),
    ],
)
def test_bad_request_is_refused_naming_each_bad_field(
    command: Command, bad_fields: list[str]
) -> None:
    account = given(enrolled())

    with pytest.raises(InvalidArgument) as refused:
        when(account, command)

    assert fields(refused.value) == bad_fields


@pytest.mark.parametrize(
    "command",
    [
        EarnPoints(MAX, "bonus"),
        adjust(MAX),
        adjust(note="line one\nline two\tindented"),
        RedeemPoints(1, "order 42 (coffee)"),
        RecordPurchase("x" * limits.MAX_ID_LENGTH, 100, "USD", 2),
        RecordPurchase("~!#$%&'()*+,-./:;<=>?@[]^_`{|}", 1, "USD", 2),
    ],
)
def test_values_at_the_limits_are_accepted(command: Command) -> None:
    account = given(enrolled(), earned(1))

    then(account, when(account, command))


def test_the_largest_amount_is_accepted_where_its_points_are_within_the_limit() -> None:
    account = given(enrolled(), earned(1))
    rules = program(earn_rates=(EarnRate("USD", 1, limits.MAX_RATE_PER_MAJOR_UNITS),))

    events = when(
        account, RecordPurchase("o-1", limits.MAX_AMOUNT_MINOR_UNITS, "USD", 2), program=rules
    )

    assert then(account, events).balances.pending == 10_000


def test_transfer_of_zero_points_is_refused_naming_points() -> None:
    source, destination = given(enrolled(MEMBER)), given(enrolled(OTHER_MEMBER))

    with pytest.raises(InvalidArgument) as refused:
        decide_transfer(
            source, destination, PROGRAM, TransferPoints(OTHER_MEMBER, 0, "t-1"), T0, MEMBER
        )

    assert fields(refused.value) == ["points"]


def test_a_bad_request_is_refused_before_the_account_is_looked_at() -> None:
    with pytest.raises(InvalidArgument) as refused:
        when(given(), EarnPoints(0, "bonus"))

    assert fields(refused.value) == ["points"]


@pytest.mark.parametrize(
    "command",
    [
        EarnPoints(5, "bonus"),
        RedeemPoints(5),
        RecordPurchase("o-1", 100, "USD", 2),
        ConfirmOrder("o-1"),
        RefundPurchase("o-1", 100, "USD"),
        adjust(5),
        ReservePoints("r-1", 5),
        CommitReservation("r-1"),
        CancelReservation("r-1"),
        Sweep(),
    ],
)
def test_commands_on_an_account_not_enrolled_are_not_found_naming_account(command: Command) -> None:
    with pytest.raises(NotFound) as refused:
        when(given(), command)

    assert refused.value.field == "account"
    assert refused.value.reason == "ACCOUNT_NOT_FOUND"


def test_commands_in_a_program_that_does_not_exist_are_not_found() -> None:
    with pytest.raises(NotFound) as refused:
        when(given(enrolled()), EarnPoints(5, "bonus"), program=ProgramState())

    assert refused.value.reason == "PROGRAM_NOT_FOUND"


# --- enrollment -------------------------------------------------------------------------------


def test_enrolling_records_the_member_and_a_stable_referral_code() -> None:
    events = when(given(), Enroll(PROGRAM_ID, MEMBER))

    assert events == [enrolled()]
    [event] = events
    assert isinstance(event, MemberEnrolled)
    assert len(event.referral_code) == 10
    state = then(given(), events)
    assert state.enrolled


def test_enrolling_twice_is_refused_as_already_exists() -> None:
    with pytest.raises(AlreadyExists) as refused:
        when(given(enrolled()), Enroll(PROGRAM_ID, MEMBER))

    assert refused.value.reason == "ACCOUNT_ALREADY_EXISTS"


@pytest.mark.parametrize("member_id", ["", "with space", "m" * 129, "tab\t"])
def test_enrolling_with_a_bad_member_id_is_refused_naming_member_id(member_id: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        when(given(), Enroll(PROGRAM_ID, member_id))

    assert fields(refused.value) == ["member_id"]


def test_enrolling_in_a_program_that_does_not_exist_is_not_found_naming_parent() -> None:
    with pytest.raises(NotFound) as refused:
        when(given(), Enroll(PROGRAM_ID, MEMBER), program=ProgramState())

    assert refused.value.field == "parent"


# --- program stream ---------------------------------------------------------------------------


def test_creating_a_program_records_its_settings() -> None:
    settings = PROGRAM.settings

    events = decide_program(ProgramState(), CreateProgram(PROGRAM_ID, settings))

    assert events == [ProgramCreated(PROGRAM_ID, settings)]


def test_creating_a_program_twice_is_refused() -> None:
    with pytest.raises(AlreadyExists) as refused:
        decide_program(PROGRAM, CreateProgram(PROGRAM_ID, PROGRAM.settings))

    assert refused.value.reason == "PROGRAM_ALREADY_EXISTS"


def test_updating_a_program_at_the_expected_revision_records_new_settings() -> None:
    settings = ProgramSettings(earn_rates=(EarnRate("USD", 2),))

    events = decide_program(PROGRAM, UpdateProgram(settings, expected_revision=1))

    assert events == [ProgramUpdated(settings)]


def test_updating_a_program_at_another_revision_is_a_conflict() -> None:
    with pytest.raises(Conflict) as refused:
        decide_program(PROGRAM, UpdateProgram(PROGRAM.settings, expected_revision=2))

    assert refused.value.reason == "REVISION_MISMATCH"
    assert refused.value.metadata == {"current_revision": "1"}


def test_updating_a_program_that_does_not_exist_is_not_found() -> None:
    with pytest.raises(NotFound) as refused:
        decide_program(ProgramState(), UpdateProgram(PROGRAM.settings))

    assert refused.value.field == "program.name"


@pytest.mark.parametrize(
    ("settings", "bad_fields"),
    [
        (ProgramSettings(earn_rates=(EarnRate("USD", -1),)), ["program.earn_rates[0].points"]),
        (
            ProgramSettings(earn_rates=(EarnRate("USD", 1), EarnRate("USD", 2, 0))),
            ["program.earn_rates[1].currency_code", "program.earn_rates[1].per_major_units"],
        ),
        (ProgramSettings(return_window_days=366), ["program.return_window_days"]),
        (ProgramSettings(points_expiry_days=-1), ["program.points_expiry_days"]),
        (ProgramSettings(max_hold_ttl_seconds=0), ["program.max_hold_ttl_seconds"]),
        (ProgramSettings(display_name="d" * 201), ["program.display_name"]),
    ],
)
def test_bad_program_settings_are_refused_naming_each_bad_field(
    settings: ProgramSettings, bad_fields: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        decide_program(ProgramState(), CreateProgram(PROGRAM_ID, settings))

    assert fields(refused.value) == bad_fields


@pytest.mark.parametrize("program_id", ["", "Upper", "1st", "has space", "p" * 65])
def test_creating_a_program_with_a_bad_id_is_refused_naming_program_id(program_id: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        decide_program(ProgramState(), CreateProgram(program_id, ProgramSettings()))

    assert fields(refused.value) == ["program_id"]


def test_checks_after_reading_leave_out_the_fields_reading_named_and_what_they_hold() -> None:
    """A value found wrong while reading a request reads as a stand-in; what the command's
    own checks then say of that field, or of a field inside or around it, is no news."""
    found = Violations()
    found.add("amount.currency_code", "is not a currency", reason="UNKNOWN_CURRENCY")
    found.add("lines[1].amount.nanos", "too fine", reason="TOO_MANY_DECIMALS")

    found.add_unless_named(
        [
            FieldViolation("amount", "must be more than 0"),
            FieldViolation("amount.currency_code", "must match [A-Z]{3}"),
            FieldViolation("lines", "add up to 500, the amount is 1"),
            FieldViolation("lines[1].quantity", "must be 1 to 10,000"),
            FieldViolation("amounts", "another field whose name begins alike"),
            FieldViolation("order_id", "is required"),
        ]
    )

    assert [violation.field for violation in found.items] == [
        "amount.currency_code",
        "lines[1].amount.nanos",
        "lines[1].quantity",
        "amounts",
        "order_id",
    ]
