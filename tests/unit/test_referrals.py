"""Referrals in given/when/then form, over two accounts: a referrer and the friend who
enrolled with the referrer's code. Each `when` is one decision (ledger/domain/decisions.py),
which may append to both accounts at once."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from ledger.codec.requests import content_hash
from ledger.domain import clock
from ledger.domain.account import AccountState
from ledger.domain.action_settings import CapPeriod
from ledger.domain.commands import (
    Command,
    CreateProgram,
    EarnPoints,
    Enroll,
    RecordPurchase,
    RedeemPoints,
    RefundPurchase,
    Sweep,
    validate,
)
from ledger.domain.decide import decide as decide_account
from ledger.domain.decisions import Decision, MoreReads, Target, decide, reads
from ledger.domain.errors import InvalidArgument
from ledger.domain.events import (
    Event,
    MemberForgotten,
    PendingPointsReleased,
    PointsEarned,
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
from ledger.domain.frozen import replace
from ledger.domain.kinds import account_key, program_key
from ledger.domain.orders import Order
from ledger.domain.program import ProgramState
from ledger.domain.referral_codes import normalized
from ledger.domain.referral_settings import ReferralMinimum, ReferralSettings
from ledger.domain.settings import NegativeBalancePolicy
from tests.unit.scenario import PROGRAM, PROGRAM_ID, T0, enrolled, fields, fold, given

REFERRER = "~" + "r" * 26
FRIEND = "~" + "f" * 26
CODE = "ABCDEFGHJK"
WINDOW = timedelta(days=14)
EXPIRES_AFTER_WINDOW = "2027-03-16T00:00:00.000000Z"
"""When points credited at T0 + 14 days expire under the 365-day policy."""

REFERRING = ReferralSettings(
    enabled=True,
    referrer_points=500,
    friend_points=200,
    minimum_purchases=(ReferralMinimum("USD", 5_000),),
    cap_period=CapPeriod.MONTH,
    max_credits_per_period=2,
)
"""500 points to the referrer and 200 to the friend once a first purchase of $50 or more
has passed its 14-day window; at most 2 credits per referrer per month."""


def referring(**changes: object) -> ProgramState:
    settings = replace(REFERRING, **changes)
    return replace(PROGRAM, settings=replace(PROGRAM.settings, referrals=settings))


PROGRAM_WITH_REFERRALS = referring()


@dataclass
class Accounts:
    """Both accounts, and the orders the friend recorded (what the log would read)."""

    referrer: AccountState
    friend: AccountState = field(default_factory=AccountState)
    orders: dict[str, Order] = field(default_factory=dict)


class _Streams:
    def __init__(self, accounts: Accounts, program: ProgramState) -> None:
        self._states: dict[tuple[str, str], object] = {
            program_key(PROGRAM_ID): program,
            account_key(PROGRAM_ID, REFERRER): accounts.referrer,
            account_key(PROGRAM_ID, FRIEND): accounts.friend,
        }
        self._orders = accounts.orders

    def state(self, key: tuple[str, str]) -> object:
        return self._states[key]

    def order(self, key: tuple[tuple[str, str], str]) -> Order | None:
        return self._orders.get(key[1])

    def new_code(self) -> str:
        return "unused"


def when(
    accounts: Accounts,
    command: Command,
    *,
    now: datetime = T0,
    program: ProgramState = PROGRAM_WITH_REFERRALS,
) -> tuple[list[Event], list[Event]]:
    """(friend's events, referrer's events) of `command` on the friend's account: one
    decision, read again with the streams it asks for, as the ledger does."""
    target = Target(PROGRAM_ID, FRIEND)
    streams = _Streams(accounts, program)
    also: tuple[tuple[str, str], ...] = ()
    decision: Decision | None = None
    for _ in range(2):
        try:
            decision = decide(target, command, streams, now, reads(target, command, also))
            break
        except MoreReads as more:
            also = more.streams
    assert decision is not None
    appended = dict(decision.appends)
    return (
        list(appended.get(account_key(PROGRAM_ID, FRIEND), [])),
        list(appended.get(account_key(PROGRAM_ID, REFERRER), [])),
    )


def then(accounts: Accounts, events: tuple[list[Event], list[Event]]) -> Accounts:
    friend = fold(accounts.friend, events[0])
    orders = dict(accounts.orders)
    orders.update(getattr(friend, "orders", {}))
    return Accounts(fold(accounts.referrer, events[1]), friend, orders)


def enrolment(**changes: object) -> Enroll:
    command = Enroll(PROGRAM_ID, FRIEND, referral_code=CODE, referrer_key=REFERRER)
    return replace(command, **changes)


def purchase(order_id: str, amount_minor: int) -> RecordPurchase:
    return RecordPurchase(order_id, amount_minor, "USD", 2)


def enrolled_friend(program: ProgramState = PROGRAM_WITH_REFERRALS) -> Accounts:
    accounts = Accounts(given(enrolled(REFERRER)))
    return then(accounts, when(accounts, enrolment(), program=program))


def qualified_friend(program: ProgramState = PROGRAM_WITH_REFERRALS) -> Accounts:
    accounts = enrolled_friend(program)
    return then(accounts, when(accounts, purchase("o-1", 6_000), program=program))


# --- enrolment with a code ------------------------------------------------------------------


def test_enrolling_with_a_code_makes_a_pending_referral_on_both_accounts() -> None:
    accounts = Accounts(given(enrolled(REFERRER)))
    friend_events, referrer_events = when(accounts, enrolment())
    assert friend_events[1:] == [ReferralApplied(REFERRER, "pending", "")]
    assert referrer_events == [ReferralReceived(FRIEND, "pending", "")]


def test_a_self_referral_is_refused_on_both_accounts() -> None:
    # Given the ledger found the friend's fingerprint equal to the referrer's
    accounts = Accounts(given(enrolled(REFERRER)))
    friend_events, referrer_events = when(accounts, enrolment(self_referral=True))
    assert friend_events[1:] == [ReferralApplied(REFERRER, "refused", "self_referral")]
    assert referrer_events == [ReferralReceived(FRIEND, "refused", "self_referral")]


def test_a_friend_who_purchased_before_enrolling_is_refused() -> None:
    accounts = Accounts(given(enrolled(REFERRER)))
    friend_events, referrer_events = when(accounts, enrolment(purchased_before=True))
    assert friend_events[1:] == [ReferralApplied(REFERRER, "refused", "already_purchased")]
    assert referrer_events == [ReferralReceived(FRIEND, "refused", "already_purchased")]
    # Then the friend's first big purchase qualifies nothing
    accounts = then(accounts, (friend_events, referrer_events))
    friend_events, _ = when(accounts, purchase("o-1", 10_000))
    assert not [e for e in friend_events if isinstance(e, ReferralQualified)]


def test_an_unknown_code_enrols_the_member_with_a_refused_referral() -> None:
    accounts = Accounts(given(enrolled(REFERRER)))
    friend_events, referrer_events = when(accounts, enrolment(referrer_key=""))
    assert friend_events[1:] == [ReferralApplied("", "refused", "unknown_code")]
    assert referrer_events == []


def test_a_code_of_a_forgotten_member_is_unknown() -> None:
    accounts = Accounts(given(enrolled(REFERRER), MemberForgotten("member_request")))
    friend_events, referrer_events = when(accounts, enrolment())
    assert friend_events[1:] == [ReferralApplied("", "refused", "unknown_code")]
    assert referrer_events == []


def test_a_code_given_while_referrals_are_off_is_refused() -> None:
    accounts = Accounts(given(enrolled(REFERRER)))
    friend_events, referrer_events = when(accounts, enrolment(), program=PROGRAM)
    assert friend_events[1:] == [ReferralApplied(REFERRER, "refused", "referrals_disabled")]
    assert referrer_events == [ReferralReceived(FRIEND, "refused", "referrals_disabled")]


def test_typed_codes_are_read_as_meant_and_bad_ones_named() -> None:
    assert normalized("abcde-fghjk") == "ABCDEFGHJK"
    assert normalized(" 0b1d8 22 33 4") == "OBIDB22334"
    with pytest.raises(InvalidArgument) as refused:
        validate(enrolment(referral_code="ABC"))
    assert fields(refused.value) == ["referral_code"]


# --- the qualifying purchase and the credit -------------------------------------------------


def test_a_purchase_under_the_minimum_does_not_qualify_but_a_later_one_does() -> None:
    accounts = enrolled_friend()
    small = when(accounts, purchase("o-1", 4_999))
    assert not [e for e in small[0] if isinstance(e, ReferralQualified)]
    accounts = then(accounts, small)
    big = when(accounts, purchase("o-2", 5_000), now=T0 + timedelta(days=1))
    release_at = clock.instant(T0 + timedelta(days=15))
    assert big[0][-1] == ReferralQualified("o-2", release_at)
    assert big[1] == []


def test_the_credit_comes_when_the_window_has_passed_on_both_accounts_at_once() -> None:
    accounts = qualified_friend()
    # When the sweep runs a moment before the window ends: nothing
    assert when(accounts, Sweep(), now=T0 + WINDOW - timedelta(seconds=1)) == ([], [])
    # When it runs once the window has passed: the pending points and both credits
    at = T0 + WINDOW
    friend_events, referrer_events = when(accounts, Sweep(), now=at)
    assert friend_events == [
        ReferralCredited(REFERRER, "o-1", 200, EXPIRES_AFTER_WINDOW, 1),
        PendingPointsReleased("o-1", 60, "2027-03-02T00:00:00.000000Z", "window_passed"),
    ]
    assert referrer_events == [
        ReferrerCredited(
            FRIEND, 500, EXPIRES_AFTER_WINDOW, 1, "2026-03-15", "2026-W11", "2026-03", "2026"
        )
    ]
    accounts = then(accounts, (friend_events, referrer_events))
    assert accounts.referrer.balances.available == 500
    assert accounts.friend.balances.available == 260
    # Then a second sweep finds nothing to do
    assert when(accounts, Sweep(), now=at + timedelta(hours=1)) == ([], [])
    assert accounts.referrer.referrals[FRIEND].status == "credited"


def test_any_command_on_the_friend_after_the_window_credits_too() -> None:
    accounts = qualified_friend()
    friend_events, referrer_events = when(
        accounts, EarnPoints(10, "review"), now=T0 + WINDOW + timedelta(days=1)
    )
    assert isinstance(friend_events[0], ReferralCredited)
    assert isinstance(friend_events[-1], PointsEarned)
    assert isinstance(referrer_events[0], ReferrerCredited)


def test_a_referrer_at_the_cap_is_refused_until_the_next_period() -> None:
    # Given the referrer was credited twice in March (the cap)
    credited = [
        ReferrerCredited(f"~f{n}", 500, None, 1, "2026-03-02", "2026-W10", "2026-03", "2026")
        for n in range(2)
    ]
    accounts = qualified_friend()
    accounts = replace(accounts, referrer=fold(accounts.referrer, credited))
    # When the friend's window passes in March
    friend_events, referrer_events = when(accounts, Sweep(), now=T0 + WINDOW)
    assert friend_events[0] == ReferralRefused("referrer_cap_reached")
    assert referrer_events == [ReferralStatusChanged(FRIEND, "refused", "referrer_cap_reached")]
    assert fold(accounts.referrer, referrer_events).balances.available == 1_000


def test_the_cap_counts_in_the_program_time_zone() -> None:
    # Given the cap was reached in March, in Tokyo
    tokyo = referring()
    tokyo = replace(tokyo, settings=replace(tokyo.settings, time_zone="Asia/Tokyo"))
    credited = [
        ReferrerCredited(f"~f{n}", 500, None, 1, "2026-03-02", "2026-W10", "2026-03", "2026")
        for n in range(2)
    ]
    accounts = qualified_friend(tokyo)
    accounts = replace(accounts, referrer=fold(accounts.referrer, credited))
    # When the window passes on 31 March at 16:00 UTC, already 1 April in Tokyo
    at = datetime.fromisoformat("2026-03-31T16:00:00+00:00")
    _, referrer_events = when(accounts, Sweep(), now=at, program=tokyo)
    assert isinstance(referrer_events[0], ReferrerCredited)
    assert referrer_events[0].month == "2026-04"


# --- refunds ----------------------------------------------------------------------------------


def test_a_refund_inside_the_window_reverses_the_referral_before_any_credit() -> None:
    accounts = qualified_friend()
    refund = RefundPurchase("o-1", 6_000, "USD")
    friend_events, referrer_events = when(accounts, refund, now=T0 + timedelta(days=3))
    assert friend_events[-1] == ReferralReversed("o-1", "order_refunded", 0, (), 0, 0)
    assert referrer_events == [ReferralStatusChanged(FRIEND, "reversed", "order_refunded")]
    accounts = then(accounts, (friend_events, referrer_events))
    # Then the window passing credits nobody
    assert when(accounts, Sweep(), now=T0 + WINDOW) == ([], [])
    assert accounts.referrer.balances.available == 0


def test_a_partial_refund_that_leaves_the_minimum_keeps_the_referral() -> None:
    accounts = qualified_friend()
    friend_events, referrer_events = when(accounts, RefundPurchase("o-1", 1_000, "USD"))
    assert not [e for e in friend_events if isinstance(e, ReferralReversed)]
    assert referrer_events == []


def test_a_refund_after_the_credit_is_kept_unless_the_program_reverses() -> None:
    accounts = qualified_friend()
    accounts = then(accounts, when(accounts, Sweep(), now=T0 + WINDOW))
    refund = RefundPurchase("o-1", 6_000, "USD")
    friend_events, referrer_events = when(accounts, refund, now=T0 + WINDOW + timedelta(days=1))
    assert not [e for e in friend_events if isinstance(e, ReferralReversed)]
    assert referrer_events == []


def test_a_refund_after_the_credit_reverses_both_when_the_program_says_so() -> None:
    program = referring(reverse_after_window=True)
    accounts = qualified_friend(program)
    accounts = then(accounts, when(accounts, Sweep(), now=T0 + WINDOW, program=program))
    # Given the referrer spent 400 of their 500 points
    redeemed = decide_account(
        accounts.referrer, program, RedeemPoints(400, "gift"), T0 + WINDOW, {}
    )
    accounts = replace(accounts, referrer=fold(accounts.referrer, redeemed))
    refund = RefundPurchase("o-1", 6_000, "USD")
    at = T0 + WINDOW + timedelta(days=1)
    friend_events, referrer_events = when(accounts, refund, now=at, program=program)
    reversed_friend = friend_events[-1]
    assert isinstance(reversed_friend, ReferralReversed)
    assert reversed_friend.points_clawed_back == 200
    # Within the balance (the program's policy): 100 taken back, 400 not recovered
    (reversed_referrer,) = referrer_events
    assert isinstance(reversed_referrer, ReferrerCreditReversed)
    assert (reversed_referrer.points_clawed_back, reversed_referrer.points_not_recovered) == (
        100,
        400,
    )
    accounts = then(accounts, (friend_events, referrer_events))
    assert accounts.referrer.referrals[FRIEND].status == "reversed"
    assert accounts.referrer.balances.available == 0


def test_a_reversal_may_take_the_referrer_below_zero_when_the_program_allows() -> None:
    program = referring(reverse_after_window=True)
    program = replace(
        program,
        settings=replace(
            program.settings, negative_balance_policy=NegativeBalancePolicy.ALLOW_NEGATIVE
        ),
    )
    accounts = qualified_friend(program)
    accounts = then(accounts, when(accounts, Sweep(), now=T0 + WINDOW, program=program))
    redeemed = decide_account(
        accounts.referrer, program, RedeemPoints(500, "gift"), T0 + WINDOW, {}
    )
    accounts = replace(accounts, referrer=fold(accounts.referrer, redeemed))
    at = T0 + WINDOW + timedelta(days=1)
    events = when(accounts, RefundPurchase("o-1", 6_000, "USD"), now=at, program=program)
    accounts = then(accounts, events)
    assert accounts.referrer.balances.available == -500


# --- settings -----------------------------------------------------------------------------------


def test_bad_referral_settings_are_refused_naming_each() -> None:
    bad = ReferralSettings(
        enabled=True,
        referrer_points=0,
        friend_points=-1,
        minimum_purchases=(ReferralMinimum("usd", 5), ReferralMinimum("GBP", -1)),
        max_credits_per_period=-3,
    )
    settings = replace(PROGRAM.settings, referrals=bad)
    with pytest.raises(InvalidArgument) as refused:
        validate(CreateProgram(PROGRAM_ID, settings))
    assert fields(refused.value) == [
        "program.referrals.referrer_points",
        "program.referrals.friend_points",
        "program.referrals.max_credits_per_period",
        "program.referrals.minimum_purchases[0].currency_code",
        "program.referrals.minimum_purchases[1].currency_code",
        "program.referrals.minimum_purchases[1].amount_minor",
    ]


def test_the_referrer_a_code_was_looked_up_to_is_not_part_of_the_request() -> None:
    # A retry after the referrer was forgotten resolves the code to nobody: still the same
    # request, so it gets its first answer rather than REQUEST_ID_REUSED.
    target = Target(PROGRAM_ID, FRIEND)
    first = content_hash(target, enrolment(self_referral=True))
    assert content_hash(target, enrolment(referrer_key="")) == first
    assert content_hash(target, enrolment(referral_code="ABCDEFGHJM")) != first
