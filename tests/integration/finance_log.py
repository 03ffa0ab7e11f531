"""A program's log holding every kind of event that moves points, written through the ledger
over two months of its time zone, and the figures the finance report must give for it,
tallied here from the operations themselves (not from any of the report's code).

The program counts months in New York: an earn at 02:00 UTC on 1 April is still March there.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ledger.application import Ledger
from ledger.domain.action_settings import RewardedAction
from ledger.domain.catalogue import PointValue
from ledger.domain.commands import (
    AdjustPoints,
    CancelReservation,
    Command,
    CommitReservation,
    EarnPoints,
    GrantBonus,
    HistoricalEntry,
    ImportHistory,
    RecordAction,
    RecordPurchase,
    RedeemPoints,
    RefundPurchase,
    ReservePoints,
    TransferPoints,
)
from ledger.domain.decisions import Target
from ledger.domain.milestone_settings import Milestone
from ledger.domain.settings import NegativeBalancePolicy
from ledger.requests import Request
from tests.conftest import FakeClock, request_id, unique
from tests.integration.ledgers import new_member, new_program

ZONE = "America/New_York"
USD_NANOS = 10_000_000
"""A point is worth one cent..."""
EUR_NANOS = 9_000_000
"""...or 0.9 euro cent."""
EXPIRY_DAYS = 45
REVIEW_POINTS = 50
MILESTONE_POINTS = 100
MARCH, APRIL = "2026-03", "2026-04"


@dataclass
class Tally:
    """What the test did, per month, in the report's terms."""

    flows: dict[str, Counter[str]] = field(default_factory=dict)
    stocks: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, month: str, column: str, points: int) -> None:
        self.flows.setdefault(month, Counter())[column] += points


class Scenario:
    def __init__(self, ledger: Ledger, clock: FakeClock, program_id: str) -> None:
        self.ledger = ledger
        self.clock = clock
        self.program_id = program_id
        self.tally = Tally()
        self.members: dict[str, str] = {}
        self.balances: dict[str, int] = {}
        """Each member's points on the books at the end of March."""

    async def run(self, member_id: str, command: Command) -> None:
        await self.ledger.execute(
            Request(Target(self.program_id, member_id), command, request_id(), actor="finance-test")
        )


async def new_scenario(ledger: Ledger, clock: FakeClock) -> Scenario:
    program_id = await new_program(
        ledger,
        time_zone=ZONE,
        return_window_days=14,
        points_expiry_days=EXPIRY_DAYS,
        negative_balance_policy=NegativeBalancePolicy.ALLOW_NEGATIVE,
        actions=(RewardedAction("review", REVIEW_POINTS),),
        # Reached by Alice's two orders, never by Dana's or Carol's smaller ones.
        milestones=(
            Milestone(
                "big_spender",
                MILESTONE_POINTS,
                spend_currency_code="USD",
                spend_amount_minor=140_00,
            ),
        ),
        point_values=(PointValue("USD", USD_NANOS), PointValue("EUR", EUR_NANOS)),
    )
    return Scenario(ledger, clock, program_id)


async def march(scenario: Scenario) -> None:
    """Every kind of event; the clock starts on 1 March, 12:00 UTC."""
    run, tally, clock = scenario.run, scenario.tally, scenario.clock
    program_id = scenario.program_id
    alice = await new_member(scenario.ledger, program_id)
    bob = await new_member(scenario.ledger, program_id)
    dana = await new_member(scenario.ledger, program_id)
    scenario.members = {"alice": alice, "bob": bob, "dana": dana}

    await run(alice, RecordPurchase("o-1", 100_00, "USD", 2))  # 100 pending for 14 days
    tally.add(MARCH, "issued_purchase", 100)
    await run(alice, RecordAction("review", unique("review")))
    tally.add(MARCH, "issued_action", REVIEW_POINTS)
    await run(alice, GrantBonus(30, "surprise", "", "finance-test"))
    tally.add(MARCH, "issued_bonus", 30)
    await run(alice, EarnPoints(20, "partner"))
    tally.add(MARCH, "issued_earn", 20)
    await run(alice, AdjustPoints(10, "goodwill", "", "finance-test"))
    tally.add(MARCH, "issued_adjustment", 10)
    await run(alice, AdjustPoints(-5, "correction", "", "finance-test"))
    tally.add(MARCH, "adjusted_down", 5)

    an_hour_ago = "2026-03-01T11:00:00.000000Z"
    entries = (
        HistoricalEntry(0, unique("h"), "purchase", 300, an_hour_ago),
        HistoricalEntry(1, unique("h"), "redemption", -40, an_hour_ago),
    )
    await run(bob, ImportHistory(program_id, bob, entries))
    tally.add(MARCH, "issued_import", 300)
    tally.add(MARCH, "redeemed", 40)
    await run(bob, RedeemPoints(60))
    tally.add(MARCH, "redeemed", 60)
    await run(bob, ReservePoints("r-1", 50))
    await run(bob, CommitReservation("r-1"))
    tally.add(MARCH, "redeemed", 50)
    await run(bob, ReservePoints("r-2", 20))
    await run(bob, CancelReservation("r-2"))
    await run(bob, TransferPoints(alice, 25, unique("t")))
    tally.add(MARCH, "transferred_out", 25)
    tally.add(MARCH, "transferred_in", 25)

    await run(alice, RecordPurchase("o-2", 40_00, "USD", 2))  # 40 pending, the milestone now
    tally.add(MARCH, "issued_purchase", 40)
    tally.add(MARCH, "issued_milestone", MILESTONE_POINTS)
    await run(dana, RecordPurchase("o-3", 30_00, "USD", 2))
    tally.add(MARCH, "issued_purchase", 30)

    clock.current = datetime(2026, 3, 20, 12, tzinfo=UTC)
    await scenario.ledger.sweep()  # the three orders' points become available
    await run(alice, RefundPurchase("o-2", 40_00, "USD"))  # its 40 and the milestone's 100
    tally.add(MARCH, "clawed_back", 40 + MILESTONE_POINTS)
    await run(dana, RedeemPoints(30))
    tally.add(MARCH, "redeemed", 30)
    await run(dana, RefundPurchase("o-3", 30_00, "USD"))  # 30 below zero
    tally.add(MARCH, "clawed_back", 30)

    clock.current = datetime(2026, 4, 1, 2, tzinfo=UTC)  # 22:00 on 31 March in New York
    await run(bob, EarnPoints(7, "partner"))
    tally.add(MARCH, "issued_earn", 7)

    alice_points = 100 + REVIEW_POINTS + 30 + 20 + 10 - 5 + 25 + 40 + MILESTONE_POINTS - 140
    bob_points = 300 - 40 - 60 - 50 - 25 + 7
    tally.stocks[MARCH] = {
        "outstanding_points": alice_points + bob_points,
        "pending_points": 0,
        "negative_balance_points": 30,
        "liability_points": alice_points + bob_points,
    }
    scenario.balances = {"alice": alice_points, "bob": bob_points}


async def april(scenario: Scenario) -> None:
    """Expiry of everything earned on 1 March (at the end of 15 April in New York), a hold
    open and a purchase pending at the month's end."""
    run, tally, clock = scenario.run, scenario.tally, scenario.clock
    members, balances = scenario.members, scenario.balances
    clock.current = datetime(2026, 4, 20, 12, tzinfo=UTC)
    await scenario.ledger.sweep()
    # Bob's 7 of 1 April are the only points earned after 1 March.
    tally.add(APRIL, "expired", balances["alice"] + balances["bob"] - 7)
    clock.current = datetime(2026, 4, 25, 12, tzinfo=UTC)
    await run(members["bob"], ReservePoints("r-3", 5))
    carol = await new_member(scenario.ledger, scenario.program_id)
    await run(carol, RecordPurchase("o-4", 50_00, "USD", 2))
    tally.add(APRIL, "issued_purchase", 50)
    # Dana, 30 below zero, buys again: 20 pending, which will pay off 20 of what she owes.
    await run(members["dana"], RecordPurchase("o-5", 20_00, "USD", 2))
    tally.add(APRIL, "issued_purchase", 20)
    tally.stocks[APRIL] = {
        "outstanding_points": 7,  # bob: 2 available, 5 held
        "pending_points": 50 + 20,
        "negative_balance_points": 30,
        # Bob's 7 and Carol's 50; Dana's 20 pending less the 30 she owes counts as none.
        "liability_points": 7 + 50,
    }
