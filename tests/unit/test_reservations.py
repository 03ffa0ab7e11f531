"""Two-phase redemption: reserve with a time to live, then commit (full or partial) or cancel."""

from datetime import timedelta

import pytest

from ledger.domain import clock, limits
from ledger.domain.account import AccountState, Balances
from ledger.domain.commands import CancelReservation, CommitReservation, ReservePoints
from ledger.domain.decide import housekeeping
from ledger.domain.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from ledger.domain.events import (
    PointsReserved,
    ReservationCommitted,
    ReservationReleased,
)

from .scenario import T0, earned, enrolled, fields, given, lot, program, then, when

SOON = "2026-06-01T00:00:00.000000Z"
LATER = "2027-01-10T00:00:00.000000Z"
HOLD_EXPIRES_AT = clock.instant(T0 + timedelta(seconds=600))
HELD = (lot(SOON, 20), lot(LATER, 20))
"""40 points reserved from a 20-point lot expiring soon and a 50-point lot expiring later."""


def account_with_hold() -> AccountState:
    return given(
        enrolled(),
        earned(20, SOON),
        earned(50, LATER),
        PointsReserved("r-1", 40, HOLD_EXPIRES_AT, HELD),
    )


def test_reserving_holds_points_from_the_soonest_expiring_lots() -> None:
    account = given(enrolled(), earned(20, SOON), earned(50, LATER))

    events = when(account, ReservePoints("r-1", 40, ttl_seconds=600))

    assert events == [PointsReserved("r-1", 40, HOLD_EXPIRES_AT, HELD)]
    state = then(account, events)
    assert state.balances == Balances(available=30, held=40, lifetime_earned=70)
    assert state.lots == (lot(LATER, 30),)


def test_reservation_without_ttl_lives_for_the_program_maximum() -> None:
    account = given(enrolled(), earned(50))

    [event] = when(account, ReservePoints("r-1", 10), program=program(max_hold_ttl_seconds=1_800))

    assert isinstance(event, PointsReserved)
    assert event.expires_at == clock.instant(T0 + timedelta(seconds=1_800))


def test_committing_in_full_redeems_every_held_point() -> None:
    account = account_with_hold()

    events = when(account, CommitReservation("r-1"))

    assert events == [ReservationCommitted("r-1", 40, 0, ())]
    state = then(account, events)
    assert state.balances == Balances(available=30, lifetime_earned=70, lifetime_redeemed=40)
    assert state.holds == {}


def test_committing_exactly_the_held_points_is_a_full_commit() -> None:
    account = account_with_hold()

    assert when(account, CommitReservation("r-1", 40)) == [ReservationCommitted("r-1", 40, 0, ())]


def test_partial_commit_gives_back_the_latest_expiring_portions() -> None:
    account = account_with_hold()

    events = when(account, CommitReservation("r-1", 25))

    # The 25 redeemed are the 20 expiring soon and 5 of the later lot; 15 later ones return.
    assert events == [ReservationCommitted("r-1", 25, 15, (lot(LATER, 15),))]
    state = then(account, events)
    assert state.lots == (lot(LATER, 45),)
    assert state.balances == Balances(available=45, lifetime_earned=70, lifetime_redeemed=25)


def test_partial_commit_may_give_back_portions_of_several_lots() -> None:
    account = account_with_hold()

    events = when(account, CommitReservation("r-1", 5))

    assert events == [ReservationCommitted("r-1", 5, 35, (lot(SOON, 15), lot(LATER, 20)))]
    assert then(account, events).lots == (lot(SOON, 15), lot(LATER, 50))


def test_canceling_gives_every_held_point_back_to_its_lot() -> None:
    account = account_with_hold()

    events = when(account, CancelReservation("r-1"))

    assert events == [ReservationReleased("r-1", 40, HELD, "canceled")]
    state = then(account, events)
    assert state.lots == (lot(SOON, 20), lot(LATER, 50))
    assert state.balances == Balances(available=70, lifetime_earned=70)


def test_housekeeping_keeps_a_hold_until_its_expiry() -> None:
    account = account_with_hold()

    assert housekeeping(account, T0 + timedelta(seconds=600) - timedelta(microseconds=1)) == []


def test_housekeeping_releases_a_lapsed_hold_as_expired() -> None:
    account = account_with_hold()

    events = housekeeping(account, T0 + timedelta(seconds=600))

    assert events == [ReservationReleased("r-1", 40, HELD, "expired")]
    assert then(account, events).balances == Balances(available=70, lifetime_earned=70)


def test_committing_a_lapsed_hold_is_not_found() -> None:
    account = account_with_hold()

    with pytest.raises(NotFound) as refused:
        when(account, CommitReservation("r-1"), now=T0 + timedelta(seconds=601))

    assert refused.value.field == "reservation_id"


def test_committing_an_unknown_reservation_is_not_found_naming_reservation_id() -> None:
    account = account_with_hold()

    with pytest.raises(NotFound) as refused:
        when(account, CommitReservation("r-2"))

    assert refused.value.field == "reservation_id"
    assert refused.value.reason == "RESERVATION_NOT_FOUND"


@pytest.mark.parametrize(
    "closing",
    [ReservationCommitted("r-1", 40, 0, ()), ReservationReleased("r-1", 40, HELD, "canceled")],
)
@pytest.mark.parametrize("command", [CommitReservation("r-1"), CancelReservation("r-1")])
def test_a_closed_reservation_can_be_neither_committed_nor_canceled(
    closing: ReservationCommitted | ReservationReleased,
    command: CommitReservation | CancelReservation,
) -> None:
    account = then(account_with_hold(), [closing])

    with pytest.raises(NotFound) as refused:
        when(account, command)

    assert refused.value.field == "reservation_id"


def test_committing_more_than_held_is_refused_naming_points() -> None:
    account = account_with_hold()

    with pytest.raises(InvalidArgument) as refused:
        when(account, CommitReservation("r-1", 41))

    assert fields(refused.value) == ["points"]
    assert refused.value.reason == "COMMIT_EXCEEDS_HOLD"


def test_ttl_over_the_program_maximum_is_refused_naming_ttl_seconds() -> None:
    account = given(enrolled(), earned(50))

    with pytest.raises(InvalidArgument) as refused:
        when(
            account,
            ReservePoints("r-1", 10, ttl_seconds=901),
            program=program(max_hold_ttl_seconds=900),
        )

    assert fields(refused.value) == ["ttl_seconds"]


def test_ttl_over_the_ledger_maximum_is_refused_naming_ttl_seconds() -> None:
    account = given(enrolled(), earned(50))
    rules = program(max_hold_ttl_seconds=limits.MAX_HOLD_TTL_SECONDS)

    with pytest.raises(InvalidArgument) as refused:
        when(
            account,
            ReservePoints("r-1", 10, ttl_seconds=limits.MAX_HOLD_TTL_SECONDS + 1),
            program=rules,
        )

    assert fields(refused.value) == ["ttl_seconds"]


def test_reserving_under_an_open_reservation_id_is_refused() -> None:
    account = account_with_hold()

    with pytest.raises(AlreadyExists) as refused:
        when(account, ReservePoints("r-1", 10))

    assert refused.value.reason == "RESERVATION_ALREADY_EXISTS"


def test_reserving_more_than_available_is_refused_with_insufficient_points() -> None:
    account = account_with_hold()

    with pytest.raises(FailedPrecondition) as refused:
        when(account, ReservePoints("r-2", 31))

    assert refused.value.reason == "INSUFFICIENT_POINTS"


def test_open_reservations_per_account_are_bounded() -> None:
    expires_at = clock.instant(T0 + timedelta(seconds=600))
    holds = [
        PointsReserved(f"r-{index}", 1, expires_at, (lot(None, 1),))
        for index in range(limits.MAX_OPEN_RESERVATIONS)
    ]
    account = given(enrolled(), earned(limits.MAX_OPEN_RESERVATIONS + 1, None), *holds)

    with pytest.raises(FailedPrecondition) as refused:
        when(account, ReservePoints("one-too-many", 1))

    assert refused.value.reason == "TOO_MANY_RESERVATIONS"
