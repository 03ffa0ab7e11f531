"""One-step redemption: soonest-expiring lots first, never more than is available."""

import pytest

from ledger.domain.account import Balances
from ledger.domain.commands import RedeemPoints
from ledger.domain.errors import FailedPrecondition
from ledger.domain.events import PointsRedeemed, PointsReserved

from .scenario import EXPIRES, earned, enrolled, given, lot, purchased, then, when


def test_redemption_takes_the_soonest_expiring_lot_first() -> None:
    account = given(
        enrolled(),
        earned(30, "2027-01-10T00:00:00.000000Z"),
        earned(20, "2026-06-01T00:00:00.000000Z"),
        earned(50, None),
    )

    events = when(account, RedeemPoints(40, "coffee"))

    assert events == [
        PointsRedeemed(
            40,
            "coffee",
            (lot("2026-06-01T00:00:00.000000Z", 20), lot("2027-01-10T00:00:00.000000Z", 20)),
        )
    ]
    state = then(account, events)
    assert state.lots == (lot("2027-01-10T00:00:00.000000Z", 10), lot(None, 50))
    assert state.balances == Balances(available=60, lifetime_earned=100, lifetime_redeemed=40)


def test_redemption_spends_never_expiring_lots_last() -> None:
    account = given(enrolled(), earned(50, None), earned(20, "2026-06-01T00:00:00.000000Z"))

    events = when(account, RedeemPoints(60))

    assert events == [
        PointsRedeemed(60, "", (lot("2026-06-01T00:00:00.000000Z", 20), lot(None, 40)))
    ]
    assert then(account, events).lots == (lot(None, 10),)


def test_redeeming_the_whole_balance_leaves_no_lots() -> None:
    account = given(enrolled(), earned(25))

    state = then(account, when(account, RedeemPoints(25)))

    assert state.lots == ()
    assert state.balances.available == 0


def test_redeeming_more_than_available_is_refused_with_insufficient_points() -> None:
    account = given(enrolled(), earned(30))

    with pytest.raises(FailedPrecondition) as refused:
        when(account, RedeemPoints(31))

    assert refused.value.reason == "INSUFFICIENT_POINTS"
    assert refused.value.metadata == {"points_available": "30", "points_requested": "31"}


def test_pending_points_cannot_be_redeemed() -> None:
    account = given(enrolled(), purchased("o-1", 10_000, 100))

    with pytest.raises(FailedPrecondition) as refused:
        when(account, RedeemPoints(1))

    assert refused.value.reason == "INSUFFICIENT_POINTS"


def test_held_points_cannot_be_redeemed_again() -> None:
    account = given(
        enrolled(),
        earned(30),
        PointsReserved("r-1", 20, "2026-03-01T12:15:00.000000Z", (lot(EXPIRES, 20),)),
    )

    with pytest.raises(FailedPrecondition) as refused:
        when(account, RedeemPoints(11))

    assert refused.value.reason == "INSUFFICIENT_POINTS"
    assert when(account, RedeemPoints(10)) == [PointsRedeemed(10, "", (lot(EXPIRES, 10),))]
