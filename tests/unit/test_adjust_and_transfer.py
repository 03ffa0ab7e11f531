"""Manual adjustments, and transfers between two members that keep the lots' expiry dates."""

from datetime import timedelta

import pytest

from ledger.domain import clock
from ledger.domain.account import AccountState, Balances
from ledger.domain.commands import AdjustPoints, TransferPoints
from ledger.domain.decide import decide_transfer
from ledger.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from ledger.domain.events import (
    Event,
    PointsAdjusted,
    PointsExpired,
    PointsTransferredIn,
    PointsTransferredOut,
)

from .scenario import (
    EXPIRES,
    MEMBER,
    OTHER_MEMBER,
    PROGRAM,
    T0,
    earned,
    enrolled,
    fields,
    given,
    lot,
    then,
    when,
)


def adjust(points_delta: int) -> AdjustPoints:
    return AdjustPoints(points_delta, "goodwill", "late delivery", "agent:42")


# --- adjustments ------------------------------------------------------------------------------


def test_positive_adjustment_adds_a_lot_expiring_like_earned_points() -> None:
    account = given(enrolled())

    events = when(account, adjust(25))

    assert events == [PointsAdjusted(25, "goodwill", "late delivery", "agent:42", EXPIRES, ())]
    state = then(account, events)
    assert state.lots == (lot(EXPIRES, 25),)
    assert state.balances == Balances(available=25, lifetime_earned=25)


def test_negative_adjustment_takes_the_soonest_expiring_lots() -> None:
    account = given(enrolled(), earned(10, "2026-06-01T00:00:00.000000Z"), earned(30, EXPIRES))

    events = when(account, adjust(-15))

    assert events == [
        PointsAdjusted(
            -15,
            "goodwill",
            "late delivery",
            "agent:42",
            None,
            (lot("2026-06-01T00:00:00.000000Z", 10), lot(EXPIRES, 5)),
        )
    ]
    state = then(account, events)
    assert state.lots == (lot(EXPIRES, 25),)
    assert state.balances == Balances(available=25, lifetime_earned=40)


def test_negative_adjustment_beyond_available_is_refused() -> None:
    account = given(enrolled(), earned(10))

    with pytest.raises(FailedPrecondition) as refused:
        when(account, adjust(-11))

    assert refused.value.reason == "INSUFFICIENT_POINTS"


# --- transfers --------------------------------------------------------------------------------


def transfer(
    source: AccountState, destination: AccountState, points: int, now: timedelta = timedelta()
) -> tuple[list[Event], list[Event]]:
    """From MEMBER's account to OTHER_MEMBER's, or to MEMBER's own if it is the same state."""
    destination_key = MEMBER if destination is source else OTHER_MEMBER
    command = TransferPoints(destination_key, points, "t-1")
    return decide_transfer(source, destination, PROGRAM, command, T0 + now, MEMBER)


def test_transfer_moves_lots_with_their_expiry_dates() -> None:
    source = given(enrolled(MEMBER), earned(10, "2026-06-01T00:00:00.000000Z"), earned(30, EXPIRES))
    destination = given(enrolled(OTHER_MEMBER), earned(5, None))

    out, received = transfer(source, destination, 25)

    moved = (lot("2026-06-01T00:00:00.000000Z", 10), lot(EXPIRES, 15))
    assert out == [PointsTransferredOut("t-1", OTHER_MEMBER, 25, moved)]
    assert received == [PointsTransferredIn("t-1", MEMBER, 25, moved)]
    assert then(source, out).lots == (lot(EXPIRES, 15),)
    destination_after = then(destination, received)
    assert destination_after.lots == (
        lot("2026-06-01T00:00:00.000000Z", 10),
        lot(EXPIRES, 15),
        lot(None, 5),
    )
    assert destination_after.balances == Balances(available=30, lifetime_earned=5)


def test_transfer_to_oneself_is_refused_naming_destination_account() -> None:
    account = given(enrolled(), earned(10))

    with pytest.raises(InvalidArgument) as refused:
        transfer(account, account, 5)

    assert fields(refused.value) == ["destination_account"]


def test_transfer_of_more_than_available_is_refused() -> None:
    source = given(enrolled(MEMBER), earned(10))
    destination = given(enrolled(OTHER_MEMBER))

    with pytest.raises(FailedPrecondition) as refused:
        transfer(source, destination, 11)

    assert refused.value.reason == "INSUFFICIENT_POINTS"


@pytest.mark.parametrize(
    ("source_enrolled", "destination_enrolled", "field"),
    [(False, True, "source_account"), (True, False, "destination_account")],
)
def test_transfer_with_an_account_not_enrolled_is_not_found_naming_it(
    source_enrolled: bool, destination_enrolled: bool, field: str
) -> None:
    source = given(enrolled(MEMBER), earned(10)) if source_enrolled else given()
    destination = given(enrolled(OTHER_MEMBER)) if destination_enrolled else given()

    with pytest.raises(NotFound) as refused:
        transfer(source, destination, 5)

    assert refused.value.field == field


def test_transfer_does_not_move_points_that_expired_before_it() -> None:
    source = given(enrolled(MEMBER), earned(10, "2026-03-02T00:00:00.000000Z"), earned(30, EXPIRES))
    destination = given(enrolled(OTHER_MEMBER))

    out, received = transfer(source, destination, 20, now=timedelta(days=1))

    assert out == [
        PointsExpired("2026-03-02T00:00:00.000000Z", 10),
        PointsTransferredOut("t-1", OTHER_MEMBER, 20, (lot(EXPIRES, 20),)),
    ]
    assert received == [PointsTransferredIn("t-1", MEMBER, 20, (lot(EXPIRES, 20),))]
    assert then(source, out).balances.available == 10


def test_transfer_appends_what_is_due_on_the_destination_too() -> None:
    source = given(enrolled(MEMBER), earned(30, EXPIRES))
    destination = given(enrolled(OTHER_MEMBER), earned(10, "2026-03-02T00:00:00.000000Z"))

    _, received = transfer(source, destination, 5, now=timedelta(days=1))

    assert received == [
        PointsExpired("2026-03-02T00:00:00.000000Z", 10),
        PointsTransferredIn("t-1", MEMBER, 5, (lot(EXPIRES, 5),)),
    ]
    assert then(destination, received).lots == (lot(EXPIRES, 5),)
    assert clock.day(T0 + timedelta(days=1)) == "2026-03-02"
