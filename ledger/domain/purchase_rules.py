"""The earning rules of a purchase with order lines: what a program states (multipliers,
exclusions, minimum order amounts, rounding), what a purchase's lines carry, and what each
rule gave (recorded in PurchaseRecorded, answered by RecordPurchase).

Values only, and their state-independent checks; the arithmetic is in earning.py.
"""

from dataclasses import dataclass
from enum import Enum

from ledger.domain import limits
from ledger.domain.errors import Violations
from ledger.domain.patterns import CODE_PATTERN, CURRENCY_PATTERN, EXTERNAL_ID_PATTERN


class LineKind(Enum):
    """What an order line sells: only goods earn unless the program says otherwise."""

    GOODS = "goods"
    SHIPPING = "shipping"
    TAX = "tax"
    GIFT_CARD = "gift_card"


class PointsRounding(Enum):
    """How an order's exact (rational) points become whole points, once per order."""

    DOWN = "down"
    NEAREST = "nearest"
    """Halves go up: 2.5 points are 3."""
    UP = "up"


class RuleKind(Enum):
    EARN_RATE = "earn_rate"
    MULTIPLIER = "multiplier"
    EXCLUSION = "exclusion"
    MINIMUM_ORDER = "minimum_order"
    TIER_MULTIPLIER = "tier_multiplier"
    """The member's tier's earn multiplier, on the points of every other rule together."""


@dataclass(frozen=True)
class EarnMultiplier:
    """Lines of `sku`, or else of `category` (exactly one is set), earn `percent` / 100
    times the program's rate. The most specific multiplier of a line wins (SKU over
    category); they never stack, so two promotions cannot multiply by surprise. A tier
    multiplier applies on top of the order's points, as a factor of its own (tiers.py)."""

    rule_id: str
    percent: int
    sku: str = ""
    category: str = ""


@dataclass(frozen=True)
class EarnExclusion:
    """Lines matching this earn nothing: set exactly one of `line_kind`, `sku`, `category`."""

    rule_id: str
    line_kind: LineKind | None = None
    sku: str = ""
    category: str = ""


@dataclass(frozen=True)
class MinimumOrder:
    """Orders in `currency_code` whose earning amount (after exclusions) is below
    `amount_minor` earn nothing."""

    currency_code: str
    amount_minor: int


@dataclass(frozen=True)
class OrderLine:
    """One line of an order; `amount_minor` is what the member paid for it (after discounts),
    in the order's currency."""

    line_id: str
    sku: str
    category: str
    quantity: int
    amount_minor: int
    kind: LineKind

    @property
    def reference(self) -> str:
        return self.line_id or self.sku


@dataclass(frozen=True)
class RuleApplication:
    """What one rule did to one purchase: `points` it gave (a multiplier's are the points
    beyond the base rate, negative below 100%), on the lines at `line_indexes` (positions in
    the request's lines; empty for a purchase without lines)."""

    rule_id: str
    kind: RuleKind
    points: int
    line_indexes: tuple[int, ...] = ()


GIFT_CARD_RULE_ID = "exclusion:gift_cards"
"""Built-in ids hold a ':' so they never meet a brand's (CODE_PATTERN has none)."""


def earn_rate_rule_id(currency_code: str) -> str:
    return f"earn_rate:{currency_code}"


def minimum_order_rule_id(currency_code: str) -> str:
    return f"minimum_order:{currency_code}"


# --- checks -----------------------------------------------------------------------------------


def validate_rules(
    violations: Violations,
    prefix: str,
    multipliers: tuple[EarnMultiplier, ...],
    exclusions: tuple[EarnExclusion, ...],
    minimums: tuple[MinimumOrder, ...],
) -> None:
    rule_ids: set[str] = set()
    _validate_multipliers(violations, f"{prefix}.multipliers", multipliers, rule_ids)
    _validate_exclusions(violations, f"{prefix}.exclusions", exclusions, rule_ids)
    where = f"{prefix}.minimum_order_amounts"
    if len(minimums) > limits.MAX_EARN_RATES:
        violations.add(where, f"at most {limits.MAX_EARN_RATES} minimums")
    currencies: set[str] = set()
    for index, minimum in enumerate(minimums):
        if not CURRENCY_PATTERN.fullmatch(minimum.currency_code):
            violations.add(f"{where}[{index}].currency_code", "must be an ISO 4217 code")
        elif minimum.currency_code in currencies:
            violations.add(f"{where}[{index}].currency_code", "one minimum per currency")
        currencies.add(minimum.currency_code)
        if not 1 <= minimum.amount_minor <= limits.MAX_AMOUNT_MINOR_UNITS:
            violations.add(f"{where}[{index}]", "must be more than 0")


def _check_rule_id(violations: Violations, where: str, rule_id: str, seen: set[str]) -> None:
    if not CODE_PATTERN.fullmatch(rule_id):
        violations.add(f"{where}.rule_id", f"must match {CODE_PATTERN.pattern}")
    elif rule_id in seen:
        violations.add(f"{where}.rule_id", "is used by another rule of the program")
    seen.add(rule_id)


def _check_match(violations: Violations, where: str, field_name: str, value: str) -> None:
    if value and not EXTERNAL_ID_PATTERN.fullmatch(value):
        violations.add(f"{where}.{field_name}", f"must match {EXTERNAL_ID_PATTERN.pattern}")


def _validate_multipliers(
    violations: Violations, prefix: str, multipliers: tuple[EarnMultiplier, ...], seen: set[str]
) -> None:
    if len(multipliers) > limits.MAX_EARN_RULES:
        violations.add(prefix, f"at most {limits.MAX_EARN_RULES} multipliers")
    targets: set[tuple[str, str]] = set()
    for index, multiplier in enumerate(multipliers):
        where = f"{prefix}[{index}]"
        _check_rule_id(violations, where, multiplier.rule_id, seen)
        if not 1 <= multiplier.percent <= limits.MAX_MULTIPLIER_PERCENT:
            violations.add(f"{where}.percent", f"must be 1 to {limits.MAX_MULTIPLIER_PERCENT}")
        if bool(multiplier.sku) == bool(multiplier.category):
            violations.add(where, "must name exactly one of sku and category")
            continue
        _check_match(violations, where, "sku", multiplier.sku)
        _check_match(violations, where, "category", multiplier.category)
        target = ("sku", multiplier.sku) if multiplier.sku else ("category", multiplier.category)
        if target in targets:
            violations.add(f"{where}.{target[0]}", f"another multiplier names {target[1]!r}")
        targets.add(target)


def _validate_exclusions(
    violations: Violations, prefix: str, exclusions: tuple[EarnExclusion, ...], seen: set[str]
) -> None:
    if len(exclusions) > limits.MAX_EARN_RULES:
        violations.add(prefix, f"at most {limits.MAX_EARN_RULES} exclusions")
    for index, exclusion in enumerate(exclusions):
        where = f"{prefix}[{index}]"
        _check_rule_id(violations, where, exclusion.rule_id, seen)
        named = (exclusion.line_kind is not None) + bool(exclusion.sku) + bool(exclusion.category)
        if named != 1:
            violations.add(where, "must name exactly one of line_kind, sku and category")
            continue
        _check_match(violations, where, "sku", exclusion.sku)
        _check_match(violations, where, "category", exclusion.category)


def validate_lines(violations: Violations, lines: tuple[OrderLine, ...], amount_minor: int) -> None:
    if not lines:
        return
    if len(lines) > limits.MAX_ORDER_LINES:
        violations.add("lines", f"at most {limits.MAX_ORDER_LINES} lines", reason="TOO_MANY_VALUES")
        return
    for index, line in enumerate(lines):
        # Runs twice for every purchase (before batching, and in decide): a valid line's ids
        # cost no field name and no call; a bad one's are named by _name_bad_ids.
        line_id, sku, category = line.line_id, line.sku, line.category
        if not (
            (line_id or sku)
            and (not line_id or EXTERNAL_ID_PATTERN.fullmatch(line_id))
            and (not sku or EXTERNAL_ID_PATTERN.fullmatch(sku))
            and (not category or EXTERNAL_ID_PATTERN.fullmatch(category))
        ):
            _name_bad_ids(violations, f"lines[{index}]", line)
        if not 1 <= line.quantity <= limits.MAX_LINE_QUANTITY:
            violations.add(f"lines[{index}].quantity", f"must be 1 to {limits.MAX_LINE_QUANTITY:,}")
        if not 0 <= line.amount_minor <= limits.MAX_AMOUNT_MINOR_UNITS:
            violations.add(
                f"lines[{index}].amount", "must not be negative (send amounts after discounts)"
            )
    total = sum(line.amount_minor for line in lines)
    if total != amount_minor:
        violations.add(
            "lines",
            f"add up to {total} minor units, the amount is {amount_minor}",
            reason="ORDER_LINE_INVALID",
        )


def _name_bad_ids(violations: Violations, where: str, line: OrderLine) -> None:
    if not line.line_id and not line.sku:
        violations.add(f"{where}.line_id", "a line needs a line_id or a sku")
    _check_match(violations, where, "line_id", line.line_id)
    _check_match(violations, where, "sku", line.sku)
    _check_match(violations, where, "category", line.category)
