"""The real Ledger on the real PostgreSQL test database, driven by a hypothesis state machine
next to a small model of what every account should hold.

Each machine run gets a fresh program (WITHIN_BALANCE, 10 points per USD, a 7-day return
window, 30-day expiry, 15-minute holds) with two members, and its own event loop
(asyncio.Runner) holding the Ledger and its pool. Rules earn, buy, confirm, refund, redeem,
reserve, commit, cancel, move the clock past a hold's TTL, the return window or an expiry
date, sweep, and re-send earlier requests. After every step: the stored balances equal the
model's, available is never negative, and the program's event count is exactly what the model
says was appended (so refused commands and retries append nothing). At teardown the audit
replay of the program verifies the hash chains and recomputes the same balances.
"""

import asyncio
import contextlib
import copy
import dataclasses
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger import bootstrap
from ledger.application import Ledger
from ledger.audit.replay import replay
from ledger.domain import commands as cmd
from ledger.domain.account import Balances
from ledger.domain.decisions import Target
from ledger.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    LedgerError,
    NotFound,
)
from ledger.domain.settings import EarnRate, NegativeBalancePolicy, ProgramSettings
from ledger.outcomes import MAX_EXPIRING_LISTED, AccountView, Outcome
from ledger.requests import Request
from tests.conftest import T0, FakeClock, request_id, unique
from tests.integration.ledgers import member_key

T = TypeVar("T")

POINTS_PER_USD = 10
RETURN_WINDOW_DAYS = 7
EXPIRY_DAYS = 30
HOLD_TTL_SECONDS = 900
MAX_OPEN_HOLDS = 100
MEMBERS = 2

SETTINGS = ProgramSettings(
    display_name="property program",
    earn_rates=(EarnRate("USD", POINTS_PER_USD, 1),),
    return_window_days=RETURN_WINDOW_DAYS,
    points_expiry_days=EXPIRY_DAYS,
    negative_balance_policy=NegativeBalancePolicy.WITHIN_BALANCE,
    max_hold_ttl_seconds=HOLD_TTL_SECONDS,
)

STATS: Counter[str] = Counter()
"""What the machine did, over every run of the test (printed as one line)."""

# --- the model -------------------------------------------------------------------------------

Portion = tuple[str | None, int]
"""(expiry day or None, points)"""


class Refused(Exception):
    """The model's verdict: the ledger must refuse the command with this error type."""

    def __init__(self, error: type[LedgerError]) -> None:
        super().__init__(error.__name__)
        self.error = error


def _soonest_first(day: str | None) -> tuple[bool, str]:
    return (day is None, day or "")


def take(portions: list[Portion], points: int) -> list[Portion]:
    """`points` from `portions`, soonest-expiring first (never-expiring last)."""
    taken: list[Portion] = []
    wanted = points
    for day, held in sorted(portions, key=lambda p: _soonest_first(p[0])):
        if wanted == 0:
            break
        used = min(held, wanted)
        if used:
            taken.append((day, used))
            wanted -= used
    return taken


def take_latest(portions: list[Portion], points: int) -> list[Portion]:
    """`points` from `portions`, latest-expiring first (what a partial commit gives back)."""
    taken: list[Portion] = []
    wanted = points
    for day, held in sorted(portions, key=lambda p: _soonest_first(p[0]), reverse=True):
        if wanted == 0:
            break
        used = min(held, wanted)
        if used:
            taken.append((day, used))
            wanted -= used
    return taken


def expiry_day(now: datetime) -> str:
    """The instant points earned at `now` expire: the end of the (UTC) day on which their
    EXPIRY_DAYS end, so never sooner than EXPIRY_DAYS."""
    last_day = (now.astimezone(UTC) + timedelta(days=EXPIRY_DAYS)).date()
    return f"{last_day + timedelta(days=1)}T00:00:00.000000Z"


@dataclass
class ModelHold:
    points: int
    expires_at: datetime
    taken: list[Portion]


@dataclass
class ModelPending:
    points: int
    release_at: datetime
    expires_on: str


@dataclass
class ModelOrder:
    amount_minor: int
    points: int
    refunded_minor: int = 0
    clawed_back: int = 0
    written_off: int = 0


@dataclass
class ModelAccount:
    """What one account should hold. Methods return the number of events the ledger should
    append, or raise Refused; callers work on a copy and keep it only if not refused."""

    lots: dict[str | None, int] = field(default_factory=dict)
    pending: dict[str, ModelPending] = field(default_factory=dict)
    holds: dict[str, ModelHold] = field(default_factory=dict)
    orders: dict[str, ModelOrder] = field(default_factory=dict)
    available: int = 0
    pending_points: int = 0
    held: int = 0
    earned: int = 0
    redeemed: int = 0
    expired: int = 0

    def balances(self) -> Balances:
        return Balances(
            available=self.available,
            pending=self.pending_points,
            held=self.held,
            lifetime_earned=self.earned,
            lifetime_redeemed=self.redeemed,
            expired=self.expired,
        )

    def _credit(self, portions: list[Portion]) -> None:
        for day, points in portions:
            if points:
                self.lots[day] = self.lots.get(day, 0) + points
                self.available += points

    def _debit(self, portions: list[Portion]) -> None:
        for day, points in portions:
            left = self.lots[day] - points
            assert left >= 0, "model took more than a lot holds"
            if left:
                self.lots[day] = left
            else:
                del self.lots[day]
            self.available -= points

    def expiring(self) -> list[Portion]:
        dated: list[Portion] = sorted(
            (day, points) for day, points in self.lots.items() if day is not None
        )
        return dated[:MAX_EXPIRING_LISTED]

    def _portions(self) -> list[Portion]:
        return list(self.lots.items())

    def expire_due(self, now: datetime) -> int:
        current = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        due = sorted(day for day in self.lots if day is not None and day <= current)
        for day in due:
            points = self.lots.pop(day)
            self.available -= points
            self.expired += points
        return len(due)

    def housekeeping(self, now: datetime) -> int:
        """Lapsed holds back, pending past the window released, then lots past their day."""
        appended = 0
        for reservation_id in sorted(self.holds):
            hold = self.holds[reservation_id]
            if hold.expires_at <= now:
                del self.holds[reservation_id]
                self.held -= hold.points
                self._credit(hold.taken)
                appended += 1
        for order_id in sorted(self.pending):
            entry = self.pending[order_id]
            if entry.release_at <= now:
                del self.pending[order_id]
                self.pending_points -= entry.points
                self._credit([(entry.expires_on, entry.points)])
                appended += 1
        return appended + self.expire_due(now)

    # --- commands (after housekeeping) ---------------------------------------------------

    def earn(self, now: datetime, points: int) -> int:
        self._credit([(expiry_day(now), points)])
        self.earned += points
        return 1

    def purchase(self, now: datetime, order_id: str, amount_minor: int) -> int:
        if order_id in self.orders:
            raise Refused(AlreadyExists)
        points = amount_minor * POINTS_PER_USD // 100
        self.orders[order_id] = ModelOrder(amount_minor, points)
        if points:
            release_at = now + timedelta(days=RETURN_WINDOW_DAYS)
            self.pending[order_id] = ModelPending(points, release_at, expiry_day(now))
            self.pending_points += points
            self.earned += points
        return 1

    def confirm(self, order_id: str) -> int:
        if order_id not in self.orders:
            raise Refused(NotFound)
        entry = self.pending.pop(order_id, None)
        if entry is None:
            return 0
        self.pending_points -= entry.points
        self._credit([(entry.expires_on, entry.points)])
        return 1

    def refund(self, order_id: str, amount_minor: int) -> int:
        order = self.orders.get(order_id)
        if order is None:
            raise Refused(NotFound)
        if amount_minor > order.amount_minor - order.refunded_minor:
            raise Refused(InvalidArgument)
        refunded = order.refunded_minor + amount_minor
        wanted = order.points * refunded // order.amount_minor - order.clawed_back
        wanted -= order.written_off
        entry = self.pending.get(order_id)
        from_pending = min(wanted, entry.points) if entry else 0
        rest = wanted - from_pending
        from_available: list[Portion] = []
        if rest:  # WITHIN_BALANCE: what is still available, never below zero
            from_available = take(self._portions(), min(rest, max(self.available, 0)))
            rest -= sum(points for _, points in from_available)
        if entry is not None and from_pending:
            entry.points -= from_pending
            if not entry.points:
                del self.pending[order_id]
        self.pending_points -= from_pending
        self._debit(from_available)
        self.earned -= wanted - rest
        order.refunded_minor = refunded
        order.clawed_back += wanted - rest
        order.written_off += rest
        return 1

    def redeem(self, points: int) -> int:
        if self.available < points:
            raise Refused(FailedPrecondition)
        self._debit(take(self._portions(), points))
        self.redeemed += points
        return 1

    def reserve(self, now: datetime, reservation_id: str, points: int, ttl_seconds: int) -> int:
        if reservation_id in self.holds:
            raise Refused(AlreadyExists)
        if len(self.holds) >= MAX_OPEN_HOLDS:
            raise Refused(FailedPrecondition)
        ttl = ttl_seconds or HOLD_TTL_SECONDS
        if ttl > HOLD_TTL_SECONDS:
            raise Refused(InvalidArgument)
        if self.available < points:
            raise Refused(FailedPrecondition)
        taken = take(self._portions(), points)
        self._debit(taken)
        self.held += points
        self.holds[reservation_id] = ModelHold(points, now + timedelta(seconds=ttl), taken)
        return 1

    def commit(self, reservation_id: str, points: int) -> int:
        hold = self.holds.get(reservation_id)
        if hold is None:
            raise Refused(NotFound)
        redeemed = points or hold.points
        if redeemed > hold.points:
            raise Refused(InvalidArgument)
        del self.holds[reservation_id]
        self.held -= hold.points
        self.redeemed += redeemed
        self._credit(take_latest(hold.taken, hold.points - redeemed))
        return 1

    def cancel(self, reservation_id: str) -> int:
        hold = self.holds.pop(reservation_id, None)
        if hold is None:
            raise Refused(NotFound)
        self.held -= hold.points
        self._credit(hold.taken)
        return 1


# --- the machine -----------------------------------------------------------------------------

members = st.integers(0, MEMBERS - 1)
order_ids = st.sampled_from(["o-1", "o-2", "o-3"])
reservation_ids = st.sampled_from(["r-1", "r-2"])
amounts = st.integers(1, 100_000)  # USD cents: up to 10,000 points per purchase
clock_steps = st.sampled_from(
    [
        timedelta(minutes=5),
        timedelta(seconds=HOLD_TTL_SECONDS),  # exactly at a hold's end: it lapses
        timedelta(seconds=HOLD_TTL_SECONDS + 1),
        timedelta(hours=20),
        timedelta(days=RETURN_WINDOW_DAYS, seconds=1),
        timedelta(days=EXPIRY_DAYS),
        timedelta(days=EXPIRY_DAYS + 1),
    ]
)


class LedgerMachine(RuleBasedStateMachine):
    database_url: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        STATS["runs"] += 1
        self.runner = asyncio.Runner()
        self.clock = FakeClock(T0)
        self.program_id = unique("prop")
        self.members = [unique("member") for _ in range(MEMBERS)]
        self.model = [ModelAccount() for _ in range(MEMBERS)]
        self.expected_events = 0
        self.answered: list[tuple[Request, Outcome]] = []
        self.resources = contextlib.AsyncExitStack()
        self.ledger: Ledger | None = None
        self.run(self._start())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)

    async def _start(self) -> None:
        self.ledger = await self.resources.enter_async_context(
            bootstrap.postgres_ledger(
                self.database_url, self.clock, shards=2, pool_min_size=1, pool_max_size=4
            )
        )

    @property
    def running(self) -> Ledger:
        assert self.ledger is not None
        return self.ledger

    async def _count_events(self) -> int:
        async with await psycopg.AsyncConnection.connect(self.database_url) as connection:
            cursor = await connection.execute(
                "SELECT count(*) FROM ledger.events WHERE program_id = %s", (self.program_id,)
            )
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def _views(self) -> list[AccountView]:
        return list(
            await asyncio.gather(
                *(self.running.get_account(self.program_id, m, "name") for m in self.members)
            )
        )

    async def _balances(self) -> list[Balances]:
        return [view.balances for view in await self._views()]

    @initialize()
    def create_program_and_members(self) -> None:
        program = cmd.CreateProgram(self.program_id, SETTINGS)
        self.run(self.running.execute(Request(Target(self.program_id), program, request_id())))
        for member_id in self.members:
            enroll = cmd.Enroll(self.program_id, member_id)
            self.run(
                self.running.execute(
                    Request(Target(self.program_id, member_id), enroll, request_id())
                )
            )
        self.expected_events = 1 + MEMBERS

    # --- sending a command next to the model ---------------------------------------------

    def send(
        self, member: int, command: cmd.Command, decide: Callable[[ModelAccount], int]
    ) -> None:
        """Executes `command` for `member` and checks the outcome against the model's."""
        now = self.clock()
        trial = copy.deepcopy(self.model[member])
        expected: type[LedgerError] | None = None
        appended = trial.housekeeping(now)
        try:
            appended += decide(trial)
            # Points a command gives back to a lot already past its day expire at once.
            appended += trial.expire_due(now)
        except Refused as refused:
            expected = refused.error
        request = Request(Target(self.program_id, self.members[member]), command, request_id())
        STATS["commands"] += 1
        STATS[f"command:{type(command).__name__}"] += 1
        try:
            outcome = self.run(self.running.execute(request))
        except LedgerError as error:
            assert expected is not None, f"{command!r} refused ({error!r}); the model accepts it"
            assert isinstance(error, expected), f"{command!r}: {error!r}, expected {expected}"
            STATS["refused"] += 1
            STATS[f"refused:{type(error).__name__}"] += 1
            return
        assert expected is None, f"{command!r} accepted; the model refuses it ({expected})"
        assert outcome.appended == appended, (outcome, appended)
        self.model[member] = trial
        self.expected_events += appended
        # A retry gets the same answer, appending nothing.
        self.answered.append((request, dataclasses.replace(outcome, appended=0)))

    # --- rules ---------------------------------------------------------------------------

    @rule(member=members, points=st.integers(1, 5_000))
    def earn(self, member: int, points: int) -> None:
        now = self.clock()
        self.send(member, cmd.EarnPoints(points, "bonus"), lambda m: m.earn(now, points))

    @rule(member=members, points=st.integers(1, 5_000), days=st.integers(1, 3))
    def earn_days_later(self, member: int, points: int, days: int) -> None:
        """Points earned on another day go to another lot (another expiry date)."""
        self.clock.current += timedelta(days=days)
        STATS["clock_advances"] += 1
        self.earn(member, points)

    @rule(member=members, order_id=order_ids, amount=amounts)
    def purchase(self, member: int, order_id: str, amount: int) -> None:
        now = self.clock()
        command = cmd.RecordPurchase(order_id, amount, "USD", 2)
        self.send(member, command, lambda m: m.purchase(now, order_id, amount))

    @rule(member=members, order_id=order_ids)
    def confirm(self, member: int, order_id: str) -> None:
        self.send(member, cmd.ConfirmOrder(order_id), lambda m: m.confirm(order_id))

    @rule(member=members, order_id=order_ids, amount=amounts)
    def refund(self, member: int, order_id: str, amount: int) -> None:
        command = cmd.RefundPurchase(order_id, amount, "USD")
        self.send(member, command, lambda m: m.refund(order_id, amount))

    @precondition(lambda self: any(m.orders for m in self.model))
    @rule(data=st.data())
    def refund_part_of_an_order(self, data: st.DataObject) -> None:
        """A partial (sometimes the whole remaining) refund of an order the member placed."""
        member, order_id = data.draw(
            st.sampled_from([(i, o) for i, m in enumerate(self.model) for o in sorted(m.orders)]),
            label="order",
        )
        order = self.model[member].orders[order_id]
        left = order.amount_minor - order.refunded_minor
        amount = data.draw(st.integers(1, max(left, 1)), label="amount")
        command = cmd.RefundPurchase(order_id, amount, "USD")
        self.send(member, command, lambda m: m.refund(order_id, amount))

    @rule(member=members, points=st.integers(1, 3_000))
    def redeem(self, member: int, points: int) -> None:
        self.send(member, cmd.RedeemPoints(points, "checkout"), lambda m: m.redeem(points))

    @rule(
        member=members,
        reservation_id=reservation_ids,
        points=st.integers(1, 3_000),
        ttl=st.sampled_from([0, 60, HOLD_TTL_SECONDS, HOLD_TTL_SECONDS + 1]),
    )
    def reserve(self, member: int, reservation_id: str, points: int, ttl: int) -> None:
        now = self.clock()
        command = cmd.ReservePoints(reservation_id, points, ttl)
        self.send(member, command, lambda m: m.reserve(now, reservation_id, points, ttl))

    @rule(
        member=members,
        reservation_id=reservation_ids,
        points=st.one_of(st.just(0), st.integers(1, 3_000)),
    )
    def commit(self, member: int, reservation_id: str, points: int) -> None:
        """points=0 commits the whole hold; fewer commits part and gives the rest back."""
        command = cmd.CommitReservation(reservation_id, points)
        self.send(member, command, lambda m: m.commit(reservation_id, points))

    @rule(member=members, reservation_id=reservation_ids)
    def cancel(self, member: int, reservation_id: str) -> None:
        self.send(member, cmd.CancelReservation(reservation_id), lambda m: m.cancel(reservation_id))

    def _open_hold(self, data: st.DataObject) -> tuple[int, str, ModelHold]:
        member, reservation_id = data.draw(
            st.sampled_from([(i, r) for i, m in enumerate(self.model) for r in sorted(m.holds)]),
            label="hold",
        )
        return member, reservation_id, self.model[member].holds[reservation_id]

    @precondition(lambda self: any(m.holds for m in self.model))
    @rule(data=st.data())
    def commit_an_open_hold(self, data: st.DataObject) -> None:
        """Full (0), partial, or more than held (refused) -- unless the hold lapsed meanwhile."""
        member, reservation_id, hold = self._open_hold(data)
        points = data.draw(st.integers(0, hold.points + 1), label="points")
        command = cmd.CommitReservation(reservation_id, points)
        self.send(member, command, lambda m: m.commit(reservation_id, points))

    @precondition(lambda self: any(m.holds for m in self.model))
    @rule(data=st.data())
    def cancel_an_open_hold(self, data: st.DataObject) -> None:
        member, reservation_id, _ = self._open_hold(data)
        self.send(member, cmd.CancelReservation(reservation_id), lambda m: m.cancel(reservation_id))

    @rule(step=clock_steps)
    def advance_clock(self, step: timedelta) -> None:
        self.clock.current += step
        STATS["clock_advances"] += 1

    @rule()
    def sweep(self) -> None:
        now = self.clock()
        self.expected_events += sum(account.housekeeping(now) for account in self.model)
        # The sweep takes every due stream of the database (other tests' too), oldest first,
        # a bounded number per pass: pass until nothing is left.
        for _ in range(100):
            if self.run(self.running.sweep()) == 0:
                break
        STATS["sweeps"] += 1

    @rule(step=clock_steps)
    def advance_clock_and_sweep(self, step: timedelta) -> None:
        """Past a hold's TTL, the return window or an expiry date, then the sweep's pass."""
        self.advance_clock(step)
        self.sweep()

    @precondition(lambda self: bool(self.answered))
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """Callers that timed out send earlier requests again (the latest one first): the
        same answers, nothing appended, whatever happened to the accounts since."""
        earlier = data.draw(
            st.lists(st.sampled_from(self.answered), min_size=0, max_size=4), label="earlier"
        )
        for request, outcome in [self.answered[-1], *earlier]:
            STATS["retries"] += 1
            again = self.run(self.running.execute(request))
            assert again == outcome, request

    @precondition(lambda self: bool(self.answered))
    @rule(data=st.data(), points=st.integers(1, 100))
    def reuse_request_id(self, data: st.DataObject, points: int) -> None:
        """The same request id for a different request: ALREADY_EXISTS, nothing appended."""
        request, _ = data.draw(st.sampled_from(self.answered), label="earlier request")
        other = dataclasses.replace(request, command=cmd.EarnPoints(points, "reused_id"))
        STATS["reused_ids"] += 1
        with pytest.raises(AlreadyExists) as refused:
            self.run(self.running.execute(other))
        assert refused.value.reason == "REQUEST_ID_REUSED"

    @rule(member=members, points=st.integers(1, 500), copies=st.integers(2, 4))
    def earn_sent_several_times_at_once(self, member: int, points: int, copies: int) -> None:
        """Duplicates racing each other are applied once and all get the one answer."""
        request = Request(
            Target(self.program_id, self.members[member]),
            cmd.EarnPoints(points, "bonus"),
            request_id(),
        )
        trial = copy.deepcopy(self.model[member])
        now = self.clock()
        appended = trial.housekeeping(now) + trial.earn(now, points)

        async def race() -> list[Outcome]:
            return list(
                await asyncio.gather(*(self.running.execute(request) for _ in range(copies)))
            )

        outcomes = self.run(race())
        STATS["commands"] += 1
        STATS["duplicates_sent"] += copies - 1
        # One of them appended; the others got its answer.
        assert sum(outcome.appended for outcome in outcomes) == appended
        answers = [dataclasses.replace(outcome, appended=0) for outcome in outcomes]
        assert all(answer == answers[0] for answer in answers)
        self.model[member] = trial
        self.expected_events += appended
        self.answered.append((request, answers[0]))

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def stored_state_equals_the_model(self) -> None:
        if self.expected_events == 0:
            return  # before the program exists
        STATS["invariant_checks"] += 1
        for member, view in enumerate(self.run(self._views())):
            # An account reads as of now: what housekeeping would append now shows as done.
            model = copy.deepcopy(self.model[member])
            model.housekeeping(self.clock())
            assert view.balances.available >= 0, view.balances
            assert view.balances == model.balances(), (member, model)
            # Which points expire when: the lots, soonest first (as GetAccount lists them).
            assert [(p.expires_on, p.points) for p in view.expiring] == model.expiring(), model
        assert self.run(self._count_events()) == self.expected_events

    def teardown(self) -> None:
        try:
            if self.expected_events:
                result = replay(self.database_url, self.program_id, keep_balances=True)
                assert result.ok, result.discrepancies[:5]
                assert result.events == self.expected_events
                for member_id, model in zip(self.members, self.model, strict=True):
                    key = member_key(self.database_url, self.program_id, member_id)
                    assert result.final_balances[(self.program_id, key)] == model.balances()
                STATS["replays_ok"] += 1
        finally:
            self.run(self.resources.aclose())
            self.runner.close()


def test_the_ledger_agrees_with_a_model_of_every_account(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    STATS.clear()
    LedgerMachine.database_url = database_url
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    with capsys.disabled():
        print(
            f"\n[stateful] runs={STATS['runs']} commands={STATS['commands']} "
            f"refused={STATS['refused']} retries={STATS['retries']} "
            f"reused_ids={STATS['reused_ids']} duplicates={STATS['duplicates_sent']} "
            f"clock_advances={STATS['clock_advances']} sweeps={STATS['sweeps']} "
            f"steps={STATS['invariant_checks']} (invariants checked after each) "
            f"replays_ok={STATS['replays_ok']}: "
            "all held"
        )
        print("[stateful] " + " ".join(f"{k}={v}" for k, v in sorted(STATS.items()) if ":" in k))
