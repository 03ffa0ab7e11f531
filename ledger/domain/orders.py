"""An order as a refund or a confirmation sees it, folded from that order's own events.

Orders are not kept in the account's snapshot, which would then grow with every purchase a
member ever made. A command that names an order (a purchase, to refuse a second one with the
same id; a confirmation; a refund) reads that order's events from the account's stream when
it comes, and `decide` is handed the summary folded here.
"""

from dataclasses import dataclass

from ledger.domain.events import (
    Event,
    MilestoneClawedBack,
    MilestoneReached,
    PendingPointsReleased,
    PurchaseRecorded,
    PurchaseRefunded,
)
from ledger.domain.frozen import replace


@dataclass(frozen=True)
class Order:
    amount_minor: int
    currency_code: str
    points: int
    refunded_minor: int = 0
    points_clawed_back: int = 0
    points_written_off: int = 0
    """Clawback a refund could not take (spent points, per the program's policy): settled,
    so a later refund of the same order does not chase it again."""
    milestone_bonuses: tuple[tuple[str, int], ...] = ()
    """(milestone id, points) of the milestones this order reached and still holds."""


def order_id_of(event: Event) -> str | None:
    """The order an event is about, if any."""
    if isinstance(
        event,
        (
            PurchaseRecorded,
            PurchaseRefunded,
            PendingPointsReleased,
            MilestoneReached,
            MilestoneClawedBack,
        ),
    ):
        return event.order_id
    return None


def evolve_order(order: Order | None, event: Event) -> Order | None:
    """`order` after one of its events (None: no purchase recorded under its id yet)."""
    match event:
        case PurchaseRecorded():
            assert order is None, f"order {event.order_id} recorded twice"
            return Order(event.amount_minor, event.currency_code, event.points)
        case PurchaseRefunded():
            assert order is not None, f"refund of unknown order {event.order_id}"
            return replace(
                order,
                refunded_minor=order.refunded_minor + event.amount_minor,
                points_clawed_back=order.points_clawed_back + event.points_clawed_back,
                points_written_off=order.points_written_off + event.points_not_recovered,
            )
        case MilestoneReached():
            assert order is not None, f"milestone of unknown order {event.order_id}"
            bonuses = (*order.milestone_bonuses, (event.milestone_id, event.points))
            return replace(order, milestone_bonuses=bonuses)
        case MilestoneClawedBack():
            assert order is not None, f"clawback of unknown order {event.order_id}"
            bonuses = tuple(
                bonus for bonus in order.milestone_bonuses if bonus[0] != event.milestone_id
            )
            return replace(order, milestone_bonuses=bonuses)
    return order
