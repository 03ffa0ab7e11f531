"""What a decision answers its caller, beside the accounts it changed: typed, so no caller
has to know which events a command appends or read their data."""

from dataclasses import dataclass

from ledger.domain.compat import added_later
from ledger.domain.purchase_rules import RuleApplication


@dataclass(frozen=True)
class Result:
    """A command that answers nothing beyond the state it left (enroll, earn, redeem...)."""


DONE = Result()


@dataclass(frozen=True)
class PurchaseResult(Result):
    points: int
    pending: bool
    """True while the points wait for the return window (or a confirmation)."""
    rules: tuple[RuleApplication, ...] = ()
    """What each rule gave, adding up to `points` (answers stored before rules: none)."""
    program_revision: int = 0
    """The program revision whose rules computed the points (answers stored before: 0)."""
    milestone_points: int = added_later(0)
    """Bonus points of the milestones this purchase reached (milestones.py)."""
    milestone_ids: tuple[str, ...] = added_later(())


@dataclass(frozen=True)
class ConfirmResult(Result):
    points_released: int
    """Pending points of the order that became available with this command (0 when they
    already were)."""


@dataclass(frozen=True)
class RefundResult(Result):
    points_clawed_back: int
    points_not_recovered: int
    milestone_points_clawed_back: int = added_later(0)
    """Milestone bonus points taken back because this refund completed the order's refund."""
    milestone_ids_clawed_back: tuple[str, ...] = added_later(())


@dataclass(frozen=True)
class ReservationResult(Result):
    reservation_id: str
    points: int
    expires_at: str


@dataclass(frozen=True)
class CommitResult(Result):
    points_redeemed: int
    points_released: int


@dataclass(frozen=True)
class CancelResult(Result):
    points_released: int


@dataclass(frozen=True)
class ImportResult(Result):
    events_imported: int


@dataclass(frozen=True)
class RewardResult(Result):
    """A reward redeemed (RedeemReward, or CommitReservation of a reward's hold): the code
    the storefront applies and the benefit as the program stated it."""

    reward_id: str
    redemption_code: str
    points: int
    display_name: str
    benefit_kind: str
    amount_minor: int
    currency_code: str
    percent: int
    sku: str
    program_revision: int


@dataclass(frozen=True)
class ActionResult(Result):
    points: int
    """Points the action gave: 0 when capped or not rewarded."""
    outcome: str
    """rewarded, cap_reached (points may be more than 0 when a points cap left some) or
    not_rewarded (the program gives this action 0 points)."""
    capped_by: str
    """The period of the cap that limited the points (day, week, month, year, lifetime)."""
