"""Proto messages <-> the rewards catalogue, point values and redeemed rewards."""

from ledger.currency import NANOS_PER_UNIT, minor_unit_exponent, to_minor_units
from ledger.domain.catalogue import Benefit, BenefitKind, PointValue, Reward
from ledger.domain.errors import InvalidArgument, Violations
from ledger.domain.results import RewardResult
from loyalty.v1 import ledger_pb2 as pb

MAX_NANOS = NANOS_PER_UNIT - 1


def catalogue(
    message: pb.Program, prefix: str, violations: Violations
) -> tuple[tuple[Reward, ...], tuple[PointValue, ...]]:
    """The program's rewards and point values; what only the service can check (ISO 4217
    codes, a benefit chosen) goes to `violations`, the rest the domain checks."""
    rewards = tuple(
        _reward(item, f"{prefix}.rewards[{index}]", violations)
        for index, item in enumerate(message.rewards)
    )
    values = tuple(
        _point_value(item, f"{prefix}.point_values[{index}]", violations)
        for index, item in enumerate(message.point_values)
    )
    return rewards, values


def _reward(message: pb.Reward, where: str, violations: Violations) -> Reward:
    return Reward(
        reward_id=message.reward_id,
        display_name=message.display_name,
        points_cost=message.points_cost,
        benefit=_benefit(message, where, violations),
        limit_per_member=message.limit_per_member,
        stock=message.stock if message.HasField("stock") else None,
    )


def _benefit(message: pb.Reward, where: str, violations: Violations) -> Benefit:
    match message.WhichOneof("benefit"):
        case "amount_off":
            amount = message.amount_off
            try:
                minor, _ = to_minor_units(
                    amount.units, amount.nanos, amount.currency_code, f"{where}.amount_off"
                )
            except InvalidArgument as error:
                violations.items.extend(error.violations)
                minor = 1  # named already: the domain is not to name the amount again
            return Benefit(
                BenefitKind.AMOUNT_OFF, amount_minor=minor, currency_code=amount.currency_code
            )
        case "percent_off":
            return Benefit(BenefitKind.PERCENT_OFF, percent=message.percent_off)
        case "free_product_sku":
            return Benefit(BenefitKind.FREE_PRODUCT, sku=message.free_product_sku)
        case "free_shipping":
            if not message.free_shipping:
                violations.add(f"{where}.free_shipping", "must be true when set")
            return Benefit(BenefitKind.FREE_SHIPPING)
    violations.add(
        f"{where}.benefit", "set one of amount_off, percent_off, free_product_sku, free_shipping"
    )
    return Benefit(BenefitKind.FREE_SHIPPING)


def _point_value(message: pb.PointValue, where: str, violations: Violations) -> PointValue:
    value = message.value
    if minor_unit_exponent(value.currency_code) is None:
        violations.add(
            f"{where}.value.currency_code",
            f"{value.currency_code!r} is not an ISO 4217 currency with minor units",
        )
    if not 0 <= value.nanos <= MAX_NANOS or value.units < 0:
        violations.add(f"{where}.value", "must be positive, nanos 0 to 999,999,999")
        return PointValue(value.currency_code, 1)
    return PointValue(value.currency_code, value.units * NANOS_PER_UNIT + value.nanos)


def reward_message(reward: Reward) -> pb.Reward:
    message = pb.Reward(
        reward_id=reward.reward_id,
        display_name=reward.display_name,
        points_cost=reward.points_cost,
        limit_per_member=reward.limit_per_member,
    )
    _set_benefit(
        message,
        reward.benefit.kind.value,
        reward.benefit.amount_minor,
        reward.benefit.currency_code,
        reward.benefit.percent,
        reward.benefit.sku,
    )
    if reward.stock is not None:
        message.stock = reward.stock
    return message


def point_value_message(value: PointValue) -> pb.PointValue:
    units, nanos = divmod(value.nanos_per_point, NANOS_PER_UNIT)
    return pb.PointValue(
        value=pb.Money(currency_code=value.currency_code, units=units, nanos=nanos)
    )


def redeemed_reward(result: RewardResult) -> pb.RedeemedReward:
    reward = pb.Reward(
        reward_id=result.reward_id, display_name=result.display_name, points_cost=result.points
    )
    _set_benefit(
        reward,
        result.benefit_kind,
        result.amount_minor,
        result.currency_code,
        result.percent,
        result.sku,
    )
    return pb.RedeemedReward(
        redemption_code=result.redemption_code,
        reward=reward,
        points=result.points,
        program_revision=result.program_revision,
    )


def _set_benefit(
    message: pb.Reward, kind: str, amount_minor: int, currency_code: str, percent: int, sku: str
) -> None:
    match BenefitKind(kind):
        case BenefitKind.AMOUNT_OFF:
            exponent = minor_unit_exponent(currency_code) or 0
            units, rest = divmod(amount_minor, 10**exponent)
            message.amount_off.CopyFrom(
                pb.Money(
                    currency_code=currency_code,
                    units=units,
                    nanos=rest * (NANOS_PER_UNIT // 10**exponent),
                )
            )
        case BenefitKind.PERCENT_OFF:
            message.percent_off = percent
        case BenefitKind.FREE_PRODUCT:
            message.free_product_sku = sku
        case BenefitKind.FREE_SHIPPING:
            message.free_shipping = True
