"""The points a recorded purchase or action would have given under other settings."""

from dataclasses import replace
from datetime import UTC, datetime

from ledger.domain.account import AccountState
from ledger.domain.action_settings import RewardedAction
from ledger.domain.events import ActionRecorded, PurchaseRecorded
from ledger.domain.program import ProgramState
from ledger.domain.purchase_rules import LineKind, OrderLine, PointsRounding
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.domain.tier_state import TierStatus
from ledger.domain.what_if import action_points, purchase_points

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
SETTINGS = ProgramSettings(earn_rates=(EarnRate("USD", 1),))
PURCHASE = PurchaseRecorded(
    order_id="o-1",
    amount_minor=9_999,
    currency_code="USD",
    points=99,
    release_at=None,
    expires_on=None,
    program_revision=1,
    rate_points=1,
    rate_per_major_units=1,
    currency_exponent=2,
    lines=(
        OrderLine("1", "sku-1", "books", 1, 7_999, LineKind.GOODS),
        OrderLine("2", "sku-2", "", 1, 2_000, LineKind.GIFT_CARD),
    ),
)


def _program(settings: ProgramSettings) -> ProgramState:
    return ProgramState(2, "shop", settings)


def test_a_purchase_earns_by_the_proposed_rules_on_its_recorded_lines() -> None:
    assert purchase_points(_program(SETTINGS), AccountState(), PURCHASE) == 99
    # Rounded once per order: 199.98 points are 199 rounded down, 200 to the nearest.
    doubled = replace(SETTINGS, earn_rates=(EarnRate("USD", 2),))
    assert purchase_points(_program(doubled), AccountState(), PURCHASE) == 199
    nearest = replace(doubled, points_rounding=PointsRounding.NEAREST)
    assert purchase_points(_program(nearest), AccountState(), PURCHASE) == 200
    # The gift card line stops earning.
    no_gift_cards = replace(SETTINGS, earn_on_gift_cards=False)
    assert purchase_points(_program(no_gift_cards), AccountState(), PURCHASE) == 79


def test_a_currency_without_a_proposed_rate_earns_nothing() -> None:
    euros_only = replace(SETTINGS, earn_rates=(EarnRate("EUR", 1),))

    assert purchase_points(_program(euros_only), AccountState(), PURCHASE) == 0


def test_the_tier_held_before_the_purchase_multiplies_it() -> None:
    gold = AccountState(tier=TierStatus(tier="gold", earn_multiplier_percent=150))

    assert purchase_points(_program(SETTINGS), gold, PURCHASE) == 99 + 49


def test_an_action_earns_the_proposed_points_or_nothing_if_undefined() -> None:
    recorded = ActionRecorded(
        action_id="review",
        reference="r-1",
        points=50,
        rule_points=50,
        outcome="rewarded",
        capped_by="",
        expires_on=None,
        program_revision=1,
        day="2026-03-02",
        week="2026-W10",
        month="2026-03",
        year="2026",
    )
    richer = replace(SETTINGS, actions=(RewardedAction("review", 80),))

    assert action_points(_program(richer), AccountState(), recorded, NOW) == 80
    assert action_points(_program(SETTINGS), AccountState(), recorded, NOW) == 0
