"""Which events are a member's own activity, for inactivity expiry.

One function over event types: a feature that adds an event a member's doing produces (an
action, a reward redeemed) adds its case here, and a QualifyingActivity for it if it is a
new kind of doing, so a program can name it.
"""

from ledger.domain.events import (
    ActionRecorded,
    Event,
    PointsEarned,
    PointsRedeemed,
    PointsTransferredOut,
    PurchaseRecorded,
    ReservationCommitted,
    RewardRedeemed,
)
from ledger.domain.settings import QualifyingActivity


def activity_of(event: Event) -> QualifyingActivity | None:
    """The kind of activity `event` records, or None when it is not the member's doing (a
    refund, a manual adjustment, points received, the ledger's own housekeeping)."""
    match event:
        case PurchaseRecorded():
            return QualifyingActivity.PURCHASE
        case PointsEarned():
            return QualifyingActivity.EARN
        case PointsRedeemed():
            return QualifyingActivity.REDEMPTION
        case ReservationCommitted():
            return QualifyingActivity.REDEMPTION if event.points_redeemed else None
        case RewardRedeemed():
            return QualifyingActivity.REDEMPTION
        case PointsTransferredOut():
            return QualifyingActivity.TRANSFER
        case ActionRecorded():
            return QualifyingActivity.ACTION
    return None
