"""Whatever members and callers do, in whatever order, the books balance.

Random sequences of commands at random times go through `decide` and `evolve`; refused ones
append nothing and are skipped. After every step the state's invariants hold, and its balances
equal what an independent tally of the appended events says they should be.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import given as for_all
from hypothesis import settings
from hypothesis import strategies as st

from ledger.codec import snapshots
from ledger.domain import clock
from ledger.domain.account import AccountState
from ledger.domain.commands import (
    AdjustPoints,
    CancelReservation,
    Command,
    CommitReservation,
    ConfirmOrder,
    EarnPoints,
    RecordPurchase,
    RedeemPoints,
    RefundPurchase,
    ReservePoints,
    Sweep,
)
from ledger.domain.decide import housekeeping, next_due_at
from ledger.domain.errors import LedgerError
from ledger.domain.events import (
    Event,
    PendingPointsReleased,
    PointsAdjusted,
    PointsEarned,
    PointsExpired,
    PointsRedeemed,
    PointsReserved,
    PurchaseRecorded,
    PurchaseRefunded,
    ReservationCommitted,
    ReservationReleased,
)
from ledger.domain.kinds import ACCOUNT
from ledger.domain.settings import NegativeBalancePolicy

from .scenario import T0, enrolled, fold, given, program, when

# Few ids, so that confirmations, refunds, commits and cancels often find what they name.
ORDERS = ("o-0", "o-1")
RESERVATIONS = ("r-0", "r-1")
MAX_STEPS = 50

commands: st.SearchStrategy[Command] = st.one_of(
    st.builds(
        RecordPurchase,
        st.sampled_from(ORDERS),
        st.integers(5_000, 50_000),
        st.just("USD"),
        st.just(2),
    ),
    st.builds(ConfirmOrder, st.sampled_from(ORDERS)),
    st.builds(RefundPurchase, st.sampled_from(ORDERS), st.integers(1, 20_000), st.just("USD")),
    st.builds(EarnPoints, st.integers(1, 500), st.just("bonus")),
    st.builds(RedeemPoints, st.integers(1, 300)),
    st.builds(
        ReservePoints, st.sampled_from(RESERVATIONS), st.integers(1, 200), st.integers(0, 900)
    ),
    st.builds(
        CommitReservation, st.sampled_from(RESERVATIONS), st.one_of(st.just(0), st.integers(1, 100))
    ),
    st.builds(CancelReservation, st.sampled_from(RESERVATIONS)),
    st.builds(
        AdjustPoints,
        st.integers(-500, 500).filter(bool),
        st.just("goodwill"),
        st.just(""),
        st.just("agent"),
    ),
    st.just(Sweep()),
)
# Mostly short pauses (holds live 900 seconds by default), some past return windows and expiry.
pauses_seconds = st.sampled_from([0, 0, 0, 1, 60, 300, 3_600, 86_400, 3 * 86_400, 15 * 86_400])
steps = st.lists(st.tuples(pauses_seconds, commands), max_size=MAX_STEPS)


@dataclass
class Tally:
    """Balances as the appended events alone say they should be, without `evolve`."""

    available: int = 0
    pending: int = 0
    held: int = 0
    earned: int = 0
    redeemed: int = 0
    expired: int = 0
    adjusted_down: int = 0
    order_points: dict[str, int] = field(default_factory=dict)
    clawed_back: dict[str, int] = field(default_factory=dict)

    def count(self, event: Event) -> None:
        match event:
            case PurchaseRecorded():
                self.order_points[event.order_id] = event.points
                self.earned += event.points
                if event.release_at is None:
                    self.available += event.points
                else:
                    self.pending += event.points
            case PendingPointsReleased():
                self.pending -= event.points
                self.available += event.points
            case PurchaseRefunded():
                self.clawed_back[event.order_id] = (
                    self.clawed_back.get(event.order_id, 0) + event.points_clawed_back
                )
                self.earned -= event.points_clawed_back
                self.pending -= event.from_pending
                self.available -= event.points_clawed_back - event.from_pending
            case PointsEarned():
                self.earned += event.points
                self.available += event.points
            case PointsAdjusted():
                if event.points_delta_requested > 0:
                    self.earned += event.points_delta_requested
                else:
                    self.adjusted_down -= event.points_delta_requested
                self.available += event.points_delta_requested
            case PointsRedeemed():
                self.redeemed += event.points
                self.available -= event.points
            case PointsReserved():
                self.held += event.points
                self.available -= event.points
            case ReservationCommitted():
                self.held -= event.points_redeemed + event.points_released
                self.redeemed += event.points_redeemed
                self.available += event.points_released
            case ReservationReleased():
                self.held -= event.points_released
                self.available += event.points_released
            case PointsExpired():
                self.expired += event.points
                self.available -= event.points
            case _:
                raise AssertionError(f"unexpected {event!r}")


def check(state: AccountState, tally: Tally, points_delta_sum: int, now: datetime) -> None:
    state.check_invariants()
    balances = state.balances
    assert balances.available == tally.available
    assert balances.pending == tally.pending
    assert balances.held == tally.held
    assert balances.lifetime_earned == tally.earned
    assert balances.lifetime_redeemed == tally.redeemed
    assert balances.expired == tally.expired
    assert balances.available + balances.pending == points_delta_sum
    # Conservation: every point earned is available, pending, held, redeemed, expired or taken.
    assert balances.available + balances.pending + balances.held == (
        tally.earned - tally.redeemed - tally.expired - tally.adjusted_down
    )
    for order_id, clawed_back in tally.clawed_back.items():
        assert 0 <= clawed_back <= tally.order_points[order_id]
    # Nothing is due before the instant `next_due_at` names.
    due = next_due_at(state)
    if due is not None and clock.parse_instant(due) > now:
        assert housekeeping(state, clock.parse_instant(due) - timedelta(microseconds=1)) == []


@settings(max_examples=200, deadline=None)
@for_all(
    history=steps,
    policy=st.sampled_from(NegativeBalancePolicy),
    return_window_days=st.sampled_from([0, 14]),
    points_expiry_days=st.sampled_from([0, 10, 365]),
)
def test_any_sequence_of_commands_keeps_balances_equal_to_the_events_and_invariants_true(
    history: list[tuple[int, Command]],
    policy: NegativeBalancePolicy,
    return_window_days: int,
    points_expiry_days: int,
) -> None:
    rules = program(
        policy=policy,
        return_window_days=return_window_days,
        points_expiry_days=points_expiry_days,
    )
    state = given(enrolled())
    tally = Tally()
    points_delta_sum = 0
    now = T0
    welcome = (0, EarnPoints(1_000, "welcome"))  # so that spending is not mostly refused
    for pause_seconds, command in [welcome, *history]:
        now += timedelta(seconds=pause_seconds)
        try:
            events = when(state, command, now=now, program=rules)
        except LedgerError:
            continue  # refused: nothing appended
        state = fold(state, events)
        for event in events:
            tally.count(event)
            points_delta_sum += event.points_delta
        check(state, tally, points_delta_sum, now)
        if policy is not NegativeBalancePolicy.ALLOW_NEGATIVE:
            assert state.balances.available >= 0

    snapshot = snapshots.decode(ACCOUNT, snapshots.encode(ACCOUNT, state))
    assert snapshot == AccountState(**{k: v for k, v in vars(state).items() if k != "orders"})
