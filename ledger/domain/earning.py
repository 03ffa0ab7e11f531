"""The points of a purchase, rule by rule, on exact rational arithmetic (never float).

1. Each line is excluded by the first of the program's exclusions it matches (then by the
   built-in gift card exclusion, unless the program earns on gift cards); the rest earn.
2. Below the program's minimum for the currency (compared with the earning amount, after
   exclusions, so shipping and tax cannot lift an order over it) the order earns nothing.
3. Earning lines earn amount x rate (the earn_rate rule); a line's multiplier (its SKU's,
   or else its category's) adds (percent - 100)% of that (the multiplier rule).
4. The order's exact total is rounded once, as the program says. Each rule's points are its
   share of the rounded total: the rounded running sum minus the rounded sum before it, so
   the rules always add up to the order's points and no rule rounds on its own.

A purchase without lines earns amount x rate under the earn_rate rule alone, as before lines.

The exact points are integers over one denominator per order (_Exact): the same rationals
fractions.Fraction would hold, without building and reducing a Fraction per step
(tests/property/test_earning_arithmetic.py holds the Fraction version and proves the two
equal).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from ledger.domain.purchase_rules import (
    GIFT_CARD_RULE_ID,
    EarnExclusion,
    EarnMultiplier,
    LineKind,
    OrderLine,
    PointsRounding,
    RuleApplication,
    RuleKind,
    earn_rate_rule_id,
    minimum_order_rule_id,
)
from ledger.domain.settings import EarnRate, ProgramSettings

PERCENT = 100


@dataclass(frozen=True)
class Earning:
    points: int
    rules: tuple[RuleApplication, ...]


@dataclass(frozen=True)
class _Part:
    rule_id: str
    kind: RuleKind
    exact: int
    """The rule's exact points in units of the order's denominator (see _Exact)."""
    line_indexes: tuple[int, ...]


def purchase_earning(
    settings: ProgramSettings,
    rate: EarnRate,
    currency_code: str,
    currency_exponent: int,
    amount_minor: int,
    lines: tuple[OrderLine, ...],
) -> Earning:
    exact = _Exact(rate.points, PERCENT * rate.per_major_units * 10**currency_exponent)
    base_rule = earn_rate_rule_id(currency_code)
    if not lines:
        parts = [_Part(base_rule, RuleKind.EARN_RATE, exact.of(amount_minor), ())]
        excluded: list[RuleApplication] = []
        earning_amount = amount_minor
    else:
        excluded, earning = _split_excluded(settings, lines)
        earning_amount = sum(lines[index].amount_minor for index in earning)
        parts = _parts(settings, lines, earning, exact, base_rule) if earning else []
    minimum = settings.minimum_for(currency_code)
    if minimum is not None and earning_amount < minimum.amount_minor:
        below = RuleApplication(
            minimum_order_rule_id(currency_code),
            RuleKind.MINIMUM_ORDER,
            0,
            tuple(index for part in parts[:1] for index in part.line_indexes),
        )
        return Earning(0, (below, *excluded))
    applied = _rounded(parts, exact.denominator, settings.points_rounding)
    return Earning(sum(rule.points for rule in applied), (*applied, *excluded))


@dataclass(frozen=True)
class _Exact:
    """Points per minor unit as `points` / `denominator`, the denominator holding PERCENT so
    that a multiplier's share of a line stays a whole number of units."""

    points: int
    denominator: int

    def of(self, amount_minor: int, percent: int = PERCENT) -> int:
        """The exact points of `percent`% of `amount_minor`, in units of the denominator."""
        return amount_minor * percent * self.points


def _split_excluded(
    settings: ProgramSettings, lines: tuple[OrderLine, ...]
) -> tuple[list[RuleApplication], list[int]]:
    """The exclusions that matched a line (with their lines, in the program's order) and the
    indexes of the lines that earn."""
    by_rule: dict[str, list[int]] = {}
    earning: list[int] = []
    for index, line in enumerate(lines):
        rule_id = _exclusion_of(settings, line)
        if rule_id is None:
            earning.append(index)
        else:
            by_rule.setdefault(rule_id, []).append(index)
    order = [exclusion.rule_id for exclusion in settings.exclusions] + [GIFT_CARD_RULE_ID]
    excluded = [
        RuleApplication(rule_id, RuleKind.EXCLUSION, 0, tuple(by_rule[rule_id]))
        for rule_id in order
        if rule_id in by_rule
    ]
    return excluded, earning


def _exclusion_of(settings: ProgramSettings, line: OrderLine) -> str | None:
    for exclusion in settings.exclusions:
        if _excludes(exclusion, line):
            return exclusion.rule_id
    if line.kind is LineKind.GIFT_CARD and not settings.earn_on_gift_cards:
        return GIFT_CARD_RULE_ID
    return None


def _excludes(exclusion: EarnExclusion, line: OrderLine) -> bool:
    if exclusion.line_kind is not None:
        return line.kind is exclusion.line_kind
    if exclusion.sku:
        return line.sku == exclusion.sku
    return line.category == exclusion.category


def _multiplier_of(settings: ProgramSettings, line: OrderLine) -> EarnMultiplier | None:
    """The most specific multiplier of the line: its SKU's, else its category's. The place
    where a tier multiplier will join, as a factor on top of this one."""
    by_category = None
    for multiplier in settings.multipliers:
        if multiplier.sku:
            if multiplier.sku == line.sku:
                return multiplier
        elif by_category is None and line.category and multiplier.category == line.category:
            by_category = multiplier
    return by_category


def _parts(
    settings: ProgramSettings,
    lines: tuple[OrderLine, ...],
    earning: list[int],
    exact: _Exact,
    base_rule: str,
) -> list[_Part]:
    base_amount = sum(lines[index].amount_minor for index in earning)
    parts = [_Part(base_rule, RuleKind.EARN_RATE, exact.of(base_amount), tuple(earning))]
    if not settings.multipliers:
        return parts
    multiplied: dict[str, list[int]] = {}
    for index in earning:
        multiplier = _multiplier_of(settings, lines[index])
        if multiplier is not None:
            multiplied.setdefault(multiplier.rule_id, []).append(index)
    for multiplier in settings.multipliers:
        indexes = multiplied.get(multiplier.rule_id)
        if indexes:
            amount = sum(lines[index].amount_minor for index in indexes)
            extra = exact.of(amount, multiplier.percent - PERCENT)
            parts.append(_Part(multiplier.rule_id, RuleKind.MULTIPLIER, extra, tuple(indexes)))
    return parts


def _rounded(
    parts: Iterable[_Part], denominator: int, rounding: PointsRounding
) -> list[RuleApplication]:
    applied = []
    running = 0
    points_before = 0
    for part in parts:
        running += part.exact
        points_so_far = round_points(running, denominator, rounding)
        applied.append(
            RuleApplication(
                part.rule_id, part.kind, points_so_far - points_before, part.line_indexes
            )
        )
        points_before = points_so_far
    return applied


def round_points(numerator: int, denominator: int, rounding: PointsRounding) -> int:
    """numerator / denominator (denominator > 0) as whole points; the quotient alone decides,
    so the fraction need not be reduced."""
    match rounding:
        case PointsRounding.DOWN:
            return numerator // denominator
        case PointsRounding.UP:
            return -(-numerator // denominator)
        case PointsRounding.NEAREST:
            # Halves up (2.5 -> 3), not Python's round() to even: what a member expects.
            return (2 * numerator + denominator) // (2 * denominator)
    raise AssertionError(rounding)
