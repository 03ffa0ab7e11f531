"""Rewards: redeeming in one step or through a hold, limits per member, shared stock."""

from dataclasses import replace
from datetime import timedelta

import pytest

from ledger.domain import clock
from ledger.domain.account import Balances
from ledger.domain.catalogue import Benefit, BenefitKind, PointValue, Reward
from ledger.domain.commands import (
    CancelReservation,
    CommitReservation,
    RedeemReward,
    ReservePoints,
)
from ledger.domain.decide import housekeeping, result
from ledger.domain.errors import FailedPrecondition, InvalidArgument, NotFound, Violations
from ledger.domain.events import (
    ReservationReleased,
    RewardRedeemed,
    RewardReserved,
    RewardUnitHeld,
    RewardUnitIssued,
    RewardUnitReleased,
)
from ledger.domain.results import ReservationResult, RewardResult
from ledger.domain.rewards import StockState

from .scenario import (
    CATALOGUE_PROGRAM,
    CODE,
    MEMBER_KEY,
    T0,
    Folded,
    earned,
    enrolled,
    given,
    given_stock,
    lot,
    then,
    when_reward,
)

SOON = "2026-06-01"
LATER = "2027-01-10"
HOLD_TTL_SECONDS = 600
HOLD_EXPIRES_AT = clock.instant(T0 + timedelta(seconds=HOLD_TTL_SECONDS))


def rich_account() -> Folded:
    return given(enrolled(), earned(40, SOON), earned(500, LATER))


def test_redeeming_a_reward_takes_its_cost_from_the_soonest_expiring_points() -> None:
    account = rich_account()

    events, stock_events = when_reward(account, None, RedeemReward("ten-off"))

    assert events == [
        RewardRedeemed(
            reward_id="ten-off",
            redemption_code=CODE,
            points=100,
            taken=(lot(SOON, 40), lot(LATER, 60)),
            reservation_id="",
            program_revision=3,
            display_name="$10 off",
            benefit_kind="amount_off",
            amount_minor=1_000,
            currency_code="USD",
            percent=0,
            sku="",
        )
    ]
    assert stock_events == []  # unlimited: no stock stream written
    state = then(account, events)
    assert state.balances == Balances(available=440, lifetime_earned=540, lifetime_redeemed=100)
    assert state.lots == (lot(LATER, 440),)
    answer = result(RedeemReward("ten-off"), events)
    assert isinstance(answer, RewardResult)
    assert (answer.redemption_code, answer.amount_minor, answer.currency_code) == (
        CODE,
        1_000,
        "USD",
    )


def test_a_limited_reward_takes_a_unit_of_its_stock() -> None:
    events, stock_events = when_reward(rich_account(), given_stock(), RedeemReward("mug"))

    assert [type(event) for event in events] == [RewardRedeemed]
    assert stock_events == [RewardUnitIssued(MEMBER_KEY, CODE, "")]
    assert given_stock(*stock_events).issued == 1


def test_the_last_unit_goes_and_then_the_reward_is_out_of_stock() -> None:
    stock = given_stock(RewardUnitIssued("~other", "C-1", ""))

    _, stock_events = when_reward(rich_account(), stock, RedeemReward("mug"))
    empty = given_stock(RewardUnitIssued("~other", "C-1", ""), *stock_events)

    with pytest.raises(FailedPrecondition) as refused:
        when_reward(given(enrolled(), earned(500)), empty, RedeemReward("mug"))
    assert refused.value.reason == "REWARD_OUT_OF_STOCK"


def test_a_member_cannot_redeem_past_the_limit_per_member() -> None:
    account = rich_account()
    first, _ = when_reward(account, None, RedeemReward("shipping"), code="C-1")
    account = then(account, first)
    second, _ = when_reward(account, None, RedeemReward("shipping"), code="C-2")
    account = then(account, second)

    with pytest.raises(FailedPrecondition) as refused:
        when_reward(account, None, RedeemReward("shipping"), code="C-3")

    assert refused.value.reason == "REWARD_LIMIT_REACHED"
    assert account.rewards_redeemed == {"shipping": 2}


def test_an_open_reservation_counts_towards_the_limit_per_member() -> None:
    account = then(
        rich_account(),
        [RewardReserved("r-1", "shipping", 30, HOLD_EXPIRES_AT, (lot(SOON, 30),), False, 3)],
    )
    redeemed, _ = when_reward(account, None, RedeemReward("shipping"))

    with pytest.raises(FailedPrecondition) as refused:
        when_reward(then(account, redeemed), None, RedeemReward("shipping"))
    assert refused.value.reason == "REWARD_LIMIT_REACHED"


def test_not_enough_points_refuses_and_takes_no_stock() -> None:
    poor = given(enrolled(), earned(49))

    with pytest.raises(FailedPrecondition) as refused:
        when_reward(poor, given_stock(), RedeemReward("mug"))

    assert refused.value.reason == "INSUFFICIENT_POINTS"
    assert refused.value.metadata == {"points_available": "49", "points_requested": "50"}


def test_a_reward_the_catalogue_does_not_hold_is_not_found() -> None:
    with pytest.raises(NotFound) as refused:
        when_reward(rich_account(), given_stock(), RedeemReward("yacht"))
    assert (refused.value.reason, refused.value.field) == ("REWARD_NOT_FOUND", "reward_id")


def reserved_mug() -> tuple[Folded, StockState]:
    account = rich_account()
    events, stock_events = when_reward(
        account, given_stock(), ReservePoints("r-1", 0, HOLD_TTL_SECONDS, reward_id="mug")
    )
    return then(account, events), given_stock(*stock_events)


def test_reserving_a_reward_holds_its_cost_and_a_unit_of_stock() -> None:
    account = rich_account()

    command = ReservePoints("r-1", 0, HOLD_TTL_SECONDS, reward_id="mug")
    events, stock_events = when_reward(account, given_stock(), command)

    assert events == [
        RewardReserved("r-1", "mug", 50, HOLD_EXPIRES_AT, (lot(SOON, 40), lot(LATER, 10)), True, 3)
    ]
    assert stock_events == [RewardUnitHeld(MEMBER_KEY, "r-1", HOLD_EXPIRES_AT)]
    assert then(account, events).balances.held == 50
    assert result(command, events) == ReservationResult("r-1", 50, HOLD_EXPIRES_AT)


def test_the_held_unit_counts_against_the_stock_of_everyone() -> None:
    stock = given_stock(
        RewardUnitHeld("~a", "r-1", HOLD_EXPIRES_AT), RewardUnitIssued("~b", "C-1", "")
    )

    with pytest.raises(FailedPrecondition) as refused:
        when_reward(rich_account(), stock, RedeemReward("mug"))
    assert refused.value.reason == "REWARD_OUT_OF_STOCK"


def test_committing_a_reward_hold_redeems_it_whole_and_issues_the_code() -> None:
    account, stock = reserved_mug()

    events, stock_events = when_reward(account, stock, CommitReservation("r-1"))

    [redeemed] = events
    assert isinstance(redeemed, RewardRedeemed)
    assert (redeemed.reservation_id, redeemed.points, redeemed.redemption_code) == ("r-1", 50, CODE)
    assert stock_events == [RewardUnitIssued(MEMBER_KEY, CODE, "r-1")]
    state = then(account, events)
    assert state.balances == Balances(available=490, lifetime_earned=540, lifetime_redeemed=50)
    assert state.holds == {}
    stock_after = given_stock(RewardUnitHeld(MEMBER_KEY, "r-1", HOLD_EXPIRES_AT), *stock_events)
    assert (stock_after.issued, stock_after.holds) == (1, {})


def test_a_reward_hold_cannot_be_committed_in_part() -> None:
    account, stock = reserved_mug()

    with pytest.raises(InvalidArgument):
        when_reward(account, stock, CommitReservation("r-1", 20))


def test_reserve_then_cancel_gives_points_and_stock_back() -> None:
    account, stock = reserved_mug()

    events, stock_events = when_reward(account, stock, CancelReservation("r-1"))

    assert [type(event) for event in events] == [ReservationReleased]
    assert stock_events == [RewardUnitReleased(MEMBER_KEY, "r-1", "canceled")]
    state = then(account, events)
    assert state.balances == Balances(available=540, lifetime_earned=540)
    stock_after = given_stock(RewardUnitHeld(MEMBER_KEY, "r-1", HOLD_EXPIRES_AT), *stock_events)
    assert (stock_after.issued, stock_after.holds) == (0, {})


def test_a_lapsed_hold_gives_points_and_stock_back() -> None:
    account, _ = reserved_mug()
    # Two holds of the only two units: the stock is out...
    stock = given_stock(
        RewardUnitHeld(MEMBER_KEY, "r-1", HOLD_EXPIRES_AT),
        RewardUnitHeld("~other", "r-9", HOLD_EXPIRES_AT),
    )
    with pytest.raises(FailedPrecondition):
        when_reward(given(enrolled(), earned(500)), stock, RedeemReward("mug"))
    after = T0 + timedelta(seconds=HOLD_TTL_SECONDS)

    # ...until the holds lapse: the member's points come back with the account's
    # housekeeping, and the units are free again at that very instant.
    released = housekeeping(account, after)
    assert [type(event) for event in released] == [ReservationReleased]
    assert then(account, released).balances.available == 540
    events, stock_events = when_reward(
        given(enrolled(), earned(500)), stock, RedeemReward("mug"), now=after
    )
    assert [type(event) for event in events] == [RewardRedeemed]
    assert stock_events == [
        RewardUnitReleased(MEMBER_KEY, "r-1", "lapsed"),
        RewardUnitReleased("~other", "r-9", "lapsed"),
        RewardUnitIssued(MEMBER_KEY, CODE, ""),
    ]


def test_committing_after_the_hold_lapsed_finds_no_reservation() -> None:
    account, stock = reserved_mug()

    with pytest.raises(NotFound):
        when_reward(
            account,
            stock,
            CommitReservation("r-1"),
            now=T0 + timedelta(seconds=HOLD_TTL_SECONDS),
        )


def test_a_reward_reservation_asking_other_points_than_the_cost_is_refused() -> None:
    with pytest.raises(InvalidArgument) as refused:
        when_reward(rich_account(), given_stock(), ReservePoints("r-1", 49, reward_id="mug"))
    assert [v.field for v in refused.value.violations] == ["points"]


def test_catalogue_settings_that_make_no_sense_are_refused_naming_each() -> None:
    settings = replace(
        CATALOGUE_PROGRAM.settings,
        rewards=(
            Reward("free", "Costs nothing", 0, Benefit(BenefitKind.FREE_SHIPPING)),
            Reward("neg", "Negative stock", 10, Benefit(BenefitKind.FREE_SHIPPING), stock=-1),
            Reward("pct", "150% off", 10, Benefit(BenefitKind.PERCENT_OFF, percent=150)),
            Reward("pct", "Again", 10, Benefit(BenefitKind.PERCENT_OFF, percent=10)),
            Reward("sku", "No product", 10, Benefit(BenefitKind.FREE_PRODUCT)),
        ),
        point_values=(PointValue("USD", 0), PointValue("usd", 1)),
    )
    violations = Violations()

    settings.validate(violations)

    assert [item.field for item in violations.items] == [
        "program.rewards[0].points_cost",
        "program.rewards[1].stock",
        "program.rewards[2].percent_off",
        "program.rewards[3].reward_id",
        "program.rewards[4].free_product_sku",
        "program.point_values[0].value",
        "program.point_values[1].value.currency_code",
    ]


def test_a_sensible_catalogue_passes() -> None:
    violations = Violations()
    CATALOGUE_PROGRAM.settings.validate(violations)
    assert violations.items == []
