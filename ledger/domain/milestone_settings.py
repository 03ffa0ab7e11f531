"""What a program says about milestones: a bonus the first time a member reaches the Nth
order or a lifetime spend in one currency, and what a refund of the order that reached one
does to its bonus."""

from dataclasses import dataclass
from enum import Enum

from ledger.domain import limits
from ledger.domain.errors import Violations
from ledger.domain.patterns import CODE_PATTERN, CURRENCY_PATTERN


class MilestoneRefundPolicy(Enum):
    """What happens to a milestone bonus when the order that reached it is refunded in full
    (a partial refund leaves it alone: the order still counts)."""

    CLAW_BACK = "claw_back"
    """The bonus is taken back, as the negative-balance policy allows a refund to, and the
    milestone can be reached again by a later order."""
    KEEP = "keep"
    """The member keeps the bonus; the milestone stays reached."""


@dataclass(frozen=True)
class Milestone:
    milestone_id: str
    points: int
    order_count: int = 0
    """Reached by the member's Nth order (orders refunded in full do not count); 0 when the
    milestone is a lifetime spend."""
    spend_currency_code: str = ""
    spend_amount_minor: int = 0
    """Reached when the member's lifetime spend in that currency (net of refunds) comes to
    this many minor units; 0 when the milestone is an order count."""


def validate_milestones(
    milestones: tuple[Milestone, ...], violations: Violations, prefix: str
) -> None:
    if len(milestones) > limits.MAX_MILESTONES:
        violations.add(f"{prefix}.milestones", f"at most {limits.MAX_MILESTONES} milestones")
    seen: set[str] = set()
    for index, milestone in enumerate(milestones):
        where = f"{prefix}.milestones[{index}]"
        if not CODE_PATTERN.fullmatch(milestone.milestone_id):
            violations.add(f"{where}.milestone_id", f"must match {CODE_PATTERN.pattern}")
        elif milestone.milestone_id in seen:
            violations.add(f"{where}.milestone_id", "one entry per milestone id")
        seen.add(milestone.milestone_id)
        if not 1 <= milestone.points <= limits.MAX_ACTION_POINTS:
            violations.add(f"{where}.points", f"must be 1 to {limits.MAX_ACTION_POINTS:,}")
        if milestone.spend_currency_code or milestone.spend_amount_minor:
            _validate_spend(milestone, violations, where)
        elif not 1 <= milestone.order_count <= limits.MAX_MILESTONE_ORDER_COUNT:
            violations.add(
                f"{where}.order_count",
                f"must be 1 to {limits.MAX_MILESTONE_ORDER_COUNT:,} (or set lifetime_spend)",
            )


def _validate_spend(milestone: Milestone, violations: Violations, where: str) -> None:
    if milestone.order_count:
        violations.add(f"{where}.order_count", "a milestone is an order count or a spend")
    if not CURRENCY_PATTERN.fullmatch(milestone.spend_currency_code):
        violations.add(f"{where}.lifetime_spend.currency_code", "must be an ISO 4217 code")
    if not 1 <= milestone.spend_amount_minor <= limits.MAX_AMOUNT_MINOR_UNITS:
        violations.add(f"{where}.lifetime_spend", "must be more than 0")
