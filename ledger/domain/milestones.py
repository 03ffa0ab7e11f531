"""Milestones: a bonus the first time a member's purchases reach the Nth order or a lifetime
spend, and what a refund of the order that reached one does to it.

Progress counts purchases as recorded (gross: a refund does not lower it), so what a
milestone is reached by never depends on refunds made since. Each milestone is reached once
per member: when the order that reached it is refunded in full, the program's
milestone_refund_policy claws the bonus back (as the negative-balance policy lets a refund
take points) or lets the member keep it; either way it is not reached again. A milestone
added to a program when a member is past it is reached by that member's next purchase.
"""

from datetime import datetime

from ledger.domain import lots as lot_math
from ledger.domain.account import AccountState, evolve
from ledger.domain.earned_expiry import expiry_of_points_earned
from ledger.domain.events import Lots, MilestoneClawedBack, MilestoneReached, PurchaseRecorded
from ledger.domain.milestone_settings import Milestone, MilestoneRefundPolicy
from ledger.domain.orders import Order
from ledger.domain.program import ProgramState
from ledger.domain.settings import NegativeBalancePolicy


def reached_by_purchase(
    after: AccountState, program: ProgramState, recorded: PurchaseRecorded, now: datetime
) -> list[MilestoneReached]:
    """The milestones `recorded` took the member to; `after` has the purchase folded in."""
    return [
        MilestoneReached(
            milestone_id=milestone.milestone_id,
            order_id=recorded.order_id,
            points=milestone.points,
            expires_on=expiry_of_points_earned(program, now),
            program_revision=program.revision,
        )
        for milestone in program.settings.milestones
        if milestone.milestone_id not in after.milestones_reached and _reached(after, milestone)
    ]


def _reached(state: AccountState, milestone: Milestone) -> bool:
    if milestone.order_count:
        return state.orders_recorded >= milestone.order_count
    spent = state.spend_minor.get(milestone.spend_currency_code, 0)
    return spent >= milestone.spend_amount_minor


def clawed_back_by_refund(
    after: AccountState,
    program: ProgramState,
    order_id: str,
    order: Order,
    refunded_minor: int,
) -> list[MilestoneClawedBack]:
    """What a refund of `refunded_minor` more of `order` takes back of the milestones the
    order reached; `after` has the refund's own event folded in."""
    settings = program.settings
    if settings.milestone_refund_policy is not MilestoneRefundPolicy.CLAW_BACK:
        return []
    if order.refunded_minor + refunded_minor < order.amount_minor:
        return []  # a partial refund leaves the order, and its milestones, standing
    policy = settings.negative_balance_policy
    clawbacks = []
    for milestone_id, points in order.milestone_bonuses:
        taken: Lots = ()
        if policy is not NegativeBalancePolicy.PENDING_ONLY:
            taken = lot_math.take(after.lots, min(points, max(after.balances.available, 0)))
        rest = points - lot_math.total(taken)
        negative = rest if policy is NegativeBalancePolicy.ALLOW_NEGATIVE else 0
        clawback = MilestoneClawedBack(
            milestone_id=milestone_id,
            order_id=order_id,
            points_clawed_back=points - rest + negative,
            taken=taken,
            negative_points=negative,
            points_not_recovered=rest - negative,
        )
        clawbacks.append(clawback)
        after = evolve(after, clawback)
    return clawbacks
