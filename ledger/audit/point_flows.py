"""Which figure of the finance report each account event's points go to: the one table.

The report (ledger/audit/monthly.py) measures each event's effect as the change it makes to
the account's points on the books (available + pending + held, recomputed by the replay) and
files that change under the column this table names for its event type: one column when the
points come in, one when they go out. So the figures always add up to the balances, whatever
an event's fields are called, and a new kind of event is one line here.

A new event type that moves points and is missing here is not lost: its points go to
UNCLASSIFIED (a column of its own, and `unclassified_event_types` in the report), and
tests/unit/test_point_flows.py fails until the type is given its line.

Referral credits, the friend's and the referrer's, are issued_referral; their reversals
(the qualifying order refunded) are clawed back, like a refunded purchase's points.
"""

from dataclasses import dataclass

ISSUED_PURCHASE = "issued_purchase"
ISSUED_ACTION = "issued_action"
ISSUED_MILESTONE = "issued_milestone"
ISSUED_BONUS = "issued_bonus"
ISSUED_REFERRAL = "issued_referral"
ISSUED_EARN = "issued_earn"
ISSUED_ADJUSTMENT = "issued_adjustment"
ISSUED_IMPORT = "issued_import"
REDEEMED = "redeemed"
EXPIRED = "expired"
CLAWED_BACK = "clawed_back"
ADJUSTED_DOWN = "adjusted_down"
TRANSFERRED_IN = "transferred_in"
TRANSFERRED_OUT = "transferred_out"
UNCLASSIFIED = "unclassified"

ISSUED = (
    ISSUED_PURCHASE,
    ISSUED_ACTION,
    ISSUED_MILESTONE,
    ISSUED_BONUS,
    ISSUED_REFERRAL,
    ISSUED_EARN,
    ISSUED_ADJUSTMENT,
    ISSUED_IMPORT,
)
"""Points that came into members' accounts, by kind."""
TAKEN = (REDEEMED, EXPIRED, CLAWED_BACK, ADJUSTED_DOWN)
"""Points that left them."""
MOVED = (TRANSFERRED_IN, TRANSFERRED_OUT)
"""Points that moved between accounts (within a program they cancel out)."""

FLOW_COLUMNS = (*ISSUED, *TAKEN, *MOVED, UNCLASSIFIED)
"""Every flow column, in the report's order. A flow is a count of points >= 0 except
UNCLASSIFIED, which keeps its sign."""


@dataclass(frozen=True)
class Flow:
    credit: str | None = None
    """The column an increase of the account's points goes to (None: the event never adds)."""
    debit: str | None = None
    """The column a decrease goes to (None: the event never takes)."""


NO_FLOW = Flow()
"""An event that moves no points on the books (enrolment, a hold, a release of pending)."""

FLOWS: dict[str, Flow] = {
    "PurchaseRecorded": Flow(credit=ISSUED_PURCHASE),
    "ActionRecorded": Flow(credit=ISSUED_ACTION),
    "MilestoneReached": Flow(credit=ISSUED_MILESTONE),
    "BonusGranted": Flow(credit=ISSUED_BONUS),
    # EarnPoints: points a caller gives outside a purchase (a partner, a goodwill gesture).
    "PointsEarned": Flow(credit=ISSUED_EARN),
    "PointsAdjusted": Flow(credit=ISSUED_ADJUSTMENT, debit=ADJUSTED_DOWN),
    # A negative imported entry was a redemption in the old system (the domain counts it in
    # lifetime redeemed).
    "HistoryImported": Flow(credit=ISSUED_IMPORT, debit=REDEEMED),
    "PointsRedeemed": Flow(debit=REDEEMED),
    "RewardRedeemed": Flow(debit=REDEEMED),
    # A commit takes the redeemed part off the hold; the rest goes back to available.
    "ReservationCommitted": Flow(debit=REDEEMED),
    "PointsExpired": Flow(debit=EXPIRED),
    "InactiveBalanceExpired": Flow(debit=EXPIRED),
    "PurchaseRefunded": Flow(debit=CLAWED_BACK),
    "MilestoneClawedBack": Flow(debit=CLAWED_BACK),
    "ReferralCredited": Flow(credit=ISSUED_REFERRAL),
    "ReferrerCredited": Flow(credit=ISSUED_REFERRAL),
    "ReferralReversed": Flow(debit=CLAWED_BACK),
    "ReferrerCreditReversed": Flow(debit=CLAWED_BACK),
    "PointsTransferredIn": Flow(credit=TRANSFERRED_IN),
    "PointsTransferredOut": Flow(debit=TRANSFERRED_OUT),
    "MemberEnrolled": NO_FLOW,
    "MemberForgotten": NO_FLOW,
    "FeedbackRecorded": NO_FLOW,
    "TierPeriodStarted": NO_FLOW,
    "TierChanged": NO_FLOW,
    "TierSpendRefunded": NO_FLOW,
    "ReferralApplied": NO_FLOW,
    "ReferralQualified": NO_FLOW,
    "ReferralRefused": NO_FLOW,
    "ReferralReceived": NO_FLOW,
    "ReferralStatusChanged": NO_FLOW,
    "PendingPointsReleased": NO_FLOW,
    "PointsReserved": NO_FLOW,
    "RewardReserved": NO_FLOW,
    "ReservationReleased": NO_FLOW,
    "InactivityExpiryScheduled": NO_FLOW,
}
"""Every event type an account stream holds -> where its points go."""


def column_of(event_type: str, change: int) -> str:
    """The column a change of `change` points (not 0) made by an `event_type` event goes to."""
    flow = FLOWS.get(event_type)
    column = None if flow is None else (flow.credit if change > 0 else flow.debit)
    return UNCLASSIFIED if column is None else column
