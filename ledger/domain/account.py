"""A member account: its state, and `evolve`, which folds one event into it."""

from dataclasses import dataclass, field

from ledger.domain import lots as lot_math
from ledger.domain.action_counts import ActionCounts, PeriodKeys
from ledger.domain.events import (
    ActionRecorded,
    BonusGranted,
    Event,
    FeedbackRecorded,
    HistoryImported,
    InactiveBalanceExpired,
    InactivityExpiryScheduled,
    LotPortion,
    Lots,
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
    ReferralQualified,
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
    TierPeriodStarted,
    TierSpendRefunded,
)
from ledger.domain.frozen import replace
from ledger.domain.referral_state import (
    CREDITED,
    QUALIFIED,
    REFUSED,
    REVERSED,
    FriendReferral,
    ReferrerEntry,
)
from ledger.domain.tier_state import TierStatus, evolve_tier


@dataclass(frozen=True)
class Balances:
    available: int = 0
    pending: int = 0
    held: int = 0
    lifetime_earned: int = 0
    lifetime_redeemed: int = 0
    expired: int = 0


@dataclass(frozen=True)
class PendingEarn:
    points: int
    release_at: str
    expires_on: str | None


@dataclass(frozen=True)
class Hold:
    points: int
    expires_at: str
    taken: Lots
    reward_id: str = ""
    """Set on a hold for a reward (RewardReserved), which commits whole into the reward."""
    stock_held: bool = False
    """A unit of the reward's stock is held with the points (its stock stream knows)."""


NO_CREDITS = ActionCounts()


@dataclass(frozen=True)
class AccountState:
    """Everything `decide` needs about one account, folded from its events alone, and kept in
    the stream's snapshot. Bounded whatever the member's history: orders are not kept here
    (a command that names one reads that order's events, see orders.py); lots are one per
    expiry day, pending points one per order inside the return window, holds at most
    MAX_OPEN_RESERVATIONS.

    Invariant: when available >= 0 the lots hold exactly `available` points; when the program
    let a refund take it below zero, the lots are empty and new points pay that off first.
    """

    enrolled: bool = False
    forgotten: bool = False
    """Set by MemberForgotten: the account answers no command again (housekeeping still
    runs, so its points leave as the program says)."""
    referral_code: str = ""
    balances: Balances = Balances()
    lots: Lots = ()
    pending: dict[str, PendingEarn] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)
    rewards_redeemed: dict[str, int] = field(default_factory=dict)
    """Times each reward was redeemed, for limits per member; at most one entry per reward
    id a catalogue ever held."""
    balance_expires_at: str | None = None
    """When the whole balance expires unless the member does something qualifying first
    (None: the program has no inactivity expiry, or no activity set it yet). Stays once
    passed: the member is still inactive, so points that come back without activity (a
    hold given back) expire too."""
    action_counts: dict[str, ActionCounts] = field(default_factory=dict)
    """Per action id ever rewarded: counters per cap period (action_counts.py)."""
    orders_recorded: int = 0
    """Purchases recorded, refunded or not: what order-count milestones count."""
    spend_minor: dict[str, int] = field(default_factory=dict)
    """Amounts of the purchases recorded, per currency (gross of refunds): what lifetime-spend
    milestones count. One entry per currency the program ever earned in."""
    milestones_reached: tuple[str, ...] = ()
    """Ids of the milestones reached, kept or clawed back: each is reached once."""
    tier: TierStatus | None = None
    """The member's tier and qualifying figure (tier_state.py); None until the member's
    first event under a program with tiers."""
    referral: FriendReferral | None = None
    """The referral this member enrolled with, if any (ledger/domain/referrals.py)."""
    referrals: dict[str, ReferrerEntry] = field(default_factory=dict)
    """Referrals made with this member's code, by friend key, oldest first; at most
    MAX_REFERRALS_PER_MEMBER."""
    referral_credits: ActionCounts = NO_CREDITS
    """Referral credits earned per cap period (times and points), for the program's cap."""

    def check_invariants(self) -> None:
        b = self.balances
        assert b.pending >= 0 and b.held >= 0 and b.expired >= 0, b
        # The sums are skipped when empty: most accounts hold no pending points or holds, and
        # the replay checks this after every event.
        pending = sum(p.points for p in self.pending.values()) if self.pending else 0
        assert b.pending == pending, "pending drift"
        held = sum(h.points for h in self.holds.values()) if self.holds else 0
        assert b.held == held, "held drift"
        if b.available >= 0:
            assert lot_math.total(self.lots) == b.available, "lots drift"
        else:
            assert not self.lots, "negative balance with lots left"


def _credit(state: AccountState, portions: Lots, earned: int = 0) -> AccountState:
    """Adds points to available (and `earned` to lifetime earned): first paying off a negative
    balance, then as lots."""
    credited = lot_math.total(portions)
    balances = state.balances
    available = balances.available
    if available < 0:
        paid = lot_math.take(portions, min(-available, credited))
        portions = lot_math.subtract(lot_math.add((), portions), paid)
    # Balances are rebuilt in one step, not field by field: this runs for most events folded.
    changed = replace(
        balances,
        available=available + credited,
        lifetime_earned=balances.lifetime_earned + earned,
    )
    return replace(state, lots=lot_math.add(state.lots, portions), balances=changed)


def _debit(
    state: AccountState,
    taken: Lots,
    beyond_lots: int = 0,
    *,
    redeemed: int = 0,
    held: int = 0,
    expired: int = 0,
) -> AccountState:
    """Takes `taken` from the lots and `beyond_lots` more points below zero; what was taken
    also counts as `redeemed`, `held` or `expired` when given."""
    balances = state.balances
    changed = replace(
        balances,
        available=balances.available - lot_math.total(taken) - beyond_lots,
        lifetime_redeemed=balances.lifetime_redeemed + redeemed,
        held=balances.held + held,
        expired=balances.expired + expired,
    )
    return replace(state, lots=lot_math.subtract(state.lots, taken), balances=changed)


def _bump(balances: Balances, **changes: int) -> Balances:
    return replace(
        balances, **{name: getattr(balances, name) + delta for name, delta in changes.items()}
    )


def _lot(expires_on: str | None, points: int) -> Lots:
    return (LotPortion(expires_on, points),) if points else ()


def _purchase_counted(state: AccountState, event: PurchaseRecorded) -> AccountState:
    spend = dict(state.spend_minor)
    spend[event.currency_code] = spend.get(event.currency_code, 0) + event.amount_minor
    return replace(state, orders_recorded=state.orders_recorded + 1, spend_minor=spend)


def evolve(state: AccountState, event: Event) -> AccountState:
    if state.tier is not None:  # members of programs without tiers skip it
        tier = evolve_tier(state.tier, event)
        if tier is not state.tier:
            state = replace(state, tier=tier)
    match event:
        # The most frequent types come first: a match tries its cases in order.
        case PointsEarned():
            return _credit(state, _lot(event.expires_on, event.points), earned=event.points)
        case HistoryImported():
            delta = event.points_delta_imported
            if delta >= 0:
                return _credit(state, _lot(event.expires_on, delta), earned=delta)
            return _debit(state, event.taken, event.negative_points, redeemed=-delta)
        case PurchaseRecorded():
            state = _purchase_counted(state, event)
            if event.release_at is not None and event.points:
                pending = {
                    **state.pending,
                    event.order_id: PendingEarn(event.points, event.release_at, event.expires_on),
                }
                balances = _bump(state.balances, pending=event.points, lifetime_earned=event.points)
                return replace(state, pending=pending, balances=balances)
            return _credit(state, _lot(event.expires_on, event.points), earned=event.points)
        case PointsRedeemed():
            return _debit(state, event.taken, redeemed=event.points)
        case MemberEnrolled():
            return replace(state, enrolled=True, referral_code=event.referral_code)
        case MemberForgotten():
            return replace(state, forgotten=True)
        case PendingPointsReleased():
            pending = dict(state.pending)
            del pending[event.order_id]
            state = replace(
                state, pending=pending, balances=_bump(state.balances, pending=-event.points)
            )
            return _credit(state, _lot(event.expires_on, event.points))
        case PurchaseRefunded():
            pending = dict(state.pending)
            if event.from_pending:
                entry = pending[event.order_id]
                left = entry.points - event.from_pending
                if left:
                    pending[event.order_id] = replace(entry, points=left)
                else:
                    del pending[event.order_id]
            state = replace(
                state,
                pending=pending,
                balances=_bump(
                    state.balances,
                    pending=-event.from_pending,
                    lifetime_earned=-event.points_clawed_back,
                ),
            )
            return _debit(state, event.from_available, event.negative_points)
        case PointsAdjusted():
            if event.points_delta_requested > 0:
                return _credit(
                    state,
                    _lot(event.expires_on, event.points_delta_requested),
                    earned=event.points_delta_requested,
                )
            return _debit(state, event.taken)
        case PointsReserved():
            holds = {
                **state.holds,
                event.reservation_id: Hold(event.points, event.expires_at, event.taken),
            }
            state = replace(state, holds=holds)
            return _debit(state, event.taken, held=event.points)
        case ReservationCommitted() | ReservationReleased():
            holds = dict(state.holds)
            hold = holds.pop(event.reservation_id)
            redeemed = event.points_redeemed if isinstance(event, ReservationCommitted) else 0
            state = replace(
                state,
                holds=holds,
                balances=_bump(state.balances, held=-hold.points, lifetime_redeemed=redeemed),
            )
            return _credit(state, event.restored)
        case RewardRedeemed():
            counts = {
                **state.rewards_redeemed,
                event.reward_id: state.rewards_redeemed.get(event.reward_id, 0) + 1,
            }
            state = replace(state, rewards_redeemed=counts)
            if not event.reservation_id:
                return _debit(state, event.taken, redeemed=event.points)
            holds = dict(state.holds)
            hold = holds.pop(event.reservation_id)
            balances = _bump(state.balances, held=-hold.points, lifetime_redeemed=event.points)
            return replace(state, holds=holds, balances=balances)
        case RewardReserved():
            hold = Hold(
                event.points, event.expires_at, event.taken, event.reward_id, event.stock_held
            )
            state = replace(state, holds={**state.holds, event.reservation_id: hold})
            return _debit(state, event.taken, held=event.points)
        case PointsTransferredOut():
            return _debit(state, event.taken)
        case PointsTransferredIn():
            return _credit(state, event.lots)
        case PointsExpired():
            return _debit(state, _lot(event.expires_on, event.points), expired=event.points)
        case InactivityExpiryScheduled():
            return replace(state, balance_expires_at=event.balance_expires_at)
        case InactiveBalanceExpired():
            return _debit(state, event.taken, expired=event.points)
        case ActionRecorded():
            if not event.points:
                return state
            keys = PeriodKeys(event.day, event.week, event.month, event.year)
            counted = state.action_counts.get(event.action_id, ActionCounts())
            state = replace(
                state,
                action_counts={
                    **state.action_counts,
                    event.action_id: counted.plus(keys, event.points),
                },
            )
            return _credit(state, _lot(event.expires_on, event.points), earned=event.points)
        case FeedbackRecorded():
            return state
        case BonusGranted():
            return _credit(state, _lot(event.expires_on, event.points), earned=event.points)
        case MilestoneReached():
            state = replace(
                state, milestones_reached=(*state.milestones_reached, event.milestone_id)
            )
            return _credit(state, _lot(event.expires_on, event.points), earned=event.points)
        case MilestoneClawedBack():
            state = replace(
                state,
                balances=_bump(state.balances, lifetime_earned=-event.points_clawed_back),
            )
            return _debit(state, event.taken, event.negative_points)
        case TierPeriodStarted():
            return (
                state if state.tier is not None else replace(state, tier=evolve_tier(None, event))
            )
        case TierChanged() | TierSpendRefunded():
            return state  # folded above
        case ReferralApplied() | ReferralQualified() | ReferralRefused() | ReferralReceived():
            return _referral_noted(state, event)
        case ReferralStatusChanged():
            changed = ReferrerEntry(
                event.status, event.reason, state.referrals[event.friend_key].points
            )
            return replace(state, referrals={**state.referrals, event.friend_key: changed})
        case ReferralCredited():
            assert state.referral is not None, "credit of no referral"
            referral = replace(state.referral, status=CREDITED, points=event.points)
            state = replace(state, referral=referral)
            return _credit(state, _lot(event.expires_on, event.points), earned=event.points)
        case ReferrerCredited():
            keys = PeriodKeys(event.day, event.week, event.month, event.year)
            state = replace(
                state,
                referrals={
                    **state.referrals,
                    event.friend_key: ReferrerEntry(CREDITED, "", event.points),
                },
                referral_credits=state.referral_credits.plus(keys, event.points),
            )
            return _credit(state, _lot(event.expires_on, event.points), earned=event.points)
        case ReferralReversed():
            assert state.referral is not None, "reversal of no referral"
            state = replace(
                state,
                referral=replace(state.referral, status=REVERSED, reason=event.reason),
                balances=_bump(state.balances, lifetime_earned=-event.points_clawed_back),
            )
            return _debit(state, event.taken, event.negative_points)
        case ReferrerCreditReversed():
            taken_back = ReferrerEntry(
                REVERSED, event.reason, state.referrals[event.friend_key].points
            )
            state = replace(
                state,
                referrals={**state.referrals, event.friend_key: taken_back},
                balances=_bump(state.balances, lifetime_earned=-event.points_clawed_back),
            )
            return _debit(state, event.taken, event.negative_points)
    raise AssertionError(f"account streams do not hold {type(event).__name__}")


def _referral_noted(state: AccountState, event: Event) -> AccountState:
    """A referral's status, where no points move."""
    match event:
        case ReferralApplied():
            referral = FriendReferral(event.referrer_key, event.status, event.reason)
            return replace(state, referral=referral)
        case ReferralQualified():
            assert state.referral is not None, "qualifying purchase of no referral"
            referral = replace(
                state.referral,
                status=QUALIFIED,
                order_id=event.order_id,
                release_at=event.release_at,
            )
            return replace(state, referral=referral)
        case ReferralRefused():
            assert state.referral is not None, "refusal of no referral"
            referral = replace(state.referral, status=REFUSED, reason=event.reason)
            return replace(state, referral=referral)
        case ReferralReceived():
            entry = ReferrerEntry(event.status, event.reason)
            return replace(state, referrals={**state.referrals, event.friend_key: entry})
    raise AssertionError(type(event).__name__)
