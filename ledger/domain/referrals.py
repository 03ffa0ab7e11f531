"""Referrals: a member enrolls with another's code; when the friend's first qualifying
purchase has passed its return window, the referrer (and, if the program says so, the
friend) is credited, in one decision over both accounts (ledger/domain/decisions.py).

Each step is decided from the states of the streams it appends to, so two processes racing
to credit (the sweep on two pods, 50 friends of one referrer at once) cannot both win: the
append's version check makes the loser decide again, and then it finds the cap reached or
the referral credited already. README "Referrals" says what each status and reason means.
"""

from datetime import datetime

from ledger.domain import clock, limits
from ledger.domain import lots as lot_math
from ledger.domain.account import AccountState
from ledger.domain.action_counts import period_keys
from ledger.domain.commands import Enroll, RefundPurchase
from ledger.domain.events import (
    Event,
    Lots,
    PurchaseRecorded,
    ReferralApplied,
    ReferralCredited,
    ReferralQualified,
    ReferralReceived,
    ReferralRefused,
    ReferralReversed,
    ReferralStatusChanged,
    ReferrerCredited,
    ReferrerCreditReversed,
)
from ledger.domain.expiry import points_expire_at
from ledger.domain.orders import Order
from ledger.domain.program import ProgramState
from ledger.domain.referral_state import (
    ALREADY_PURCHASED,
    CREDITED,
    ORDER_REFUNDED,
    PENDING,
    QUALIFIED,
    REFERRALS_DISABLED,
    REFERRER_CAP_REACHED,
    REFERRER_FORGOTTEN,
    REFERRER_LIMIT,
    REFUSED,
    REVERSED,
    SELF_REFERRAL,
    UNKNOWN_CODE,
)
from ledger.domain.settings import NegativeBalancePolicy


def applied(
    command: Enroll, referrer: AccountState | None, program: ProgramState, friend_key: str
) -> tuple[list[Event], list[Event]]:
    """(friend's events, referrer's events) of an enrolment with a code; `referrer` is the
    state of the account the code named (None: it named nobody)."""
    if referrer is None or not referrer.enrolled or referrer.forgotten:
        return [ReferralApplied("", REFUSED, UNKNOWN_CODE)], []
    reason = _refusal(command, referrer, program, friend_key)
    status = REFUSED if reason else PENDING
    return (
        [ReferralApplied(command.referrer_key, status, reason)],
        [ReferralReceived(friend_key, status, reason)],
    )


def _refusal(
    command: Enroll, referrer: AccountState, program: ProgramState, friend_key: str
) -> str:
    if not program.settings.referrals.enabled:
        return REFERRALS_DISABLED
    if command.self_referral or command.referrer_key == friend_key:
        return SELF_REFERRAL
    if command.purchased_before:
        return ALREADY_PURCHASED
    if len(referrer.referrals) >= limits.MAX_REFERRALS_PER_MEMBER:
        return REFERRER_LIMIT
    return ""


def qualified(
    state: AccountState, program: ProgramState, recorded: PurchaseRecorded, now: datetime
) -> list[Event]:
    """The purchase qualifies the member's pending referral, if it is the first one of at
    least the program's minimum. `state` is before the purchase."""
    referral = state.referral
    if referral is None or referral.status != PENDING:
        return []
    settings = program.settings.referrals
    if recorded.amount_minor < settings.minimum_for(recorded.currency_code):
        return []
    release_at = recorded.release_at or clock.instant(now)
    return [ReferralQualified(recorded.order_id, release_at)]


def due(state: AccountState, now: datetime) -> bool:
    """Whether the member's referral is to be credited (or refused) now."""
    referral = state.referral
    return (
        referral is not None
        and referral.status == QUALIFIED
        and referral.release_at <= clock.instant(now)
    )


def due_at(state: AccountState) -> str | None:
    referral = state.referral
    if referral is None or referral.status != QUALIFIED:
        return None
    return referral.release_at


def credited(
    friend: AccountState,
    referrer: AccountState,
    program: ProgramState,
    now: datetime,
    friend_key: str,
) -> tuple[list[Event], list[Event]]:
    """(friend's events, referrer's events) of a due referral (`due`): both credits, or a
    refusal with its reason."""
    referral = friend.referral
    assert referral is not None and referral.status == QUALIFIED, referral
    settings = program.settings.referrals
    if not referrer.enrolled or referrer.forgotten:
        return [ReferralRefused(REFERRER_FORGOTTEN)], []
    reason = ""
    keys = period_keys(now, program.settings.zone)
    if not settings.enabled:
        reason = REFERRALS_DISABLED
    elif settings.max_credits_per_period:
        credits = referrer.referral_credits.count_in(settings.cap_period, keys)
        if credits.times >= settings.max_credits_per_period:
            reason = REFERRER_CAP_REACHED
    if reason:
        return (
            [ReferralRefused(reason)],
            [ReferralStatusChanged(friend_key, REFUSED, reason)],
        )
    expires_on = points_expire_at(program.settings, now)
    friend_events: list[Event] = [
        ReferralCredited(
            referral.referrer_key,
            referral.order_id,
            settings.friend_points,
            expires_on,
            program.revision,
        )
    ]
    referrer_events: list[Event] = [
        ReferrerCredited(
            friend_key,
            settings.referrer_points,
            expires_on,
            program.revision,
            keys.day,
            keys.week,
            keys.month,
            keys.year,
        )
    ]
    return friend_events, referrer_events


def reversal_named(state: AccountState, program: ProgramState, command: RefundPurchase) -> bool:
    """Whether refunding `command`'s order may reverse the member's referral (and so the
    decision reads the referrer's account too)."""
    referral = state.referral
    if referral is None or referral.order_id != command.order_id:
        return False
    if referral.status == QUALIFIED:
        return True
    return referral.status == CREDITED and program.settings.referrals.reverse_after_window


def reversed_by_refund(
    friend: AccountState,
    referrer: AccountState,
    program: ProgramState,
    order: Order,
    command: RefundPurchase,
    friend_key: str,
) -> tuple[list[Event], list[Event]]:
    """(friend's events, referrer's events) of a refund of the qualifying order, `friend`
    with the refund folded in: nothing while what is left of the order still qualifies;
    else, inside the window, the referral is reversed before anything was credited, and
    after it (when the program says so) both credits are taken back under the program's
    negative-balance policy."""
    referral = friend.referral
    assert referral is not None and referral.order_id == command.order_id
    left = order.amount_minor - order.refunded_minor - command.amount_minor
    if left >= program.settings.referrals.minimum_for(order.currency_code):
        return [], []
    policy = program.settings.negative_balance_policy
    if referral.status == QUALIFIED:
        friend_events: list[Event] = [
            ReferralReversed(referral.order_id, ORDER_REFUNDED, 0, (), 0, 0)
        ]
        if not referrer.enrolled:
            return friend_events, []
        return friend_events, [ReferralStatusChanged(friend_key, REVERSED, ORDER_REFUNDED)]
    taken, negative, lost = clawback(friend, referral.points, policy)
    friend_events = [
        ReferralReversed(
            referral.order_id, ORDER_REFUNDED, referral.points - lost, taken, negative, lost
        )
    ]
    entry = referrer.referrals.get(friend_key)
    points = entry.points if entry is not None else 0
    taken, negative, lost = clawback(referrer, points, policy)
    referrer_events: list[Event] = [
        ReferrerCreditReversed(friend_key, ORDER_REFUNDED, points - lost, taken, negative, lost)
    ]
    return friend_events, referrer_events


def clawback(
    state: AccountState, points: int, policy: NegativeBalancePolicy
) -> tuple[Lots, int, int]:
    """(taken from lots, taken below zero, not recovered) of taking `points` back, as a
    refund's clawback is under `policy`."""
    taken: Lots = ()
    if policy is not NegativeBalancePolicy.PENDING_ONLY:
        taken = lot_math.take(state.lots, min(points, max(state.balances.available, 0)))
    rest = points - lot_math.total(taken)
    negative = rest if policy is NegativeBalancePolicy.ALLOW_NEGATIVE else 0
    return taken, negative, rest - negative
