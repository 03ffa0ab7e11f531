"""The earning rules' integer arithmetic (ledger/domain/earning.py) gives what the same rules
give on fractions.Fraction, the plain version it replaced, for any lines and settings: the
same points for every rule, rounded the same way."""

from collections.abc import Iterable
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain import limits
from ledger.domain.earning import (
    PERCENT,
    Earning,
    _multiplier_of,
    _split_excluded,
    purchase_earning,
)
from ledger.domain.purchase_rules import (
    EarnExclusion,
    EarnMultiplier,
    LineKind,
    MinimumOrder,
    OrderLine,
    PointsRounding,
    RuleApplication,
    RuleKind,
    earn_rate_rule_id,
    minimum_order_rule_id,
)
from ledger.domain.settings import EarnRate, ProgramSettings


def fraction_earning(
    settings: ProgramSettings,
    rate: EarnRate,
    currency_code: str,
    currency_exponent: int,
    amount_minor: int,
    lines: tuple[OrderLine, ...],
) -> Earning:
    """purchase_earning as it was written on fractions.Fraction."""
    per_minor_unit = Fraction(rate.points, rate.per_major_units * 10**currency_exponent)
    base_rule = earn_rate_rule_id(currency_code)
    parts: list[tuple[str, RuleKind, Fraction, tuple[int, ...]]]
    if not lines:
        parts = [(base_rule, RuleKind.EARN_RATE, amount_minor * per_minor_unit, ())]
        excluded: list[RuleApplication] = []
        earning_amount = amount_minor
    else:
        excluded, earning = _split_excluded(settings, lines)
        earning_amount = sum(lines[index].amount_minor for index in earning)
        parts = _parts(settings, lines, earning, per_minor_unit, base_rule) if earning else []
    minimum = settings.minimum_for(currency_code)
    if minimum is not None and earning_amount < minimum.amount_minor:
        below = RuleApplication(
            minimum_order_rule_id(currency_code),
            RuleKind.MINIMUM_ORDER,
            0,
            tuple(index for part in parts[:1] for index in part[3]),
        )
        return Earning(0, (below, *excluded))
    applied = _rounded(parts, settings.points_rounding)
    return Earning(sum(rule.points for rule in applied), (*applied, *excluded))


def _parts(
    settings: ProgramSettings,
    lines: tuple[OrderLine, ...],
    earning: list[int],
    per_minor_unit: Fraction,
    base_rule: str,
) -> list[tuple[str, RuleKind, Fraction, tuple[int, ...]]]:
    base_amount = sum(lines[index].amount_minor for index in earning)
    parts = [(base_rule, RuleKind.EARN_RATE, base_amount * per_minor_unit, tuple(earning))]
    multiplied: dict[str, list[int]] = {}
    for index in earning:
        multiplier = _multiplier_of(settings, lines[index])
        if multiplier is not None:
            multiplied.setdefault(multiplier.rule_id, []).append(index)
    for multiplier in settings.multipliers:
        indexes = multiplied.get(multiplier.rule_id)
        if indexes:
            amount = sum(lines[index].amount_minor for index in indexes)
            extra = Fraction(multiplier.percent - PERCENT, PERCENT) * amount * per_minor_unit
            parts.append((multiplier.rule_id, RuleKind.MULTIPLIER, extra, tuple(indexes)))
    return parts


def _rounded(
    parts: Iterable[tuple[str, RuleKind, Fraction, tuple[int, ...]]], rounding: PointsRounding
) -> list[RuleApplication]:
    applied = []
    running = Fraction(0)
    points_before = 0
    for rule_id, kind, exact, line_indexes in parts:
        running += exact
        points_so_far = _round(running, rounding)
        applied.append(RuleApplication(rule_id, kind, points_so_far - points_before, line_indexes))
        points_before = points_so_far
    return applied


def _round(exact: Fraction, rounding: PointsRounding) -> int:
    match rounding:
        case PointsRounding.DOWN:
            return exact.numerator // exact.denominator
        case PointsRounding.UP:
            return -(-exact.numerator // exact.denominator)
        case PointsRounding.NEAREST:
            return (2 * exact.numerator + exact.denominator) // (2 * exact.denominator)
    raise AssertionError(rounding)


SKUS = st.sampled_from(["a", "b", "c", "d"])
CATEGORIES = st.sampled_from(["", "shoes", "socks", "hats"])
# Small round figures make exact halves, where the roundings differ.
AMOUNTS = st.one_of(
    st.sampled_from([0, 1, 50, 150, 250, 1_000]),
    st.integers(0, 10_000),
    st.integers(0, limits.MAX_AMOUNT_MINOR_UNITS // limits.MAX_ORDER_LINES),
)
PERCENTS = st.one_of(st.sampled_from([50, 150, 250]), st.integers(1, limits.MAX_MULTIPLIER_PERCENT))
SMALL_OR_ANY = st.one_of(st.just(1), st.integers(1, 1_000))

LINES = st.lists(
    st.builds(
        OrderLine,
        line_id=st.just(""),
        sku=SKUS,
        category=CATEGORIES,
        quantity=st.integers(1, 5),
        amount_minor=AMOUNTS,
        kind=st.sampled_from(LineKind),
    ),
    max_size=12,
).map(tuple)


@st.composite
def program_settings(draw: st.DrawFn) -> ProgramSettings:
    targets = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("sku"), SKUS),
                st.tuples(st.just("category"), CATEGORIES.filter(bool)),
            ),
            unique=True,
            max_size=5,
        )
    )
    multipliers = tuple(
        EarnMultiplier(
            f"m{index}",
            draw(PERCENTS),
            **{field_name: value},
        )
        for index, (field_name, value) in enumerate(targets)
    )
    exclusions = tuple(
        draw(
            st.lists(
                st.one_of(
                    st.builds(EarnExclusion, st.just(""), line_kind=st.sampled_from(LineKind)),
                    st.builds(EarnExclusion, st.just(""), sku=SKUS),
                    st.builds(EarnExclusion, st.just(""), category=CATEGORIES.filter(bool)),
                ),
                max_size=3,
            )
        )
    )
    exclusions = tuple(
        EarnExclusion(f"x{index}", item.line_kind, item.sku, item.category)
        for index, item in enumerate(exclusions)
    )
    minimums = draw(
        st.lists(st.builds(MinimumOrder, st.just("USD"), st.integers(1, 20_000)), max_size=1)
    )
    return ProgramSettings(
        multipliers=multipliers,
        exclusions=exclusions,
        minimum_order_amounts=tuple(minimums),
        points_rounding=draw(st.sampled_from(PointsRounding)),
        earn_on_gift_cards=draw(st.booleans()),
    )


@settings(max_examples=500, deadline=None)
@given(
    settings_=program_settings(),
    rate=st.builds(EarnRate, st.just("USD"), SMALL_OR_ANY, SMALL_OR_ANY),
    exponent=st.integers(0, 4),
    lines=LINES,
    amount_without_lines=AMOUNTS,
)
def test_integer_arithmetic_earns_what_fractions_earn(
    settings_: ProgramSettings,
    rate: EarnRate,
    exponent: int,
    lines: tuple[OrderLine, ...],
    amount_without_lines: int,
) -> None:
    amount = sum(line.amount_minor for line in lines) if lines else amount_without_lines
    arguments = (settings_, rate, "USD", exponent, amount, lines)

    assert purchase_earning(*arguments) == fraction_earning(*arguments)
