"""Time: pending points released by confirmation or by the window, lots expiring, what is due."""

from datetime import date, timedelta

import pytest

from ledger.domain import clock, limits
from ledger.domain.account import Balances
from ledger.domain.commands import ConfirmOrder, RedeemPoints, Sweep
from ledger.domain.decide import housekeeping, next_due_at
from ledger.domain.errors import NotFound
from ledger.domain.events import (
    PendingPointsReleased,
    PointsExpired,
    PointsRedeemed,
    PointsReserved,
    ReservationReleased,
)

from .scenario import (
    EXPIRES,
    RELEASE_AT,
    T0,
    earned,
    enrolled,
    given,
    lot,
    purchased,
    then,
    when,
)

AFTER_WINDOW = T0 + timedelta(days=14)
EXPIRY_MOMENT = clock.parse_instant(EXPIRES)
JUST_BEFORE = timedelta(microseconds=1)


# --- pending points ---------------------------------------------------------------------------


def test_confirming_an_order_releases_its_pending_points() -> None:
    account = given(enrolled(), purchased("o-1", 5_000, 50))

    events = when(account, ConfirmOrder("o-1"), now=T0 + timedelta(days=1))

    assert events == [PendingPointsReleased("o-1", 50, EXPIRES, "confirmed")]
    state = then(account, events)
    assert state.balances == Balances(available=50, lifetime_earned=50)
    assert state.lots == (lot(EXPIRES, 50),)
    assert state.pending == {}


def test_confirming_an_order_twice_releases_nothing_the_second_time() -> None:
    account = given(
        enrolled(),
        purchased("o-1", 5_000, 50),
        PendingPointsReleased("o-1", 50, EXPIRES, "confirmed"),
    )

    assert when(account, ConfirmOrder("o-1")) == []


def test_confirming_an_order_of_another_account_is_not_found_naming_order_id() -> None:
    account = given(enrolled(), purchased("o-1", 5_000, 50))

    with pytest.raises(NotFound) as refused:
        when(account, ConfirmOrder("o-2"))

    assert refused.value.field == "order_id"
    assert refused.value.reason == "ORDER_NOT_FOUND"


def test_housekeeping_keeps_points_pending_until_the_window_ends() -> None:
    account = given(enrolled(), purchased("o-1", 5_000, 50))

    assert housekeeping(account, AFTER_WINDOW - JUST_BEFORE) == []


def test_housekeeping_releases_pending_points_once_the_window_has_passed() -> None:
    account = given(enrolled(), purchased("o-1", 5_000, 50))

    events = housekeeping(account, AFTER_WINDOW)

    assert events == [PendingPointsReleased("o-1", 50, EXPIRES, "window_passed")]
    state = then(account, events)
    assert state.balances == Balances(available=50, lifetime_earned=50)


def test_pending_points_released_by_the_window_are_not_released_again() -> None:
    account = given(
        enrolled(),
        purchased("o-1", 5_000, 50),
        PendingPointsReleased("o-1", 50, EXPIRES, "window_passed"),
    )

    assert housekeeping(account, AFTER_WINDOW + timedelta(days=1)) == []
    assert when(account, ConfirmOrder("o-1"), now=AFTER_WINDOW + timedelta(days=1)) == []


def test_confirming_after_the_window_passed_releases_once_by_the_window() -> None:
    account = given(enrolled(), purchased("o-1", 5_000, 50))

    events = when(account, ConfirmOrder("o-1"), now=AFTER_WINDOW)

    assert events == [PendingPointsReleased("o-1", 50, EXPIRES, "window_passed")]


def test_any_command_first_appends_what_housekeeping_finds_due() -> None:
    account = given(enrolled(), purchased("o-1", 5_000, 50))

    events = when(account, RedeemPoints(20), now=AFTER_WINDOW)

    assert events == [
        PendingPointsReleased("o-1", 50, EXPIRES, "window_passed"),
        PointsRedeemed(20, "", (lot(EXPIRES, 20),)),
    ]
    then(account, events)


def test_pending_points_past_their_expiry_date_expire_as_soon_as_released() -> None:
    account = given(
        enrolled(), purchased("o-1", 5_000, 50, expires_on="2026-03-08T00:00:00.000000Z")
    )

    events = housekeeping(account, AFTER_WINDOW)

    assert events == [
        PendingPointsReleased("o-1", 50, "2026-03-08T00:00:00.000000Z", "window_passed"),
        PointsExpired("2026-03-08T00:00:00.000000Z", 50),
    ]
    state = then(account, events)
    assert state.balances == Balances(available=0, lifetime_earned=50, expired=50)


# --- lot expiry -------------------------------------------------------------------------------


def test_lot_does_not_expire_before_the_start_of_its_expiry_day() -> None:
    account = given(enrolled(), earned(100))

    assert housekeeping(account, EXPIRY_MOMENT - JUST_BEFORE) == []


def test_lot_expires_at_the_start_of_its_expiry_day_and_counts_as_expired() -> None:
    account = given(enrolled(), earned(100))

    events = housekeeping(account, EXPIRY_MOMENT)

    assert events == [PointsExpired(EXPIRES, 100)]
    state = then(account, events)
    assert state.balances == Balances(available=0, lifetime_earned=100, expired=100)
    assert state.lots == ()


def test_only_lots_past_their_date_expire_and_never_expiring_lots_stay() -> None:
    account = given(
        enrolled(),
        earned(10, "2026-04-01T00:00:00.000000Z"),
        earned(20, "2026-05-01T00:00:00.000000Z"),
        earned(30, None),
    )

    events = housekeeping(account, clock.start_of_day("2026-04-15"))

    assert events == [PointsExpired("2026-04-01T00:00:00.000000Z", 10)]
    state = then(account, events)
    assert state.lots == (lot("2026-05-01T00:00:00.000000Z", 20), lot(None, 30))
    assert state.balances.available == 50


def test_sweep_appends_exactly_what_housekeeping_finds_due() -> None:
    account = given(enrolled(), earned(10, "2026-04-01T00:00:00.000000Z"))
    now = clock.start_of_day("2026-04-01")

    assert when(account, Sweep(), now=now) == housekeeping(account, now)


def test_points_held_in_a_lapsed_reservation_expire_if_their_lot_has() -> None:
    hold_expires_at = clock.instant(T0 + timedelta(days=7))
    account = given(
        enrolled(),
        earned(30, "2026-03-03T00:00:00.000000Z"),
        PointsReserved("r-1", 30, hold_expires_at, (lot("2026-03-03T00:00:00.000000Z", 30),)),
    )

    events = housekeeping(account, T0 + timedelta(days=8))

    assert events == [
        ReservationReleased("r-1", 30, (lot("2026-03-03T00:00:00.000000Z", 30),), "expired"),
        PointsExpired("2026-03-03T00:00:00.000000Z", 30),
    ]
    state = then(account, events)
    assert state.balances == Balances(lifetime_earned=30, expired=30)


# --- what is due next -------------------------------------------------------------------------


def test_nothing_is_due_for_an_account_without_holds_pending_or_expiring_lots() -> None:
    assert next_due_at(given(enrolled())) is None
    assert next_due_at(given(enrolled(), earned(10, None))) is None


def test_next_due_is_the_hold_expiry_when_it_comes_first() -> None:
    hold_expires_at = clock.instant(T0 + timedelta(minutes=15))
    account = given(
        enrolled(),
        earned(30),
        purchased("o-1", 5_000, 50),
        PointsReserved("r-1", 10, hold_expires_at, (lot(EXPIRES, 10),)),
    )

    assert next_due_at(account) == hold_expires_at


def test_next_due_is_the_pending_release_when_it_comes_first() -> None:
    account = given(enrolled(), earned(30), purchased("o-1", 5_000, 50))

    assert next_due_at(account) == RELEASE_AT


def test_next_due_is_the_start_of_the_soonest_lot_expiry_day_when_it_comes_first() -> None:
    account = given(
        enrolled(),
        earned(30, "2026-03-05T00:00:00.000000Z"),
        earned(5, None),
        purchased("o-1", 5_000, 50),
    )

    assert next_due_at(account) == "2026-03-05T00:00:00.000000Z"


def test_housekeeping_at_next_due_finds_something_to_do() -> None:
    account = given(
        enrolled(), earned(30, "2026-03-05T00:00:00.000000Z"), purchased("o-1", 5_000, 50)
    )
    due = next_due_at(account)
    assert due is not None

    events = housekeeping(account, clock.parse_instant(due))

    assert events == [PointsExpired("2026-03-05T00:00:00.000000Z", 30)]


def test_housekeeping_appends_a_bounded_batch_and_finds_the_rest_next_time() -> None:
    first_day = date.fromisoformat("2026-03-02")
    lots_count = limits.MAX_HOUSEKEEPING_EVENTS + 1
    account = given(
        enrolled(),
        *(
            earned(1, clock.start_of_day_instant((first_day + timedelta(days=n)).isoformat()))
            for n in range(lots_count)
        ),
    )
    now = clock.start_of_day((first_day + timedelta(days=lots_count)).isoformat())

    events = housekeeping(account, now)

    assert len(events) == limits.MAX_HOUSEKEEPING_EVENTS
    rest = housekeeping(then(account, events), now)
    assert len(rest) == 1
    assert then(account, events + rest).balances.expired == lots_count
