"""Refunds claw back points in proportion to the refunded share, from the stored earn."""

import itertools

import pytest
from hypothesis import given as for_all
from hypothesis import settings
from hypothesis import strategies as st

from ledger.domain.account import AccountState, Balances
from ledger.domain.commands import (
    CancelReservation,
    ConfirmOrder,
    EarnPoints,
    RecordPurchase,
    RedeemPoints,
    RefundPurchase,
)
from ledger.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from ledger.domain.events import (
    PendingPointsReleased,
    PointsRedeemed,
    PointsReserved,
    PurchaseRefunded,
)
from ledger.domain.settings import EarnRate, NegativeBalancePolicy

from .scenario import EXPIRES, enrolled, fields, given, lot, program, purchased, then, when


def refund(
    account: AccountState, amount_minor: int, policy: NegativeBalancePolicy
) -> PurchaseRefunded:
    [event] = when(
        account, RefundPurchase("o-1", amount_minor, "USD"), program=program(policy=policy)
    )
    assert isinstance(event, PurchaseRefunded)
    return event


# --- proportional clawback --------------------------------------------------------------------


def test_full_refund_inside_the_window_cancels_the_pending_points() -> None:
    account = given(enrolled(), purchased("o-1", 10_000, 100))

    events = when(account, RefundPurchase("o-1", 10_000, "USD"))

    assert events == [PurchaseRefunded("o-1", 10_000, 100, 100, (), 0, 0)]
    state = then(account, events)
    assert state.balances == Balances()
    assert state.pending == {}
    assert when(state, ConfirmOrder("o-1")) == []


def test_partial_refund_claws_back_the_refunded_share_of_the_points() -> None:
    account = given(enrolled(), purchased("o-1", 10_000, 100))

    events = when(account, RefundPurchase("o-1", 2_500, "USD"))

    assert events == [PurchaseRefunded("o-1", 2_500, 25, 25, (), 0, 0)]
    state = then(account, events)
    assert state.balances == Balances(pending=75, lifetime_earned=75)


def test_three_refunds_of_a_third_claw_back_exactly_the_points_earned() -> None:
    account = given(enrolled(), purchased("o-1", 10_000, 100))
    clawed_back = []
    for amount_minor in (3_333, 3_333, 3_334):
        events = when(account, RefundPurchase("o-1", amount_minor, "USD"))
        account = then(account, events)
        [event] = events
        assert isinstance(event, PurchaseRefunded)
        clawed_back.append(event.points_clawed_back)

    assert clawed_back == [33, 33, 34]
    assert account.balances == Balances()


@settings(max_examples=100, deadline=None)
@for_all(
    points=st.integers(0, 1_000),
    cuts=st.lists(st.integers(1, 9_999), max_size=8, unique=True),
)
def test_any_split_of_a_refund_claws_back_at_most_the_proportional_points(
    points: int, cuts: list[int]
) -> None:
    account = given(enrolled(), purchased("o-1", 10_000, points))
    bounds = [0, *sorted(cuts), 10_000]
    total = 0
    for start, end in itertools.pairwise(bounds):
        events = when(account, RefundPurchase("o-1", end - start, "USD"))
        account = then(account, events)
        total += sum(e.points_clawed_back for e in events if isinstance(e, PurchaseRefunded))
        assert total == points * end // 10_000

    assert total == points


def test_clawback_follows_the_stored_earn_not_todays_rate() -> None:
    account = given(enrolled(), purchased("o-1", 10_000, 100))
    todays_rules = program(revision=2, earn_rates=(EarnRate("USD", 5),))

    [event] = when(account, RefundPurchase("o-1", 5_000, "USD"), program=todays_rules)

    assert isinstance(event, PurchaseRefunded)
    assert event.points_clawed_back == 50


def test_refunding_more_than_the_order_is_refused_naming_amount() -> None:
    account = given(enrolled(), purchased("o-1", 10_000, 100))

    with pytest.raises(InvalidArgument) as refused:
        when(account, RefundPurchase("o-1", 10_001, "USD"))

    assert fields(refused.value) == ["amount"]
    assert refused.value.reason == "REFUND_EXCEEDS_ORDER"


def test_refunds_together_may_not_exceed_the_order() -> None:
    account = given(
        enrolled(),
        purchased("o-1", 10_000, 100),
        PurchaseRefunded("o-1", 6_000, 60, 60, (), 0, 0),
    )

    with pytest.raises(InvalidArgument) as refused:
        when(account, RefundPurchase("o-1", 4_001, "USD"))

    assert fields(refused.value) == ["amount"]
    assert when(account, RefundPurchase("o-1", 4_000, "USD")) == [
        PurchaseRefunded("o-1", 4_000, 40, 40, (), 0, 0)
    ]


def test_refund_in_another_currency_than_the_order_is_refused_naming_currency_code() -> None:
    account = given(enrolled(), purchased("o-1", 10_000, 100))

    with pytest.raises(InvalidArgument) as refused:
        when(account, RefundPurchase("o-1", 1_000, "JPY"))

    assert fields(refused.value) == ["amount.currency_code"]


def test_refund_of_an_unknown_order_is_not_found_naming_order_id() -> None:
    account = given(enrolled())

    with pytest.raises(NotFound) as refused:
        when(account, RefundPurchase("o-1", 1_000, "USD"))

    assert refused.value.field == "order_id"


def test_refund_after_release_takes_the_points_from_available_lots() -> None:
    account = given(
        enrolled(),
        purchased("o-1", 10_000, 100),
        PendingPointsReleased("o-1", 100, EXPIRES, "confirmed"),
    )

    events = when(account, RefundPurchase("o-1", 4_000, "USD"))

    assert events == [PurchaseRefunded("o-1", 4_000, 40, 0, (lot(EXPIRES, 40),), 0, 0)]
    state = then(account, events)
    assert state.balances == Balances(available=60, lifetime_earned=60)


# --- when the points are already spent --------------------------------------------------------


def spent_account() -> AccountState:
    """100 points earned at once by order o-1, 80 of them redeemed since."""
    return given(
        enrolled(),
        purchased("o-1", 10_000, 100, release_at=None),
        PointsRedeemed(80, "", (lot(EXPIRES, 80),)),
    )


def test_pending_only_policy_recovers_nothing_once_the_points_left_pending() -> None:
    account = spent_account()

    event = refund(account, 10_000, NegativeBalancePolicy.PENDING_ONLY)

    assert event == PurchaseRefunded("o-1", 10_000, 0, 0, (), 0, 100)
    state = then(account, [event])
    assert state.balances.available == 20


def test_pending_only_policy_recovers_points_still_pending() -> None:
    account = given(enrolled(), purchased("o-1", 10_000, 100))

    event = refund(account, 5_000, NegativeBalancePolicy.PENDING_ONLY)

    assert event == PurchaseRefunded("o-1", 5_000, 50, 50, (), 0, 0)


def test_within_balance_policy_stops_at_zero_and_reports_points_not_recovered() -> None:
    account = spent_account()

    event = refund(account, 10_000, NegativeBalancePolicy.WITHIN_BALANCE)

    assert event == PurchaseRefunded("o-1", 10_000, 20, 0, (lot(EXPIRES, 20),), 0, 80)
    state = then(account, [event])
    assert state.balances == Balances(available=0, lifetime_earned=80, lifetime_redeemed=80)


def test_within_balance_policy_leaves_held_points_alone() -> None:
    account = given(
        enrolled(),
        purchased("o-1", 10_000, 100, release_at=None),
        PointsReserved("r-1", 90, "2026-03-01T12:15:00.000000Z", (lot(EXPIRES, 90),)),
    )

    event = refund(account, 10_000, NegativeBalancePolicy.WITHIN_BALANCE)

    assert event == PurchaseRefunded("o-1", 10_000, 10, 0, (lot(EXPIRES, 10),), 0, 90)
    assert then(account, [event]).balances.held == 90


def test_allow_negative_policy_records_the_negative_points_and_goes_below_zero() -> None:
    account = spent_account()

    event = refund(account, 10_000, NegativeBalancePolicy.ALLOW_NEGATIVE)

    assert event == PurchaseRefunded("o-1", 10_000, 100, 0, (lot(EXPIRES, 20),), 80, 0)
    state = then(account, [event])
    assert state.balances == Balances(available=-80, lifetime_earned=0, lifetime_redeemed=80)
    assert state.lots == ()


def negative_account() -> AccountState:
    """-80 points: o-1's 100 points were refunded after 80 of them had been spent."""
    return given(
        enrolled(),
        purchased("o-1", 10_000, 100, release_at=None),
        PointsRedeemed(80, "", (lot(EXPIRES, 80),)),
        PurchaseRefunded("o-1", 10_000, 100, 0, (lot(EXPIRES, 20),), 80, 0),
    )


def test_new_earnings_pay_off_a_negative_balance_before_making_lots() -> None:
    account = negative_account()

    account = then(account, when(account, EarnPoints(50, "bonus")))
    assert account.balances.available == -30
    assert account.lots == ()

    account = then(account, when(account, EarnPoints(50, "bonus")))
    assert account.balances.available == 20
    assert account.lots == (lot(EXPIRES, 20),)


def test_released_pending_points_pay_off_a_negative_balance_first() -> None:
    account = then(negative_account(), [purchased("o-2", 10_000, 100)])

    state = then(account, when(account, ConfirmOrder("o-2")))

    assert state.balances.available == 20
    assert state.lots == (lot(EXPIRES, 20),)


def test_canceled_hold_pays_off_a_negative_balance_first() -> None:
    account = given(
        enrolled(),
        purchased("o-1", 10_000, 100, release_at=None),
        PointsReserved("r-1", 100, "2026-03-01T12:15:00.000000Z", (lot(EXPIRES, 100),)),
    )
    account = then(account, [refund(account, 4_000, NegativeBalancePolicy.ALLOW_NEGATIVE)])
    assert account.balances.available == -40

    state = then(account, when(account, CancelReservation("r-1")))

    assert state.balances.available == 60
    assert state.lots == (lot(EXPIRES, 60),)


def test_a_negative_balance_cannot_be_redeemed_from() -> None:
    account = negative_account()

    with pytest.raises(FailedPrecondition) as refused:
        when(account, RedeemPoints(1))

    assert refused.value.reason == "INSUFFICIENT_POINTS"
    assert refused.value.metadata["points_available"] == "0"


def test_purchase_on_a_negative_balance_counts_in_lifetime_earned_in_full() -> None:
    account = negative_account()
    account = then(account, when(account, RecordPurchase("o-2", 3_000, "USD", 2)))
    account = then(account, when(account, ConfirmOrder("o-2")))

    assert account.balances == Balances(available=-50, lifetime_earned=30, lifetime_redeemed=80)
