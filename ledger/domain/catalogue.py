"""A program's rewards catalogue and the money value of its points: program settings.

A reward turns points into something a storefront or POS applies (an amount or a percentage
off, a free product, free shipping). Its stock, when limited, is shared by every member, so
what is left of it lives in a stream of its own (ledger/domain/rewards.py); the setting only
says how many units the program offers in all.
"""

import unicodedata
from dataclasses import dataclass
from enum import Enum

from ledger.domain import limits
from ledger.domain.errors import Violations
from ledger.domain.patterns import CURRENCY_PATTERN, EXTERNAL_ID_PATTERN

NANOS_PER_UNIT = 1_000_000_000
MAX_PERCENT = 100


class BenefitKind(Enum):
    """What redeeming a reward gives the member."""

    AMOUNT_OFF = "amount_off"
    PERCENT_OFF = "percent_off"
    FREE_PRODUCT = "free_product"
    FREE_SHIPPING = "free_shipping"


@dataclass(frozen=True)
class Benefit:
    """The fields its `kind` uses are set, the others left at their zero values."""

    kind: BenefitKind
    amount_minor: int = 0
    """AMOUNT_OFF: the amount in minor units of `currency_code`."""
    currency_code: str = ""
    percent: int = 0
    """PERCENT_OFF: 1 to 100."""
    sku: str = ""
    """FREE_PRODUCT: the storefront's product SKU."""


@dataclass(frozen=True)
class Reward:
    reward_id: str
    display_name: str
    points_cost: int
    benefit: Benefit
    limit_per_member: int = 0
    """Times one member may redeem it (open reservations count); 0: no limit."""
    stock: int | None = None
    """Units the program offers in all (raising it restocks); None: unlimited."""


@dataclass(frozen=True)
class PointValue:
    """What one point is worth in a currency, for finance's liability: in nanos (10^-9) of
    the currency's major unit, so half a cent is 5,000,000 and fractions of a cent fit."""

    currency_code: str
    nanos_per_point: int


def reward_named(rewards: tuple[Reward, ...], reward_id: str) -> Reward | None:
    for reward in rewards:
        if reward.reward_id == reward_id:
            return reward
    return None


def validate_rewards(violations: Violations, rewards: tuple[Reward, ...], prefix: str) -> None:
    if len(rewards) > limits.MAX_REWARDS:
        violations.add(f"{prefix}.rewards", f"at most {limits.MAX_REWARDS} rewards")
        return
    seen: set[str] = set()
    for index, reward in enumerate(rewards):
        where = f"{prefix}.rewards[{index}]"
        if not reward.reward_id:
            violations.add(f"{where}.reward_id", "is required")
        elif not EXTERNAL_ID_PATTERN.fullmatch(reward.reward_id):
            violations.add(f"{where}.reward_id", f"must match {EXTERNAL_ID_PATTERN.pattern}")
        elif reward.reward_id in seen:
            violations.add(f"{where}.reward_id", "another reward has this id")
        seen.add(reward.reward_id)
        _check_name(violations, f"{where}.display_name", reward.display_name)
        if not 1 <= reward.points_cost <= limits.MAX_POINTS_PER_COMMAND:
            violations.add(
                f"{where}.points_cost", f"must be 1 to {limits.MAX_POINTS_PER_COMMAND:,} points"
            )
        if not 0 <= reward.limit_per_member <= limits.MAX_REWARD_LIMIT_PER_MEMBER:
            violations.add(
                f"{where}.limit_per_member",
                f"must be 0 (no limit) to {limits.MAX_REWARD_LIMIT_PER_MEMBER}",
            )
        if reward.stock is not None and not 0 <= reward.stock <= limits.MAX_REWARD_STOCK:
            violations.add(f"{where}.stock", f"must be 0 to {limits.MAX_REWARD_STOCK:,}")
        _check_benefit(violations, where, reward.benefit)


def _check_name(violations: Violations, name: str, value: str) -> None:
    if not value:
        violations.add(name, "is required")
    elif len(value) > limits.MAX_DISPLAY_NAME_LENGTH:
        violations.add(name, f"at most {limits.MAX_DISPLAY_NAME_LENGTH} characters")
    elif any(unicodedata.category(char) == "Cc" for char in value):
        violations.add(name, "must not hold control characters")


def _check_benefit(violations: Violations, where: str, benefit: Benefit) -> None:
    match benefit.kind:
        case BenefitKind.AMOUNT_OFF:
            if not 1 <= benefit.amount_minor <= limits.MAX_AMOUNT_MINOR_UNITS:
                violations.add(f"{where}.amount_off", "must be more than 0")
            if not CURRENCY_PATTERN.fullmatch(benefit.currency_code):
                violations.add(f"{where}.amount_off.currency_code", "must be an ISO 4217 code")
        case BenefitKind.PERCENT_OFF:
            if not 1 <= benefit.percent <= MAX_PERCENT:
                violations.add(f"{where}.percent_off", f"must be 1 to {MAX_PERCENT}")
        case BenefitKind.FREE_PRODUCT:
            if not benefit.sku:
                violations.add(f"{where}.free_product_sku", "is required")
            elif not EXTERNAL_ID_PATTERN.fullmatch(benefit.sku):
                violations.add(
                    f"{where}.free_product_sku", f"must match {EXTERNAL_ID_PATTERN.pattern}"
                )
        case BenefitKind.FREE_SHIPPING:
            pass


def validate_point_values(
    violations: Violations, point_values: tuple[PointValue, ...], prefix: str
) -> None:
    if len(point_values) > limits.MAX_EARN_RATES:
        violations.add(f"{prefix}.point_values", f"at most {limits.MAX_EARN_RATES} values")
        return
    seen: set[str] = set()
    for index, value in enumerate(point_values):
        where = f"{prefix}.point_values[{index}]"
        if not CURRENCY_PATTERN.fullmatch(value.currency_code):
            violations.add(f"{where}.value.currency_code", "must be an ISO 4217 code")
        elif value.currency_code in seen:
            violations.add(f"{where}.value.currency_code", "one value per currency")
        seen.add(value.currency_code)
        if not 1 <= value.nanos_per_point <= limits.MAX_POINT_VALUE_NANOS:
            violations.add(
                f"{where}.value",
                f"must be more than 0 and at most {limits.MAX_POINT_VALUE_NANOS:,} nanos",
            )
