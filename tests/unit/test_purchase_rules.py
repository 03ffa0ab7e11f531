"""Purchases with order lines: the program's multipliers, exclusions, minimum order and
rounding, each rule's points recorded in PurchaseRecorded and answered by RecordPurchase."""

import dataclasses
from typing import Any

import pytest

from ledger.domain.account import AccountState
from ledger.domain.commands import CreateProgram, RecordPurchase, RedeemPoints, RefundPurchase
from ledger.domain.decide import result
from ledger.domain.errors import InvalidArgument
from ledger.domain.events import PurchaseRecorded, PurchaseRefunded
from ledger.domain.program import ProgramState
from ledger.domain.program import decide as decide_program
from ledger.domain.purchase_rules import (
    EarnExclusion,
    EarnMultiplier,
    LineKind,
    MinimumOrder,
    OrderLine,
    PointsRounding,
    RuleApplication,
    RuleKind,
)
from ledger.domain.results import PurchaseResult
from ledger.domain.settings import EarnRate, NegativeBalancePolicy, ProgramSettings

from .scenario import EXPIRES, enrolled, fields, given, lot, program, then, when

GOODS, SHIPPING, TAX, GIFT_CARD = (
    LineKind.GOODS,
    LineKind.SHIPPING,
    LineKind.TAX,
    LineKind.GIFT_CARD,
)


def line(
    amount_minor: int,
    *,
    sku: str = "sku-1",
    category: str = "shoes",
    kind: LineKind = GOODS,
    line_id: str = "",
) -> OrderLine:
    return OrderLine(line_id, sku, category, 1, amount_minor, kind)


def rules_program(**changes: Any) -> ProgramState:
    """The scenario program (USD 1 point per dollar, JPY 1 per 100 yen, KWD 10 per dinar,
    14-day window) with `changes` to its settings, at revision 3."""
    base = program(revision=3)
    return dataclasses.replace(base, settings=dataclasses.replace(base.settings, **changes))


def purchase(
    settings_program: ProgramState,
    *lines: OrderLine,
    currency: str = "USD",
    exponent: int = 2,
    amount_minor: int | None = None,
) -> PurchaseRecorded:
    account = given(enrolled())
    total = sum(item.amount_minor for item in lines) if amount_minor is None else amount_minor
    command = RecordPurchase("o-1", total, currency, exponent, tuple(lines))
    events = when(account, command, program=settings_program)
    [event] = events
    assert isinstance(event, PurchaseRecorded)
    then(account, events)
    assert sum(rule.points for rule in event.rules) == event.points, "rules add up"
    return event


def earned_by(event: PurchaseRecorded) -> list[tuple[str, int, tuple[int, ...]]]:
    return [(rule.rule_id, rule.points, rule.line_indexes) for rule in event.rules]


# --- currencies -------------------------------------------------------------------------------


def test_jpy_purchase_with_lines_earns_on_whole_yen_at_the_rate() -> None:
    event = purchase(rules_program(), line(12_345), line(980), currency="JPY", exponent=0)

    # ¥13,325 at 1 point per ¥100: 133.25, down to 133.
    assert event.points == 133
    assert earned_by(event) == [("earn_rate:JPY", 133, (0, 1))]
    assert event.program_revision == 3


def test_kwd_purchase_with_lines_uses_three_decimals() -> None:
    # 1.234 KWD + 0.500 KWD shipping at 10 points per dinar; shipping excluded: 12.34 -> 12.
    event = purchase(
        rules_program(exclusions=(EarnExclusion("no_shipping", SHIPPING),)),
        line(1_234),
        line(500, sku="ship", category="", kind=SHIPPING),
        currency="KWD",
        exponent=3,
    )

    assert event.points == 12
    assert earned_by(event) == [("earn_rate:KWD", 12, (0,)), ("no_shipping", 0, (1,))]
    assert event.lines[1].kind is SHIPPING


# --- exclusions ----------------------------------------------------------------------------------


def test_an_excluded_shipping_line_earns_nothing_and_is_named_in_the_breakdown() -> None:
    event = purchase(
        rules_program(exclusions=(EarnExclusion("no_shipping", SHIPPING),)),
        line(5_000),
        line(999, sku="ship", kind=SHIPPING),
    )

    assert event.points == 50
    assert event.rules == (
        RuleApplication("earn_rate:USD", RuleKind.EARN_RATE, 50, (0,)),
        RuleApplication("no_shipping", RuleKind.EXCLUSION, 0, (1,)),
    )


def test_exclusions_by_sku_and_by_category_and_the_first_matching_one_is_named() -> None:
    event = purchase(
        rules_program(
            exclusions=(
                EarnExclusion("no_tobacco", category="tobacco"),
                EarnExclusion("no_deposit", sku="bottle-deposit"),
            )
        ),
        line(1_000, sku="cigars", category="tobacco"),
        line(25, sku="bottle-deposit", category="tobacco"),
        line(3_000, sku="book", category="books"),
    )

    assert earned_by(event) == [
        ("earn_rate:USD", 30, (2,)),
        ("no_tobacco", 0, (0, 1)),
    ]


def test_gift_cards_bought_do_not_earn_unless_the_program_says_so() -> None:
    lines = (line(5_000, sku="gift-50", kind=GIFT_CARD), line(2_000))

    excluded = purchase(rules_program(earn_on_gift_cards=False), *lines)
    earning = purchase(rules_program(earn_on_gift_cards=True), *lines)

    assert earned_by(excluded) == [("earn_rate:USD", 20, (1,)), ("exclusion:gift_cards", 0, (0,))]
    assert earning.points == 70


def test_programs_stored_before_lines_keep_earning_on_gift_cards() -> None:
    assert ProgramSettings().earn_on_gift_cards is True


def test_an_order_whose_lines_are_all_excluded_earns_nothing() -> None:
    event = purchase(rules_program(exclusions=(EarnExclusion("no_tax", TAX),)), line(700, kind=TAX))

    assert event.points == 0
    assert earned_by(event) == [("no_tax", 0, (0,))]


# --- multipliers ---------------------------------------------------------------------------------


def test_a_multiplier_on_one_sku_adds_points_on_that_line_only() -> None:
    event = purchase(
        rules_program(multipliers=(EarnMultiplier("double_runner", 200, sku="runner"),)),
        line(4_000, sku="runner"),
        line(1_000, sku="socks"),
    )

    assert event.points == 90
    assert earned_by(event) == [("earn_rate:USD", 50, (0, 1)), ("double_runner", 40, (0,))]


def test_the_sku_multiplier_wins_over_the_category_multiplier_they_never_stack() -> None:
    event = purchase(
        rules_program(
            multipliers=(
                EarnMultiplier("shoes_x3", 300, category="shoes"),
                EarnMultiplier("runner_x2", 200, sku="runner"),
            )
        ),
        line(1_000, sku="runner", category="shoes"),
        line(1_000, sku="boot", category="shoes"),
    )

    # runner: 10 base + 10 (x2, not x2 x3 nor x5); boot: 10 base + 20 (x3).
    assert earned_by(event) == [
        ("earn_rate:USD", 20, (0, 1)),
        ("shoes_x3", 20, (1,)),
        ("runner_x2", 10, (0,)),
    ]
    assert event.points == 50


def test_a_multiplier_below_100_percent_takes_points_off_its_lines() -> None:
    event = purchase(
        rules_program(multipliers=(EarnMultiplier("sale_half", 50, category="sale"),)),
        line(3_000, category="sale"),
    )

    assert earned_by(event) == [("earn_rate:USD", 30, (0,)), ("sale_half", -15, (0,))]


def test_a_multiplier_does_not_reach_an_excluded_line() -> None:
    event = purchase(
        rules_program(
            multipliers=(EarnMultiplier("x2", 200, sku="ship"),),
            exclusions=(EarnExclusion("no_shipping", SHIPPING),),
        ),
        line(1_000, sku="ship", kind=SHIPPING),
        line(1_000),
    )

    assert earned_by(event) == [("earn_rate:USD", 10, (1,)), ("no_shipping", 0, (0,))]


# --- minimum order -------------------------------------------------------------------------------


MINIMUM = rules_program(
    minimum_order_amounts=(MinimumOrder("USD", 2_500),),
    exclusions=(EarnExclusion("no_shipping", SHIPPING),),
)


def test_an_order_just_below_the_minimum_earns_nothing_and_says_why() -> None:
    # $24.99 of goods and $10 of shipping: shipping does not lift it over $25.
    event = purchase(MINIMUM, line(2_499), line(1_000, sku="ship", kind=SHIPPING))

    assert event.points == 0
    assert earned_by(event) == [("minimum_order:USD", 0, (0,)), ("no_shipping", 0, (1,))]
    assert event.rules[0].kind is RuleKind.MINIMUM_ORDER


def test_an_order_at_the_minimum_earns() -> None:
    event = purchase(MINIMUM, line(2_500), line(1_000, sku="ship", kind=SHIPPING))

    assert event.points == 25
    assert earned_by(event) == [("earn_rate:USD", 25, (0,)), ("no_shipping", 0, (1,))]


def test_the_minimum_of_another_currency_does_not_apply() -> None:
    event = purchase(MINIMUM, line(100), currency="JPY", exponent=0)

    assert event.points == 1


def test_a_purchase_without_lines_below_the_minimum_earns_nothing() -> None:
    account = given(enrolled())

    [event] = when(account, RecordPurchase("o-1", 2_000, "USD", 2), program=MINIMUM)

    assert isinstance(event, PurchaseRecorded)
    assert (event.points, earned_by(event)) == (0, [("minimum_order:USD", 0, ())])


# --- rounding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rounding", "points"),
    [(PointsRounding.DOWN, 12), (PointsRounding.NEAREST, 13), (PointsRounding.UP, 13)],
)
def test_the_order_is_rounded_once_as_the_program_says(
    rounding: PointsRounding, points: int
) -> None:
    # Two lines of $6.25 at x1: 6.25 + 6.25 = 12.5 points; rounding each line down would
    # give 12, up 14: the order's total is rounded, once.
    event = purchase(rules_program(points_rounding=rounding), line(625), line(625, sku="b"))

    assert event.points == points


def test_nearest_rounds_below_a_half_down() -> None:
    event = purchase(rules_program(points_rounding=PointsRounding.NEAREST), line(1_249))

    assert event.points == 12


def test_up_gives_a_point_for_any_fraction_and_nothing_for_nothing() -> None:
    up = rules_program(points_rounding=PointsRounding.UP)

    assert purchase(up, line(1)).points == 1
    assert purchase(up, line(0), line(100, sku="b")).points == 1


def test_each_rule_shows_its_share_of_the_rounded_total() -> None:
    # $3.33 at x1.5 (4.995 points): base 3.33, multiplier 1.665. Rounded down once: 4; the
    # base shows 3, the multiplier the rest.
    event = purchase(
        rules_program(multipliers=(EarnMultiplier("x1_5", 150, sku="sku-1"),)), line(333)
    )

    assert earned_by(event) == [("earn_rate:USD", 3, (0,)), ("x1_5", 1, (0,))]


def test_the_answer_holds_the_rules_and_the_program_revision() -> None:
    settings_program = rules_program(exclusions=(EarnExclusion("no_tax", TAX),))
    account = given(enrolled())
    command = RecordPurchase("o-1", 1_500, "USD", 2, (line(1_000), line(500, kind=TAX)))

    answer = result(command, when(account, command, program=settings_program))

    assert answer == PurchaseResult(
        10,
        True,
        (
            RuleApplication("earn_rate:USD", RuleKind.EARN_RATE, 10, (0,)),
            RuleApplication("no_tax", RuleKind.EXCLUSION, 0, (1,)),
        ),
        3,
    )


# --- refunds of a purchase with lines ------------------------------------------------------------


def spent_line_purchase(policy: NegativeBalancePolicy) -> tuple[ProgramState, AccountState]:
    """$100 of goods at x2 (200 points) plus $20 shipping (excluded), available at once;
    150 of its points spent."""
    settings_program = rules_program(
        multipliers=(EarnMultiplier("x2", 200, sku="sku-1"),),
        exclusions=(EarnExclusion("no_shipping", SHIPPING),),
        return_window_days=0,
        negative_balance_policy=policy,
    )
    account = given(enrolled())
    lines = (line(10_000), line(2_000, sku="ship", kind=SHIPPING))
    account = then(
        account,
        when(account, RecordPurchase("o-1", 12_000, "USD", 2, lines), program=settings_program),
    )
    assert account.balances.available == 200
    account = then(account, when(account, RedeemPoints(150), program=settings_program))
    return settings_program, account


@pytest.mark.parametrize(
    ("policy", "clawed_back", "negative", "not_recovered", "available"),
    [
        (NegativeBalancePolicy.PENDING_ONLY, 0, 0, 100, 50),
        (NegativeBalancePolicy.WITHIN_BALANCE, 50, 0, 50, 0),
        (NegativeBalancePolicy.ALLOW_NEGATIVE, 100, 50, 0, -50),
    ],
)
def test_refunding_half_a_line_order_after_part_of_its_points_were_spent(
    policy: NegativeBalancePolicy,
    clawed_back: int,
    negative: int,
    not_recovered: int,
    available: int,
) -> None:
    settings_program, account = spent_line_purchase(policy)

    # Half the order's amount ($60 of $120): half of the 200 points it earned, as stored.
    events = when(account, RefundPurchase("o-1", 6_000, "USD"), program=settings_program)

    [refunded] = events
    taken = (lot(EXPIRES, 50),) if clawed_back else ()
    assert refunded == PurchaseRefunded(
        "o-1", 6_000, clawed_back, 0, taken, negative, not_recovered
    )
    assert then(account, events).balances.available == available


def test_a_refund_claws_back_from_the_stored_points_not_from_todays_rules() -> None:
    settings_program, account = spent_line_purchase(NegativeBalancePolicy.ALLOW_NEGATIVE)
    today = dataclasses.replace(
        settings_program,
        revision=4,
        settings=dataclasses.replace(settings_program.settings, multipliers=()),
    )

    [refunded] = when(account, RefundPurchase("o-1", 12_000, "USD"), program=today)

    assert isinstance(refunded, PurchaseRefunded)
    assert refunded.points_clawed_back == 200


# --- bad lines and bad settings ------------------------------------------------------------------


def test_lines_that_do_not_add_up_to_the_amount_are_refused_naming_each_bad_field() -> None:
    bad = (
        OrderLine("", "", "shoes", 0, 1_000, GOODS),
        OrderLine("l-2", "", "", 1, -5, GOODS),
    )

    with pytest.raises(InvalidArgument) as refused:
        when(given(enrolled()), RecordPurchase("o-1", 2_000, "USD", 2, bad))

    assert fields(refused.value) == [
        "lines[0].line_id",
        "lines[0].quantity",
        "lines[1].amount",
        "lines",
    ]


def test_senseless_settings_are_refused_naming_each_setting() -> None:
    settings = ProgramSettings(
        earn_rates=(EarnRate("USD", 1),),
        multipliers=(
            EarnMultiplier("zero", 0, sku="a"),
            EarnMultiplier("negative", -100, category="c"),
            EarnMultiplier("zero", 200, sku="b"),
            EarnMultiplier("both", 200, sku="x", category="y"),
            EarnMultiplier("again", 200, sku="a"),
        ),
        exclusions=(EarnExclusion("nothing"), EarnExclusion("Bad Id", TAX)),
        minimum_order_amounts=(MinimumOrder("USD", 0), MinimumOrder("usd", 100)),
    )

    with pytest.raises(InvalidArgument) as refused:
        decide_program(ProgramState(), CreateProgram("shop", settings))

    assert fields(refused.value) == [
        "program.multipliers[0].percent",
        "program.multipliers[1].percent",
        "program.multipliers[2].rule_id",
        "program.multipliers[3]",
        "program.multipliers[4].sku",
        "program.exclusions[0]",
        "program.exclusions[1].rule_id",
        "program.minimum_order_amounts[0]",
        "program.minimum_order_amounts[1].currency_code",
    ]
