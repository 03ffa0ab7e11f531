"""The grammar of the domain tests: given events, when a command, then events. No database.

`given(*events)` folds facts into an account state (checking the state's invariants after
every event), `when(state, command, now=...)` asks `decide` for the events a command appends,
and `then(state, events)` folds those in, again checking invariants. Time is always passed in.

The state the tests fold also keeps the orders its events recorded: the ledger reads an
order's events from the log when a command names it, and hands `decide` that order; here
`when` hands it the order folded along the way.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ledger.domain import clock
from ledger.domain.account import AccountState, evolve
from ledger.domain.catalogue import Benefit, BenefitKind, PointValue, Reward
from ledger.domain.commands import Command
from ledger.domain.decide import decide, decide_reward
from ledger.domain.errors import InvalidArgument
from ledger.domain.events import (
    Event,
    LotPortion,
    MemberEnrolled,
    PointsEarned,
    PurchaseRecorded,
)
from ledger.domain.frozen import replace
from ledger.domain.orders import Order, evolve_order, order_id_of
from ledger.domain.program import ProgramState
from ledger.domain.purchase_rules import RuleApplication, RuleKind, earn_rate_rule_id
from ledger.domain.referral_codes import referral_code
from ledger.domain.rewards import StockState, evolve_stock
from ledger.domain.settings import EarnRate, NegativeBalancePolicy, ProgramSettings

PROGRAM_ID = "p"
MEMBER = "member-1"
OTHER_MEMBER = "member-2"

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
"""The moment every scenario starts at unless it says otherwise."""

RETURN_WINDOW_DAYS = 14
POINTS_EXPIRY_DAYS = 365
EXPIRES = "2027-03-02T00:00:00.000000Z"
"""When points earned at T0 expire under the default 365-day policy: at the end of the day
(UTC) on which the 365 days end."""
RELEASE_AT = clock.instant(T0 + timedelta(days=RETURN_WINDOW_DAYS))
"""When points of a purchase made at T0 leave pending under the default 14-day window."""

DEFAULT_RATES = (
    EarnRate("USD", 1),  # 1 point per dollar
    EarnRate("JPY", 1, 100),  # 1 point per 100 yen
    EarnRate("KWD", 10),  # 10 points per dinar
)


def program(
    *,
    revision: int = 1,
    earn_rates: tuple[EarnRate, ...] = DEFAULT_RATES,
    return_window_days: int = RETURN_WINDOW_DAYS,
    points_expiry_days: int = POINTS_EXPIRY_DAYS,
    policy: NegativeBalancePolicy = NegativeBalancePolicy.WITHIN_BALANCE,
    max_hold_ttl_seconds: int = 900,
) -> ProgramState:
    return ProgramState(
        revision=revision,
        program_id=PROGRAM_ID,
        settings=ProgramSettings(
            earn_rates=earn_rates,
            return_window_days=return_window_days,
            points_expiry_days=points_expiry_days,
            negative_balance_policy=policy,
            max_hold_ttl_seconds=max_hold_ttl_seconds,
        ),
    )


PROGRAM = program()


@dataclass(frozen=True)
class Folded(AccountState):
    """An account state with the orders its events recorded."""

    orders: dict[str, Order] = field(default_factory=dict)


def fold(state: AccountState, events: Iterable[Event]) -> Folded:
    folded = state if isinstance(state, Folded) else Folded(**vars(state))
    for event in events:
        evolved = evolve(folded, event)
        assert isinstance(evolved, Folded), "evolve keeps the state's class (it copies it)"
        folded = evolved
        folded.check_invariants()
        order_id = order_id_of(event)
        if order_id is not None:
            order = evolve_order(folded.orders.get(order_id), event)
            if order is not None:
                folded = replace(folded, orders={**folded.orders, order_id: order})
    return folded


def given(*events: Event) -> Folded:
    """The state of an account whose stream holds `events`."""
    return fold(Folded(), events)


def when(
    state: AccountState,
    command: Command,
    *,
    now: datetime = T0,
    program: ProgramState = PROGRAM,
) -> list[Event]:
    """The events `command` appends at `now` (raises the LedgerError that refuses it)."""
    orders = state.orders if isinstance(state, Folded) else {}
    return decide(state, program, command, now, orders)


def then(state: AccountState, events: Iterable[Event]) -> Folded:
    """`state` after `events`, its invariants checked after each."""
    return fold(state, events)


def fields(error: InvalidArgument) -> list[str]:
    """The request fields an InvalidArgument names, in order."""
    return [violation.field for violation in error.violations]


# --- facts for `given` ------------------------------------------------------------------------


def lot(expires_on: str | None, points: int) -> LotPortion:
    return LotPortion(expires_on, points)


def enrolled(member_id: str = MEMBER) -> MemberEnrolled:
    return MemberEnrolled(referral_code(PROGRAM_ID, member_id))


def earned(points: int, expires_on: str | None = EXPIRES, *, revision: int = 1) -> PointsEarned:
    return PointsEarned(points, "bonus", expires_on, revision)


def purchased(
    order_id: str,
    amount_minor: int,
    points: int,
    *,
    currency_code: str = "USD",
    release_at: str | None = RELEASE_AT,
    expires_on: str | None = EXPIRES,
) -> PurchaseRecorded:
    """A purchase without lines recorded at T0 under revision 1 and a rate of 1 point per
    major unit (its earn rate rule gave all its points)."""
    return PurchaseRecorded(
        order_id=order_id,
        amount_minor=amount_minor,
        currency_code=currency_code,
        points=points,
        release_at=release_at,
        expires_on=expires_on,
        program_revision=1,
        rate_points=1,
        rate_per_major_units=1,
        currency_exponent=2,
        rules=(RuleApplication(earn_rate_rule_id(currency_code), RuleKind.EARN_RATE, points),),
    )


# --- rewards: an account and a reward's stock stream ---------------------------------------

TEN_OFF = Reward(
    "ten-off",
    "$10 off",
    100,
    Benefit(BenefitKind.AMOUNT_OFF, amount_minor=1_000, currency_code="USD"),
)
MUG = Reward("mug", "A free mug", 50, Benefit(BenefitKind.FREE_PRODUCT, sku="MUG-1"), stock=2)
SHIPPING = Reward(
    "shipping", "Free shipping", 30, Benefit(BenefitKind.FREE_SHIPPING), limit_per_member=2
)
CATALOGUE_PROGRAM = ProgramState(
    revision=3,
    program_id=PROGRAM_ID,
    settings=replace(
        PROGRAM.settings,
        rewards=(TEN_OFF, MUG, SHIPPING),
        point_values=(PointValue("USD", 5_000_000),),
    ),
)
"""Revision 3 of the program, with a catalogue: $10 off for 100 points, a mug for 50 (two
in stock), free shipping for 30 (twice per member)."""

MEMBER_KEY = "~member1"
CODE = "CODE-0001"


def given_stock(*events: Event) -> StockState:
    """The state of a reward's stock stream holding `events`."""
    state = StockState()
    for event in events:
        state = evolve_stock(state, event)
        state.check_invariants()
    return state


def when_reward(
    account: AccountState,
    stock: StockState | None,
    command: Command,
    *,
    now: datetime = T0,
    program: ProgramState = CATALOGUE_PROGRAM,
    code: str = CODE,
) -> tuple[list[Event], list[Event]]:
    """(account events, stock events) a reward command appends at `now`."""
    return decide_reward(account, stock, program, command, now, MEMBER_KEY, code)
