"""What a member's recorded period would have given under other settings: given the events
a history recorded under one revision, when they are rerun under a proposal, then the points
per kind (purchases, actions, milestones, referral credits, refunds, expiry) the domain's own
decisions give. No database."""

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ledger.domain import referrals
from ledger.domain.account import AccountState
from ledger.domain.action_settings import RewardedAction
from ledger.domain.commands import (
    Command,
    RecordAction,
    RecordPurchase,
    RedeemPoints,
    RefundPurchase,
)
from ledger.domain.decide import housekeeping
from ledger.domain.events import Event, ReferralApplied
from ledger.domain.milestone_settings import Milestone
from ledger.domain.program import ProgramState
from ledger.domain.purchase_rules import LineKind, OrderLine, PointsRounding
from ledger.domain.referral_settings import ReferralSettings
from ledger.domain.referral_state import PENDING
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.domain.tier_settings import Tier, TierSettings
from ledger.domain.what_if import KINDS, Rerun, due_by, points_of

from .scenario import T0, Folded, enrolled, given, then, when

MEMBER_KEY = "~member-1"
REFERRER_KEY = "~referrer-1"
PERIOD_END = T0 + timedelta(days=60)
RECORDED = ProgramSettings(earn_rates=(EarnRate("USD", 1),))


def _program(settings: ProgramSettings, revision: int = 1) -> ProgramState:
    return ProgramState(revision, "p", settings)


@dataclass
class History:
    """A member's period as the ledger recorded it: commands decided under `program`, from
    `start` (the account when the period began), each event with its time."""

    program: ProgramState
    start: Folded = field(default_factory=lambda: given(enrolled()))
    recorded: list[tuple[datetime, Event]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = self.start

    def did(self, command: Command, at: datetime = T0) -> None:
        self.record(when(self.state, command, now=at, program=self.program), at)

    def record(self, events: list[Event], at: datetime) -> None:
        self.state = then(self.state, events)
        self.recorded += [(at, event) for event in events]

    def rerun(self, settings: ProgramSettings) -> dict[str, tuple[int, int]]:
        """Per kind, (recorded, proposed) points, each with what is due by the period's end."""
        recorded = [0] * len(KINDS)
        tail = housekeeping(self.state, due_by(PERIOD_END))
        for event in [event for _, event in self.recorded] + tail:
            found = points_of(event)
            if found is not None:
                recorded[found[0]] += found[1]
        proposed = _program(settings, revision=2)
        run = Rerun(self.start, dict(self.start.orders), MEMBER_KEY)
        for at, event in self.recorded:
            run.rerun(proposed, event, at)
        run.finish(proposed, PERIOD_END)
        return {kind: (recorded[index], run.points[index]) for index, kind in enumerate(KINDS)}


def _lines() -> tuple[OrderLine, ...]:
    return (
        OrderLine("1", "sku-1", "books", 1, 7_999, LineKind.GOODS),
        OrderLine("2", "sku-2", "", 1, 2_000, LineKind.GIFT_CARD),
    )


def test_a_purchase_earns_by_the_proposed_rules_on_its_recorded_lines() -> None:
    history = History(_program(RECORDED))
    history.did(RecordPurchase("o-1", 9_999, "USD", 2, _lines()))
    doubled = replace(RECORDED, earn_rates=(EarnRate("USD", 2),))

    assert history.rerun(RECORDED)["purchase"] == (99, 99)
    # Rounded once per order: 199.98 points are 199 rounded down, 200 to the nearest.
    assert history.rerun(doubled)["purchase"] == (99, 199)
    nearest = replace(doubled, points_rounding=PointsRounding.NEAREST)
    assert history.rerun(nearest)["purchase"] == (99, 200)
    # The gift card line stops earning.
    assert history.rerun(replace(RECORDED, earn_on_gift_cards=False))["purchase"] == (99, 79)


def test_a_purchase_in_a_currency_the_proposal_does_not_earn_in_is_left_out() -> None:
    history = History(_program(RECORDED))
    history.did(RecordPurchase("o-1", 9_999, "USD", 2))

    euros_only = replace(RECORDED, earn_rates=(EarnRate("EUR", 1),))

    assert history.rerun(euros_only)["purchase"] == (99, 0)


def test_the_tier_the_proposal_gives_multiplies_the_purchase() -> None:
    history = History(_program(RECORDED))
    history.did(RecordPurchase("o-1", 20_000, "USD", 2))
    history.did(RecordPurchase("o-2", 10_000, "USD", 2), T0 + timedelta(days=1))
    gold = TierSettings(levels=(Tier("gold", 100, earn_multiplier_percent=150),))

    # 200 points reach gold at once; the next 100 earn half as much again.
    assert history.rerun(replace(RECORDED, tiers=gold))["purchase"] == (300, 200 + 150)


def test_an_action_earns_the_proposed_points_or_nothing_if_undefined() -> None:
    with_review = replace(RECORDED, actions=(RewardedAction("review", 50),))
    history = History(_program(with_review))
    history.did(RecordAction("review", "r-1"))

    assert history.rerun(replace(with_review, actions=(RewardedAction("review", 80),)))[
        "action"
    ] == (50, 80)
    assert history.rerun(RECORDED)["action"] == (50, 0)


def test_a_refund_under_a_doubled_rate_claws_back_double() -> None:
    windowed = replace(RECORDED, return_window_days=14)
    history = History(_program(windowed))
    history.did(RecordPurchase("o-1", 10_000, "USD", 2))
    history.did(RefundPurchase("o-1", 5_000, "USD"), T0 + timedelta(days=2))

    figures = history.rerun(replace(windowed, earn_rates=(EarnRate("USD", 2),)))

    assert figures["purchase"] == (100, 200)
    assert figures["refund"] == (-50, -100)


def test_a_lower_milestone_threshold_is_reached_and_a_higher_one_no_longer_is() -> None:
    third = replace(RECORDED, milestones=(Milestone("third_order", 300, order_count=3),))
    history = History(_program(third))
    history.did(RecordPurchase("o-1", 1_000, "USD", 2))
    history.did(RecordPurchase("o-2", 1_000, "USD", 2), T0 + timedelta(days=1))

    second = replace(RECORDED, milestones=(Milestone("third_order", 300, order_count=2),))
    assert history.rerun(second)["milestone"] == (0, 300)
    history.did(RecordPurchase("o-3", 1_000, "USD", 2), T0 + timedelta(days=2))
    fourth = replace(RECORDED, milestones=(Milestone("third_order", 300, order_count=4),))
    assert history.rerun(fourth)["milestone"] == (300, 0)
    assert history.rerun(third)["milestone"] == (300, 300)


def test_a_shorter_expiry_expires_points_inside_the_period() -> None:
    yearly = replace(RECORDED, points_expiry_days=365)
    history = History(_program(yearly))
    history.did(RecordPurchase("o-1", 12_000, "USD", 2))
    history.did(RecordPurchase("o-2", 3_000, "USD", 2), T0 + timedelta(days=40))

    figures = history.rerun(replace(yearly, points_expiry_days=30))

    # The first order's 120 points expire 30 days on, inside the 60-day period; the second's
    # would on day 70, after it.
    assert figures["expiry"] == (0, -120)
    assert figures["purchase"] == (150, 150)


def test_points_redeemed_before_they_would_have_expired_do_not_expire() -> None:
    yearly = replace(RECORDED, points_expiry_days=365)
    history = History(_program(yearly))
    history.did(RecordPurchase("o-1", 12_000, "USD", 2))
    history.did(RedeemPoints(100, "basket"), T0 + timedelta(days=10))

    assert history.rerun(replace(yearly, points_expiry_days=30))["expiry"] == (0, -20)


def test_a_friends_referral_credit_is_the_proposals() -> None:
    on = replace(
        RECORDED,
        return_window_days=14,
        referrals=ReferralSettings(enabled=True, referrer_points=100, friend_points=10),
    )
    program = _program(on)
    history = History(program, given(enrolled(), ReferralApplied(REFERRER_KEY, PENDING, "")))
    history.did(RecordPurchase("o-1", 5_000, "USD", 2))
    due = T0 + timedelta(days=15)
    friend, _ = referrals.credited(
        history.state, AccountState(enrolled=True), program, due, MEMBER_KEY
    )
    history.record(friend, due)

    richer = replace(on, referrals=replace(on.referrals, friend_points=25))
    off = replace(on, referrals=replace(on.referrals, enabled=False))

    assert history.rerun(on)["referral"] == (10, 10)
    assert history.rerun(richer)["referral"] == (10, 25)
    assert history.rerun(off)["referral"] == (10, 0)


def test_the_recorded_settings_rerun_give_what_was_recorded_in_every_kind() -> None:
    settings = replace(
        RECORDED,
        return_window_days=14,
        points_expiry_days=20,
        actions=(RewardedAction("review", 50),),
        milestones=(Milestone("second_order", 70, order_count=2),),
    )
    history = History(_program(settings))
    history.did(RecordPurchase("o-1", 10_000, "USD", 2))
    history.did(RecordAction("review", "r-1"), T0 + timedelta(days=1))
    history.did(RecordPurchase("o-2", 4_000, "USD", 2), T0 + timedelta(days=3))
    history.did(RefundPurchase("o-2", 4_000, "USD"), T0 + timedelta(days=5))

    figures = history.rerun(settings)

    assert all(recorded == proposed for recorded, proposed in figures.values()), figures
    assert figures["milestone"] == (70, 70)
    assert figures["refund"] == (-40 - 70, -40 - 70)
    assert figures["expiry"][0] < 0


def test_a_redemption_the_proposals_balance_could_not_pay_is_left_out() -> None:
    monthly = replace(RECORDED, points_expiry_days=30)
    history = History(_program(monthly))
    history.did(RecordPurchase("o-1", 10_000, "USD", 2))
    history.did(RedeemPoints(80, "basket"), T0 + timedelta(days=1))
    halved = replace(monthly, earn_rates=(EarnRate("USD", 1, 2),))

    figures = history.rerun(halved)

    # Recorded: 100 earned, 80 redeemed, 20 expire. Proposed: 50 earned, too few for the
    # redemption, so all 50 expire.
    assert figures["purchase"] == (100, 50)
    assert figures["expiry"] == (-20, -50)
