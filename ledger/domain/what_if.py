"""A member's recorded history of a period rerun under other settings (a proposed program
revision), for finance's what-if replay (ledger/audit/what_if.py). Nothing here appends.

Each recorded command is decided again, by the domain's own `decide`, on a shadow of the
member's account that starts from the state recorded when the period began and from then on
holds only what the proposal decided: a purchase earns by the proposal's rules and tier, and
reaches the proposal's milestones; a refund claws back from the points the proposal gave the
order, under its policies; points expire at the proposal's expiry; a redemption the shadow
could not pay for is left out. What the recorded commands left behind (milestones, expiry,
tier moves, releases) is not copied: the shadow makes its own, at each recorded event's time
(the sweep's events among them). Referral credits are decided on the friend's account as the
sweep decides them, the referrer's cap counted as recorded (it is another account's); a
referrer's credit is the proposal's referrer points where one was recorded.
"""

from dataclasses import replace
from datetime import datetime, timedelta

from ledger.domain import clock, inactivity, referrals
from ledger.domain import lots as lot_math
from ledger.domain.account import AccountState, evolve
from ledger.domain.commands import (
    AdjustPoints,
    CancelReservation,
    Command,
    CommitReservation,
    ConfirmOrder,
    EarnPoints,
    GrantBonus,
    RecordAction,
    RecordPurchase,
    RedeemPoints,
    RefundPurchase,
    ReservePoints,
    Sweep,
)
from ledger.domain.decide import decide, housekeeping
from ledger.domain.errors import LedgerError
from ledger.domain.events import (
    ActionRecorded,
    BonusGranted,
    Event,
    FeedbackRecorded,
    HistoryImported,
    InactiveBalanceExpired,
    MemberEnrolled,
    MemberForgotten,
    MilestoneClawedBack,
    MilestoneReached,
    PendingPointsReleased,
    PointsAdjusted,
    PointsEarned,
    PointsExpired,
    PointsRedeemed,
    PointsReserved,
    PointsTransferredIn,
    PointsTransferredOut,
    PurchaseRecorded,
    PurchaseRefunded,
    ReferralApplied,
    ReferralCredited,
    ReferralReceived,
    ReferralRefused,
    ReferralReversed,
    ReferralStatusChanged,
    ReferrerCredited,
    ReferrerCreditReversed,
    ReservationCommitted,
    ReservationReleased,
    RewardRedeemed,
    RewardReserved,
    TierChanged,
)
from ledger.domain.expiry import points_expire_at
from ledger.domain.orders import Order, evolve_order, order_id_of
from ledger.domain.program import ProgramState
from ledger.domain.referral_state import CREDITED, REFERRER_CAP_REACHED, REFERRER_FORGOTTEN
from ledger.domain.tiers import MANUAL

KINDS = ("purchase", "action", "milestone", "referral", "refund", "expiry")
"""What the figures count, each the points events of its kind give (or take, negative)."""
PURCHASE, ACTION, MILESTONE, REFERRAL, REFUND, EXPIRY = range(len(KINDS))

REFERRER_AS_RECORDED = AccountState(enrolled=True)
"""The referrer a friend's credit is decided against: another account, not replayed with the
friend's, so its cap counts nothing (a refusal for the cap, or for a forgotten referrer, is
taken as recorded)."""
REFUSALS_AS_RECORDED = frozenset({REFERRER_CAP_REACHED, REFERRER_FORGOTTEN})

PASSED_THROUGH = (
    FeedbackRecorded,
    HistoryImported,
    MemberForgotten,
    PointsTransferredIn,
    ReferralApplied,
    ReferralReceived,
    ReferralStatusChanged,
)
"""Recorded events the shadow takes as they are: no rule of the program decided them."""


def points_of(event: Event) -> tuple[int, int] | None:
    """(index in KINDS, points) an event gives (negative: takes); None for other events."""
    match event:
        case PurchaseRecorded():
            return PURCHASE, event.points
        case ActionRecorded():
            return ACTION, event.points
        case MilestoneReached():
            return MILESTONE, event.points
        case ReferralCredited() | ReferrerCredited():
            return REFERRAL, event.points
        case (
            PurchaseRefunded()
            | MilestoneClawedBack()
            | ReferralReversed()
            | ReferrerCreditReversed()
        ):
            return REFUND, -event.points_clawed_back
        case PointsExpired() | InactiveBalanceExpired():
            return EXPIRY, -event.points
    return None


def due_by(end: datetime) -> datetime:
    """The last instant of a period that ends (exclusive) at `end`."""
    return end - timedelta(microseconds=1)


class Rerun:
    """One member's account under the proposal, through the period: the shadow state, the
    orders it knows (recorded before the period, its own in it), the points per kind its
    events gave and its changes of tier."""

    __slots__ = ("_member_key", "orders", "points", "state", "tier_moves")

    def __init__(self, state: AccountState, orders: dict[str, Order], member_key: str) -> None:
        self.state = state
        self.orders = orders
        self.points = [0] * len(KINDS)
        self.tier_moves = 0
        self._member_key = member_key

    def rerun(self, program: ProgramState, recorded: Event, now: datetime) -> None:
        """`recorded`, recorded at `now`, decided again under `program`."""
        if self.state.referral is not None and referrals.due(self.state, now):
            self._apply(self._credit(program, recorded, now))
        self._apply(self._decided(program, recorded, now))

    def finish(self, program: ProgramState, end: datetime) -> None:
        """What is due by the period's end (`end` exclusive), as the sweep would append it."""
        self._apply(housekeeping(self.state, due_by(end), program))

    def _credit(self, program: ProgramState, recorded: Event, now: datetime) -> list[Event]:
        if isinstance(recorded, ReferralRefused) and recorded.reason in REFUSALS_AS_RECORDED:
            return [ReferralRefused(recorded.reason)]
        friend, _ = referrals.credited(
            self.state, REFERRER_AS_RECORDED, program, now, self._member_key
        )
        return friend

    def _decided(self, program: ProgramState, recorded: Event, now: datetime) -> list[Event]:
        state = self.state
        match recorded:
            case MemberEnrolled():
                enrolled = evolve(state, recorded)
                return [
                    recorded,
                    *inactivity.rescheduled(enrolled, program, [recorded], now, enrolling=True),
                ]
            case TierChanged(reason=reason) if reason == MANUAL:
                return [recorded]  # an admin's decision, kept
            case ReferrerCredited():
                return self._referrer_credit(program, recorded, now)
            case ReferrerCreditReversed():
                return self._referrer_credit_reversed(program, recorded)
            case PointsTransferredOut():
                return self._transferred_out(program, recorded, now)
            case _ if isinstance(recorded, PASSED_THROUGH):
                return [recorded]
        command = command_of(recorded, now, self.orders)
        try:
            events = decide(state, program, command, now, self._orders_of(command))
        except LedgerError:
            return []  # the member could not have done it under the proposal
        if isinstance(command, RefundPurchase) and referrals.reversal_named(
            state, program, command
        ):
            after = state
            for event in events:
                after = evolve(after, event)
            reversal, _ = referrals.reversed_by_refund(
                after,
                REFERRER_AS_RECORDED,
                program,
                self.orders[command.order_id],
                command,
                self._member_key,
            )
            events += reversal
        return events

    def _referrer_credit(
        self, program: ProgramState, recorded: ReferrerCredited, now: datetime
    ) -> list[Event]:
        settings = program.settings
        if not settings.referrals.enabled:
            return []
        return [
            replace(
                recorded,
                points=settings.referrals.referrer_points,
                expires_on=points_expire_at(settings, now),
                program_revision=program.revision,
            )
        ]

    def _referrer_credit_reversed(
        self, program: ProgramState, recorded: ReferrerCreditReversed
    ) -> list[Event]:
        entry = self.state.referrals.get(recorded.friend_key)
        if entry is None or entry.status != CREDITED:
            return []
        policy = program.settings.negative_balance_policy
        taken, negative, lost = referrals.clawback(self.state, entry.points, policy)
        return [
            ReferrerCreditReversed(
                recorded.friend_key, recorded.reason, entry.points - lost, taken, negative, lost
            )
        ]

    def _transferred_out(
        self, program: ProgramState, recorded: PointsTransferredOut, now: datetime
    ) -> list[Event]:
        """The source's half of a transfer, as decide_transfer decides it (the destination's
        half is the other account's, taken there as recorded)."""
        events = housekeeping(self.state, now, program)
        state = self.state
        for event in events:
            state = evolve(state, event)
        if state.forgotten or state.balances.available < recorded.points:
            return events  # a transfer the proposal's balance could not have paid
        taken = lot_math.take(state.lots, recorded.points)
        sent = replace(recorded, taken=taken)
        return [*events, sent, *inactivity.rescheduled(evolve(state, sent), program, [sent], now)]

    def _orders_of(self, command: Command) -> dict[str, Order]:
        if isinstance(command, (ConfirmOrder, RefundPurchase)):
            order = self.orders.get(command.order_id)
            return {} if order is None else {command.order_id: order}
        return {}

    def _apply(self, events: list[Event]) -> None:
        state = self.state
        for event in events:
            state = evolve(state, event)
            found = points_of(event)
            if found is not None:
                self.points[found[0]] += found[1]
            if isinstance(event, TierChanged) and event.from_tier != event.to_tier:
                self.tier_moves += 1
            order_id = order_id_of(event)
            if order_id is not None:
                order = evolve_order(self.orders.get(order_id), event)
                assert order is not None
                self.orders[order_id] = order
        self.state = state


def command_of(recorded: Event, now: datetime, orders: dict[str, Order]) -> Command:
    """The command whose decision `recorded` was (a Sweep for what housekeeping, milestones,
    tiers and referrals decided around a command: the shadow decides those itself)."""
    match recorded:
        case PurchaseRecorded():
            return RecordPurchase(
                recorded.order_id,
                recorded.amount_minor,
                recorded.currency_code,
                recorded.currency_exponent,
                recorded.lines,
            )
        case ActionRecorded():
            return RecordAction(recorded.action_id, recorded.reference)
        case PurchaseRefunded():
            order = orders.get(recorded.order_id)
            currency = order.currency_code if order is not None else ""
            return RefundPurchase(recorded.order_id, recorded.amount_minor, currency)
        case PendingPointsReleased(reason="confirmed"):
            return ConfirmOrder(recorded.order_id)
        case PointsRedeemed():
            return RedeemPoints(recorded.points, recorded.reference)
        case PointsReserved() | RewardReserved():
            return ReservePoints(
                recorded.reservation_id, recorded.points, _ttl_seconds(recorded.expires_at, now)
            )
        case ReservationCommitted():
            return CommitReservation(recorded.reservation_id, recorded.points_redeemed)
        case ReservationReleased(reason="canceled"):
            return CancelReservation(recorded.reservation_id)
        case RewardRedeemed(reservation_id=""):
            return RedeemPoints(recorded.points, recorded.reward_id)
        case RewardRedeemed():
            return CommitReservation(recorded.reservation_id, recorded.points)
        case PointsEarned():
            return EarnPoints(recorded.points, recorded.reason)
        case PointsAdjusted():
            return AdjustPoints(
                recorded.points_delta_requested, recorded.reason_code, recorded.note, recorded.actor
            )
        case BonusGranted():
            return GrantBonus(recorded.points, recorded.reason_code, recorded.note, recorded.actor)
    return Sweep()


def _ttl_seconds(expires_at: str, now: datetime) -> int:
    return max(1, round((clock.parse_instant(expires_at) - now).total_seconds()))
