"""Earning: purchases turn integer minor units into integer points by the program's rate."""

from datetime import datetime, timedelta, timezone

import pytest

from ledger.domain import limits
from ledger.domain.account import Balances
from ledger.domain.commands import EarnPoints, RecordPurchase
from ledger.domain.errors import AlreadyExists, InvalidArgument
from ledger.domain.events import PointsEarned, PurchaseRecorded
from ledger.domain.purchase_rules import RuleApplication, RuleKind
from ledger.domain.settings import EarnRate

from .scenario import (
    EXPIRES,
    RELEASE_AT,
    T0,
    enrolled,
    fields,
    given,
    lot,
    program,
    purchased,
    then,
    when,
)


@pytest.mark.parametrize(
    ("amount_minor", "currency_code", "exponent", "points"),
    [
        (1999, "USD", 2, 19),  # $19.99 at 1 point per dollar: floor, never rounded up
        (100, "USD", 2, 1),
        (99, "USD", 2, 0),
        (12_345, "JPY", 0, 123),  # ¥12,345 at 1 point per ¥100
        (99, "JPY", 0, 0),
        (12_345, "KWD", 3, 123),  # 12.345 KWD at 10 points per dinar
        (99, "KWD", 3, 0),
    ],
)
def test_purchase_points_are_floored_from_minor_units_and_rate(
    amount_minor: int, currency_code: str, exponent: int, points: int
) -> None:
    account = given(enrolled())

    [event] = when(account, RecordPurchase("o-1", amount_minor, currency_code, exponent))

    assert isinstance(event, PurchaseRecorded)
    assert event.points == points
    assert event.currency_exponent == exponent
    then(account, [event])


def test_purchase_inside_return_window_is_recorded_as_pending_until_window_ends() -> None:
    account = given(enrolled())

    events = when(account, RecordPurchase("o-1", 12_000, "USD", 2))

    assert events == [
        PurchaseRecorded(
            order_id="o-1",
            amount_minor=12_000,
            currency_code="USD",
            points=120,
            release_at=RELEASE_AT,
            expires_on=EXPIRES,
            program_revision=1,
            rate_points=1,
            rate_per_major_units=1,
            currency_exponent=2,
            rules=(RuleApplication("earn_rate:USD", RuleKind.EARN_RATE, 120),),
        )
    ]
    state = then(account, events)
    assert state.balances == Balances(available=0, pending=120, lifetime_earned=120)
    assert state.lots == ()


def test_release_is_exactly_return_window_days_after_the_purchase() -> None:
    account = given(enrolled())

    [event] = when(
        account, RecordPurchase("o-1", 500, "USD", 2), program=program(return_window_days=30)
    )

    assert isinstance(event, PurchaseRecorded)
    assert event.release_at == "2026-03-31T12:00:00.000000Z"


def test_purchase_is_available_at_once_when_return_window_is_zero() -> None:
    account = given(enrolled())

    events = when(
        account, RecordPurchase("o-1", 5_000, "USD", 2), program=program(return_window_days=0)
    )

    assert events == [purchased("o-1", 5_000, 50, release_at=None)]
    state = then(account, events)
    assert state.balances == Balances(available=50, lifetime_earned=50)
    assert state.lots == (lot(EXPIRES, 50),)
    assert state.pending == {}


@pytest.mark.parametrize("hour", [0, 12, 23])
def test_purchase_points_expire_at_the_end_of_the_day_their_days_end_whatever_the_hour(
    hour: int,
) -> None:
    account = given(enrolled())
    now = T0.replace(hour=hour, minute=59)

    [event] = when(
        account,
        RecordPurchase("o-1", 500, "USD", 2),
        now=now,
        program=program(points_expiry_days=30),
    )

    assert isinstance(event, PurchaseRecorded)
    assert event.expires_on == "2026-04-01T00:00:00.000000Z"  # the end of March 31st, UTC


def test_purchase_points_never_expire_when_program_has_no_expiry() -> None:
    account = given(enrolled())

    [event] = when(
        account, RecordPurchase("o-1", 500, "USD", 2), program=program(points_expiry_days=0)
    )

    assert isinstance(event, PurchaseRecorded)
    assert event.expires_on is None


def test_purchase_event_records_the_program_revision_and_rate_that_computed_it() -> None:
    account = given(enrolled())
    rules = program(revision=7, earn_rates=(EarnRate("USD", 3, 2),))  # 3 points per $2

    [event] = when(account, RecordPurchase("o-1", 1_000, "USD", 2), program=rules)

    assert isinstance(event, PurchaseRecorded)
    assert (event.program_revision, event.rate_points, event.rate_per_major_units) == (7, 3, 2)
    assert event.points == 15  # $10.00 * 3 / 2


def test_purchase_worth_zero_points_is_recorded_but_leaves_nothing_pending() -> None:
    account = given(enrolled())

    events = when(account, RecordPurchase("o-1", 99, "USD", 2))

    state = then(account, events)
    assert state.pending == {}
    assert state.balances == Balances()
    assert "o-1" in state.orders


def test_purchase_with_an_order_id_already_recorded_is_refused() -> None:
    account = given(enrolled(), purchased("o-1", 1_000, 10))

    with pytest.raises(AlreadyExists) as refused:
        when(account, RecordPurchase("o-1", 2_000, "USD", 2))

    assert refused.value.reason == "ORDER_ALREADY_RECORDED"


def test_purchase_in_a_currency_without_earn_rate_is_refused_naming_currency_code() -> None:
    account = given(enrolled())

    with pytest.raises(InvalidArgument) as refused:
        when(account, RecordPurchase("o-1", 1_000, "EUR", 2))

    assert fields(refused.value) == ["amount.currency_code"]
    assert refused.value.reason == "CURRENCY_NOT_EARNING"


def test_earned_points_are_available_at_once_with_expiry_and_program_revision() -> None:
    account = given(enrolled())

    events = when(account, EarnPoints(40, "birthday"), program=program(revision=3))

    assert events == [PointsEarned(40, "birthday", EXPIRES, 3)]
    state = then(account, events)
    assert state.balances == Balances(available=40, lifetime_earned=40)
    assert state.lots == (lot(EXPIRES, 40),)


def test_points_earned_on_different_days_are_separate_lots_and_same_day_ones_merge() -> None:
    account = given(enrolled())
    first = when(account, EarnPoints(10, "bonus"))
    account = then(account, first)
    second = when(account, EarnPoints(5, "bonus"), now=T0 + timedelta(hours=1))
    account = then(account, second)
    third = when(account, EarnPoints(7, "bonus"), now=T0 + timedelta(days=1))

    state = then(account, third)

    assert state.lots == (lot(EXPIRES, 15), lot("2027-03-03T00:00:00.000000Z", 7))


def test_purchase_earning_more_than_the_points_limit_is_refused_naming_amount() -> None:
    # 10^15 yen at a million points per yen would be 10^21 points: past any int64 balance.
    account = given(enrolled())
    rules = program(earn_rates=(EarnRate("JPY", limits.MAX_RATE_POINTS),))

    with pytest.raises(InvalidArgument) as refused:
        when(account, RecordPurchase("o-1", limits.MAX_AMOUNT_MINOR_UNITS, "JPY", 0), program=rules)

    assert fields(refused.value) == ["amount"]


def test_purchase_earning_exactly_the_points_limit_is_recorded() -> None:
    account = given(enrolled())
    amount_minor = limits.MAX_POINTS_PER_COMMAND * 100  # $1 per point at 1 point per dollar

    [event] = when(account, RecordPurchase("o-1", amount_minor, "USD", 2))

    assert isinstance(event, PurchaseRecorded)
    assert event.points == limits.MAX_POINTS_PER_COMMAND


def test_the_expiry_day_is_the_programs_utc_day_whatever_the_callers_time_zone() -> None:
    account = given(enrolled())
    new_york_evening = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))

    [event] = when(account, EarnPoints(5, "bonus"), now=new_york_evening)

    # 04:30 UTC on March 2nd, plus 365 days: the end of 2027-03-02, UTC.
    assert event == PointsEarned(5, "bonus", "2027-03-03T00:00:00.000000Z", 1)
