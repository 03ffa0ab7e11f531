"""Proto <-> ledger values of purchase earning rules: order lines, multipliers, exclusions,
minimum order amounts, rounding, and the rules a purchase applied."""

from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from ledger.currency import minor_unit_exponent, to_minor_units
from ledger.domain import commands as cmd
from ledger.domain.errors import InvalidArgument, Violations
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
from loyalty.v1 import ledger_pb2 as pb

_LINE_KIND_FROM_PROTO = {
    pb.ORDER_LINE_KIND_GOODS: LineKind.GOODS,
    pb.ORDER_LINE_KIND_SHIPPING: LineKind.SHIPPING,
    pb.ORDER_LINE_KIND_TAX: LineKind.TAX,
    pb.ORDER_LINE_KIND_GIFT_CARD: LineKind.GIFT_CARD,
}
_LINE_KIND_TO_PROTO = {kind: number for number, kind in _LINE_KIND_FROM_PROTO.items()}
_ROUNDING_FROM_PROTO = {
    pb.POINTS_ROUNDING_UNSPECIFIED: PointsRounding.DOWN,
    pb.POINTS_ROUNDING_DOWN: PointsRounding.DOWN,
    pb.POINTS_ROUNDING_NEAREST: PointsRounding.NEAREST,
    pb.POINTS_ROUNDING_UP: PointsRounding.UP,
}
_ROUNDING_TO_PROTO = {
    PointsRounding.DOWN: pb.POINTS_ROUNDING_DOWN,
    PointsRounding.NEAREST: pb.POINTS_ROUNDING_NEAREST,
    PointsRounding.UP: pb.POINTS_ROUNDING_UP,
}
_RULE_KIND_TO_PROTO = {
    RuleKind.EARN_RATE: pb.AppliedRule.KIND_EARN_RATE,
    RuleKind.MULTIPLIER: pb.AppliedRule.KIND_MULTIPLIER,
    RuleKind.EXCLUSION: pb.AppliedRule.KIND_EXCLUSION,
    RuleKind.MINIMUM_ORDER: pb.AppliedRule.KIND_MINIMUM_ORDER,
    RuleKind.TIER_MULTIPLIER: pb.AppliedRule.KIND_TIER_MULTIPLIER,
}


@dataclass(frozen=True)
class EarningSettings:
    """The earning-rule fields of a Program message, parsed."""

    multipliers: tuple[EarnMultiplier, ...]
    exclusions: tuple[EarnExclusion, ...]
    minimum_order_amounts: tuple[MinimumOrder, ...]
    points_rounding: PointsRounding
    earn_on_gift_cards: bool


def earning_settings(message: pb.Program, prefix: str, violations: Violations) -> EarningSettings:
    """What the proto alone can tell is wrong goes to `violations` (an unknown currency or
    enum value); the rest is checked by the settings' own validate."""
    exclusions = []
    for index, exclusion in enumerate(message.exclusions):
        kind = None
        if exclusion.line_kind != pb.ORDER_LINE_KIND_UNSPECIFIED:
            kind = _LINE_KIND_FROM_PROTO.get(exclusion.line_kind)
            if kind is None:
                violations.add(f"{prefix}.exclusions[{index}].line_kind", "is not a known kind")
        exclusions.append(EarnExclusion(exclusion.rule_id, kind, exclusion.sku, exclusion.category))
    minimums = []
    for index, money in enumerate(message.minimum_order_amounts):
        minor = _minor_units(money, f"{prefix}.minimum_order_amounts[{index}]", violations)
        if minor is not None:
            minimums.append(MinimumOrder(money.currency_code, minor))
    rounding = _ROUNDING_FROM_PROTO.get(message.points_rounding)
    if rounding is None:
        violations.add(f"{prefix}.points_rounding", "is not a known rounding")
    return EarningSettings(
        multipliers=tuple(
            EarnMultiplier(item.rule_id, item.percent, item.sku, item.category)
            for item in message.multipliers
        ),
        exclusions=tuple(exclusions),
        minimum_order_amounts=tuple(minimums),
        points_rounding=rounding or PointsRounding.DOWN,
        earn_on_gift_cards=message.earn_on_gift_cards,
    )


def _minor_units(money: pb.Money, where: str, violations: Violations) -> int | None:
    if minor_unit_exponent(money.currency_code) is None:
        violations.add(
            f"{where}.currency_code",
            f"{money.currency_code!r} is not an ISO 4217 currency with minor units",
        )
        return None
    try:
        minor, _ = to_minor_units(money.units, money.nanos, money.currency_code, where)
    except InvalidArgument as error:
        violations.items.extend(error.violations)
        return None
    return minor


def fill_program(message: pb.Program, settings: EarningSettings) -> None:
    for multiplier in settings.multipliers:
        message.multipliers.add(
            rule_id=multiplier.rule_id,
            percent=multiplier.percent,
            sku=multiplier.sku,
            category=multiplier.category,
        )
    for exclusion in settings.exclusions:
        message.exclusions.add(
            rule_id=exclusion.rule_id,
            line_kind=_LINE_KIND_TO_PROTO[exclusion.line_kind] if exclusion.line_kind else 0,
            sku=exclusion.sku,
            category=exclusion.category,
        )
    for minimum in settings.minimum_order_amounts:
        exponent = minor_unit_exponent(minimum.currency_code) or 0
        units, rest = divmod(minimum.amount_minor, 10**exponent)
        message.minimum_order_amounts.add(
            currency_code=minimum.currency_code,
            units=units,
            nanos=rest * 10 ** (9 - exponent),
        )
    message.points_rounding = _ROUNDING_TO_PROTO[settings.points_rounding]
    message.earn_on_gift_cards = settings.earn_on_gift_cards


def purchase(request: pb.RecordPurchaseRequest, found: Violations) -> cmd.RecordPurchase:
    """The RecordPurchase command of a request. What only the proto can tell is wrong (the
    currency and decimals of the amount and of each line, a line's kind) is added to `found`;
    the command's own checks name the rest with it."""
    amount = request.amount
    readable = Violations()
    minor, exponent = to_minor_units(
        amount.units, amount.nanos, amount.currency_code, "amount", readable
    )
    found.items.extend(readable.items)
    lines = order_lines(request.lines, amount.currency_code, found)
    if readable.items:
        # A stand-in the lines add up to: an unreadable amount is no fault of theirs.
        minor = sum(line.amount_minor for line in lines) or 1
    return cmd.RecordPurchase(request.order_id, minor, amount.currency_code, exponent, lines)


def order_lines(
    lines: Iterable[pb.OrderLine], currency_code: str, found: Violations
) -> tuple[OrderLine, ...]:
    """The request's lines, in the order's currency. What only the proto can tell is wrong
    (currency, decimals, kind) is added to `found`; a line's unreadable amount reads as 0."""
    parsed = []
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        minor = None
        if line.amount.currency_code != currency_code:
            found.add(
                f"{where}.amount.currency_code", f"must be the amount's currency, {currency_code}"
            )
        else:
            minor = _minor_units(line.amount, f"{where}.amount", found)
        kind = _LINE_KIND_FROM_PROTO.get(line.kind)
        if kind is None:
            found.add(f"{where}.kind", "is required: goods, shipping, tax or gift card")
        parsed.append(
            OrderLine(
                line.line_id,
                line.sku,
                line.category,
                line.quantity,
                minor or 0,
                kind or LineKind.GOODS,
            )
        )
    return tuple(parsed)


def add_applied_rules(
    into: RepeatedCompositeFieldContainer[pb.AppliedRule], rules: Iterable[RuleApplication]
) -> None:
    """Added in place: messages built apart and passed to the answer's constructor are each
    copied into it once more."""
    for rule in rules:
        into.add(
            rule_id=rule.rule_id,
            kind=_RULE_KIND_TO_PROTO[rule.kind],
            points=rule.points,
            line_indexes=rule.line_indexes,
        )
