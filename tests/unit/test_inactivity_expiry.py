"""Inactivity expiry: the whole available balance expires after the program's days without a
qualifying activity; a later activity moves the deadline; the sweep appends the expiry."""

import asyncio
from datetime import UTC, datetime, timedelta

from ledger import bootstrap
from ledger.domain import clock
from ledger.domain.account import Balances
from ledger.domain.activity import activity_of
from ledger.domain.commands import (
    AdjustPoints,
    Command,
    CreateProgram,
    EarnPoints,
    Enroll,
    RecordPurchase,
    RedeemPoints,
    Sweep,
)
from ledger.domain.decide import next_due_at
from ledger.domain.decisions import Target
from ledger.domain.events import (
    Event,
    InactiveBalanceExpired,
    InactivityExpiryScheduled,
    PointsEarned,
    PointsExpired,
    PurchaseRecorded,
    PurchaseRefunded,
    RewardRedeemed,
)
from ledger.domain.program import ProgramState
from ledger.domain.settings import EarnRate, NegativeBalancePolicy, ProgramSettings
from ledger.domain.settings import QualifyingActivity as Activity
from ledger.eventlog.memory import InMemoryEventLog
from ledger.outcomes import AccountView
from ledger.requests import Request
from tests.conftest import FakeClock

from .scenario import MEMBER, PROGRAM_ID, Folded, given, lot, then, when

T0 = datetime(2026, 3, 1, 18, 50, tzinfo=UTC)
DAYS = 90
DEADLINE = "2026-05-31T00:00:00.000000Z"
"""90 days after T0 end on May 30th: the balance lasts until the end of that day, UTC."""

SETTINGS = ProgramSettings(
    earn_rates=(EarnRate("USD", 1),),
    negative_balance_policy=NegativeBalancePolicy.ALLOW_NEGATIVE,
    inactivity_expiry_days=DAYS,
    qualifying_activities=(Activity.PURCHASE, Activity.REDEMPTION),
)
PROGRAM = ProgramState(revision=4, program_id=PROGRAM_ID, settings=SETTINGS)


def enrolled_at(now: datetime = T0) -> list[Event]:
    return when(given(), Enroll(PROGRAM_ID, MEMBER), now=now, program=PROGRAM)


def member_with(*commands: tuple[Command, datetime]) -> Folded:
    """An account enrolled at T0 that then ran `commands` at their times."""
    account = then(given(), enrolled_at())
    for command, now in commands:
        account = then(account, when(account, command, now=now, program=PROGRAM))
    return account


def test_enrolment_starts_the_inactivity_count_under_the_programs_revision() -> None:
    [_, scheduled] = enrolled_at()

    assert scheduled == InactivityExpiryScheduled(DEADLINE, 4)


def test_a_qualifying_activity_moves_the_deadline_to_its_own_day_plus_the_period() -> None:
    account = member_with((RecordPurchase("o-1", 5_000, "USD", 2), T0))
    later = T0 + timedelta(days=60)

    events = when(account, RedeemPoints(10), now=later, program=PROGRAM)

    assert events[-1] == InactivityExpiryScheduled("2026-07-30T00:00:00.000000Z", 4)
    assert then(account, events).balance_expires_at == "2026-07-30T00:00:00.000000Z"


def test_inactivity_expiry_moved_by_a_later_activity_spares_the_balance_at_the_old_deadline() -> (
    None
):
    account = member_with(
        (RecordPurchase("o-1", 5_000, "USD", 2), T0),
        (RecordPurchase("o-2", 2_000, "USD", 2), T0 + timedelta(days=80)),
    )
    old_deadline = clock.parse_instant(DEADLINE)

    assert when(account, Sweep(), now=old_deadline, program=PROGRAM) == []
    assert next_due_at(account) == "2026-08-19T00:00:00.000000Z"  # May 20th + 90 days


def test_the_whole_balance_expires_at_the_deadline_after_the_dated_lots() -> None:
    account = member_with((RecordPurchase("o-1", 5_000, "USD", 2), T0))
    account = then(account, [PointsEarned(7, "old lot", "2026-04-01T00:00:00.000000Z", 1)])
    deadline = clock.parse_instant(DEADLINE)

    assert when(account, Sweep(), now=deadline - timedelta(microseconds=1), program=PROGRAM) == [
        PointsExpired("2026-04-01T00:00:00.000000Z", 7)
    ]
    events = when(account, Sweep(), now=deadline, program=PROGRAM)

    assert events == [
        PointsExpired("2026-04-01T00:00:00.000000Z", 7),
        InactiveBalanceExpired(DEADLINE, 50, (lot(None, 50),)),
    ]
    state = then(account, events)
    assert state.balances == Balances(available=0, lifetime_earned=57, expired=57)
    assert next_due_at(state) is None


def test_an_activity_after_the_deadline_comes_too_late_for_the_old_balance() -> None:
    account = member_with((RecordPurchase("o-1", 5_000, "USD", 2), T0))
    after = clock.parse_instant(DEADLINE) + timedelta(days=3)

    events = when(account, RecordPurchase("o-2", 1_000, "USD", 2), now=after, program=PROGRAM)

    assert [type(event) for event in events] == [
        InactiveBalanceExpired,
        PurchaseRecorded,
        InactivityExpiryScheduled,
    ]
    assert then(account, events).balances.available == 10


def test_activity_the_program_does_not_count_leaves_the_deadline_where_it_was() -> None:
    account = member_with((RecordPurchase("o-1", 5_000, "USD", 2), T0))
    later = T0 + timedelta(days=30)

    earn = when(account, EarnPoints(5, "review"), now=later, program=PROGRAM)
    adjust = when(account, AdjustPoints(5, "goodwill", "", "agent:1"), now=later, program=PROGRAM)

    assert [type(event) for event in earn + adjust] == [PointsEarned, type(adjust[0])]
    assert then(account, earn + adjust).balance_expires_at == DEADLINE


def test_a_second_activity_the_same_day_appends_no_new_deadline() -> None:
    account = member_with((RecordPurchase("o-1", 5_000, "USD", 2), T0))

    events = when(
        account, RecordPurchase("o-2", 1_000, "USD", 2), now=T0 + timedelta(hours=2),
        program=PROGRAM,
    )  # fmt: skip

    assert [type(event) for event in events] == [PurchaseRecorded]


def test_inactivity_expiry_of_a_zero_balance_has_nothing_to_expire() -> None:
    account = member_with()
    deadline = clock.parse_instant(DEADLINE)

    assert next_due_at(account) is None
    assert when(account, Sweep(), now=deadline + timedelta(days=1), program=PROGRAM) == []


def test_inactivity_expiry_of_a_negative_balance_has_nothing_to_expire() -> None:
    account = member_with(
        (RecordPurchase("o-1", 5_000, "USD", 2), T0),
        (RedeemPoints(50), T0 + timedelta(days=1)),
    )
    account = then(account, [PurchaseRefunded("o-1", 5_000, 50, 0, (), 50, 0)])
    assert account.balances.available == -50

    assert next_due_at(account) is None
    events = when(account, Sweep(), now=datetime(2026, 12, 1, tzinfo=UTC), program=PROGRAM)

    assert events == []
    assert then(account, events).balances.available == -50


def test_a_program_that_drops_inactivity_expiry_spares_balances_and_clears_the_deadline() -> None:
    account = member_with((RecordPurchase("o-1", 5_000, "USD", 2), T0))
    dropped = ProgramState(5, PROGRAM_ID, ProgramSettings(earn_rates=SETTINGS.earn_rates))
    after = clock.parse_instant(DEADLINE) + timedelta(days=1)

    events = when(account, Sweep(), now=after, program=dropped)

    assert events == [InactivityExpiryScheduled(None, 5)]
    state = then(account, events)
    assert state.balances.available == 50
    assert next_due_at(state) is None


def test_the_account_answer_shows_when_the_balance_expires_if_the_member_stays_inactive() -> None:
    account = member_with((RecordPurchase("o-1", 5_000, "USD", 2), T0))

    view = AccountView.of(PROGRAM_ID, MEMBER, account, 3, clock.instant(T0))

    assert view.balance_expires_at == DEADLINE
    assert AccountView.of(PROGRAM_ID, MEMBER, member_with(), 2, "").balance_expires_at is None


# --- the sweep, through the ledger with a fixed clock -------------------------------------------


async def test_the_sweep_appends_the_inactivity_expiry_once_even_run_twice_or_by_two_ledgers() -> (
    None
):
    log = InMemoryEventLog()
    clock_now = FakeClock(T0)
    target = Target("shop", "ana")
    async with (
        bootstrap.memory_ledger(clock_now, log=log) as one,
        bootstrap.memory_ledger(clock_now, log=log) as other,
    ):
        await one.execute(Request(Target("shop"), CreateProgram("shop", SETTINGS), "p"))
        await one.execute(Request(target, Enroll("shop", "ana"), "e"))
        await one.execute(Request(target, RecordPurchase("o-1", 5_000, "USD", 2), "buy"))
        clock_now.current = clock.parse_instant(DEADLINE) - timedelta(seconds=1)
        assert await one.sweep() == 0
        assert (await one.get_account("shop", "ana", "name")).balance_expires_at == DEADLINE
        clock_now.current = clock.parse_instant(DEADLINE)

        at_once = await asyncio.gather(one.sweep(), other.sweep())
        again = await one.sweep()

        account = await other.get_account("shop", "ana", "name")
    assert (sum(at_once), again) == (1, 0)
    assert account.balances == Balances(available=0, lifetime_earned=50, expired=50)
    assert account.balance_expires_at is None
    expired = [r for r in log._all if r.event_type == "InactiveBalanceExpired"]
    assert len(expired) == 1


def test_a_reward_redeemed_counts_as_a_redemption_and_a_refund_as_no_activity() -> None:
    reward = RewardRedeemed(
        "r10", "ABCD-EFGH", 5, (lot(None, 5),), "", 3, "$10 off", "amount_off", 1_000, "USD", 0, ""
    )

    assert activity_of(reward) is Activity.REDEMPTION
    assert activity_of(PurchaseRefunded("o-1", 100, 1, 0, (), 0, 0)) is None
