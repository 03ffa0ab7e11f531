"""What-if replay: a period's recorded purchases and actions rerun under a proposed revision,
on a log written through the ledger, against figures the test tallies from what it did."""

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ledger.application import Ledger
from ledger.audit.what_if import what_if
from ledger.domain.action_settings import ActionCap, CapPeriod, RewardedAction
from ledger.domain.catalogue import PointValue
from ledger.domain.commands import RecordAction, RecordPurchase, RefundPurchase, UpdateProgram
from ledger.domain.decisions import Target
from ledger.domain.errors import InvalidArgument, NotFound
from ledger.domain.milestone_settings import Milestone
from ledger.domain.purchase_rules import EarnMultiplier, LineKind, OrderLine
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.domain.tier_settings import Tier, TierSettings
from ledger.requests import Request
from tests.conftest import FakeClock, request_id, unique
from tests.integration.ledgers import member_key, new_member, new_program, running_ledger

START = datetime(2026, 3, 2, tzinfo=UTC)
END = datetime(2026, 3, 5, tzinfo=UTC)
SETTINGS = ProgramSettings(
    earn_rates=(EarnRate("USD", 1),),
    multipliers=(EarnMultiplier("shoes_double", 200, category="shoes"),),
    actions=(RewardedAction("review", 50, (ActionCap(CapPeriod.DAY, max_times=1),)),),
    point_values=(PointValue("USD", 10_000_000),),
)


def _line(line_id: str, category: str, dollars: int) -> OrderLine:
    return OrderLine(line_id, f"sku-{line_id}", category, 1, dollars * 100, LineKind.GOODS)


class Log:
    """Three members' purchases and reviews around the period, and what the test expects."""

    def __init__(self, ledger: Ledger, clock: FakeClock, program_id: str) -> None:
        self.ledger, self.clock, self.program_id = ledger, clock, program_id
        self.purchase_points: dict[str, int] = {}
        """Per member, the points of the period's purchases, tallied here."""
        self.action_points: dict[str, int] = {}

    async def buy(self, member_id: str, *lines: OrderLine, in_period: bool = True) -> int:
        amount = sum(line.amount_minor for line in lines)
        command = RecordPurchase(unique("order"), amount, "USD", 2, lines)
        await self._run(member_id, command)
        # 1 point a dollar; shoes earn double (the amounts are whole dollars).
        points = sum(
            line.amount_minor // 100 * (2 if line.category == "shoes" else 1) for line in lines
        )
        if in_period:
            self.purchase_points[member_id] = self.purchase_points.get(member_id, 0) + points
        return points

    async def review(self, member_id: str, points: int, *, in_period: bool = True) -> None:
        await self._run(member_id, RecordAction("review", unique("review")))
        if in_period:
            self.action_points[member_id] = self.action_points.get(member_id, 0) + points

    async def _run(self, member_id: str, command: RecordPurchase | RecordAction) -> None:
        await self.ledger.execute(
            Request(Target(self.program_id, member_id), command, request_id())
        )


async def what_if_log(database_url: str, clock: FakeClock) -> tuple[str, Log, list[str]]:
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger, **{name: getattr(SETTINGS, name) for name in _SET})
        log = Log(ledger, clock, program_id)
        alice, bob, carol = [await new_member(ledger, program_id) for _ in range(3)]
        # Before the period (1 March): left out.
        await log.buy(alice, _line("a0", "books", 40), in_period=False)
        await log.review(alice, 50, in_period=False)
        clock.current = datetime(2026, 3, 2, 9, tzinfo=UTC)
        await log.buy(alice, _line("a1", "books", 25), _line("a2", "shoes", 60))
        await log.review(alice, 50)
        await log.review(alice, 0)  # the day's cap: recorded with no points
        await log.buy(bob, _line("b1", "books", 7))
        clock.current = datetime(2026, 3, 4, 23, 59, tzinfo=UTC)
        await log.buy(carol, _line("c1", "shoes", 13))
        await log.review(bob, 50)
        # The period's end (5 March) and after: left out.
        clock.current = END
        await log.buy(bob, _line("b2", "books", 300), in_period=False)
        await log.review(carol, 50, in_period=False)
    return program_id, log, [alice, bob, carol]


_SET = ("multipliers", "actions", "point_values")


async def test_the_recorded_revision_rerun_differs_for_no_member(
    database_url: str, clock: FakeClock
) -> None:
    program_id, log, members = await what_if_log(database_url, clock)

    for proposal in (SETTINGS, 1):
        report = what_if(database_url, program_id, proposal, START, END)

        assert report.events == 6  # 3 purchases and 3 reviews in the period
        keys = {member_key(database_url, program_id, member): member for member in members}
        assert {keys[key] for key, _ in report.members} == set(members)
        for key, figures in report.members:
            member = keys[key]
            assert figures.recorded == figures.simulated
            assert figures.difference == 0
            assert figures.by_kind() == {
                "purchase": (log.purchase_points.get(member, 0),) * 2,
                "action": (log.action_points.get(member, 0),) * 2,
                **{kind: (0, 0) for kind in ("milestone", "referral", "refund", "expiry")},
            }
        assert report.total.by_kind()["purchase"] == (25 + 120 + 7 + 26,) * 2
        assert report.total.by_kind()["action"] == (100, 100)
        assert report.total.recorded_total == 25 + 120 + 7 + 26 + 100
        assert report.total.difference == 0
        assert report.liability_difference() == {"USD": Decimal(0)}
    # Key ranges taken by several processes give the same figures as one.
    assert what_if(database_url, program_id, 1, START, END, workers=2) == report
    # Days are the program's (UTC here): 2 March up to, not including, 5 March.
    by_days = what_if(database_url, program_id, SETTINGS, date(2026, 3, 2), date(2026, 3, 5))
    assert (by_days.start, by_days.end) == (
        "2026-03-02T00:00:00.000000Z",
        "2026-03-05T00:00:00.000000Z",
    )
    assert by_days.members == report.members


async def test_a_doubled_earn_rate_gives_double_the_purchase_points(
    database_url: str, clock: FakeClock
) -> None:
    program_id, log, members = await what_if_log(database_url, clock)
    doubled = replace(SETTINGS, earn_rates=(EarnRate("USD", 2),))

    report = what_if(database_url, program_id, doubled, START, END)

    by_member = dict(report.members)
    for member in members:
        figures = by_member[member_key(database_url, program_id, member)]
        purchase, action = figures.by_kind()["purchase"], figures.by_kind()["action"]
        assert purchase == (log.purchase_points.get(member, 0), 2 * purchase[0])
        assert action[0] == action[1]  # actions do not earn at the rate
    purchases = sum(log.purchase_points.values())
    assert report.total.by_kind()["purchase"] == (purchases, 2 * purchases)
    assert report.total.difference == purchases
    # A point is worth a cent.
    assert report.liability_difference() == {"USD": Decimal(purchases) / 100}


async def test_action_rules_rerun_with_the_recorded_caps(
    database_url: str, clock: FakeClock
) -> None:
    program_id, _, _ = await what_if_log(database_url, clock)
    richer = replace(SETTINGS, actions=(replace(SETTINGS.actions[0], points=80),))

    report = what_if(database_url, program_id, richer, START, END)

    # Two rewarded reviews of 50 would give 80 each; the capped one still gives nothing.
    assert report.total.by_kind()["action"] == (100, 160)
    assert report.total.by_kind()["purchase"][0] == report.total.by_kind()["purchase"][1]


async def test_a_revision_of_the_program_is_rerun_by_its_number(
    database_url: str, clock: FakeClock
) -> None:
    program_id, _, _ = await what_if_log(database_url, clock)
    async with running_ledger(database_url, clock) as ledger:
        update = UpdateProgram(replace(SETTINGS, multipliers=()))
        await ledger.execute(Request(Target(program_id), update, request_id()))

    first = what_if(database_url, program_id, 1, START, END)
    second = what_if(database_url, program_id, 2, START, END)

    assert first.total.difference == 0
    # Without the shoes multiplier, the 60 + 13 dollars of shoes earn once, not twice.
    assert second.total.difference == -(60 + 13)
    assert second.proposed_revision == 2


async def test_bad_proposals_are_refused_naming_what_is_wrong(
    database_url: str, clock: FakeClock
) -> None:
    program_id, _, _ = await what_if_log(database_url, clock)
    bad = replace(SETTINGS, earn_rates=(EarnRate("USD", -1),))

    with pytest.raises(InvalidArgument) as refused:
        what_if(database_url, program_id, bad, START, END)
    assert [each.field for each in refused.value.violations] == ["program.earn_rates[0].points"]
    with pytest.raises(InvalidArgument) as backwards:
        what_if(database_url, program_id, SETTINGS, END, START)
    assert [each.field for each in backwards.value.violations] == ["to"]
    with pytest.raises(NotFound) as no_revision:
        what_if(database_url, program_id, 2, START, END)
    assert no_revision.value.reason == "REVISION_NOT_FOUND"
    with pytest.raises(NotFound) as no_program:
        what_if(database_url, unique("prog"), SETTINGS, START, END)
    assert no_program.value.reason == "PROGRAM_NOT_FOUND"


TIERED = ProgramSettings(
    earn_rates=(EarnRate("USD", 1),),
    tiers=TierSettings(
        levels=(Tier("silver", 100), Tier("gold", 300, earn_multiplier_percent=150))
    ),
)


async def tiered_log(database_url: str, clock: FakeClock) -> tuple[str, str, str]:
    """Alice reaches silver in the period at 1 point a dollar; Bob stays below."""
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger, tiers=TIERED.tiers)
        log = Log(ledger, clock, program_id)
        alice, bob = [await new_member(ledger, program_id) for _ in range(2)]
        await log.buy(alice, _line("a0", "books", 90), in_period=False)
        clock.current = datetime(2026, 3, 2, 9, tzinfo=UTC)
        await log.buy(alice, _line("a1", "books", 20))  # 110: silver
        await log.buy(alice, _line("a2", "books", 100))
        await log.buy(alice, _line("a3", "books", 10))
        await log.buy(bob, _line("b1", "books", 50))
    return program_id, alice, bob


async def test_tier_moves_under_the_recorded_tiers_are_the_recorded_ones(
    database_url: str, clock: FakeClock
) -> None:
    program_id, alice, _ = await tiered_log(database_url, clock)

    report = what_if(database_url, program_id, TIERED, START, END)

    assert report.total.difference == 0
    assert report.tier_moves() == (1, 1)
    assert report.members_per_tier() == {"": (1, 1), "silver": (1, 1)}
    tiers = dict(report.tiers)
    assert tiers[member_key(database_url, program_id, alice)].as_tuple() == (
        "silver",
        "silver",
        1,
        1,
    )


async def test_a_doubled_rate_moves_members_up_sooner_and_their_tier_multiplies(
    database_url: str, clock: FakeClock
) -> None:
    program_id, alice, bob = await tiered_log(database_url, clock)
    doubled = replace(TIERED, earn_rates=(EarnRate("USD", 2),))

    report = what_if(database_url, program_id, doubled, START, END)

    by_member = dict(report.members)
    # Alice: 40 (130: silver), 200 (330: gold), then 20 more half as much again in gold.
    alice_figures = by_member[member_key(database_url, program_id, alice)]
    assert alice_figures.by_kind()["purchase"] == (20 + 100 + 10, 40 + 200 + 30)
    bob_figures = by_member[member_key(database_url, program_id, bob)]
    assert bob_figures.by_kind()["purchase"] == (50, 100)  # 100: silver
    assert report.tier_moves() == (1, 3)
    assert report.members_per_tier() == {"": (1, 0), "gold": (0, 1), "silver": (1, 1)}


SPRING = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
"""Two months in which every point of refund_log expires (30 days after it was earned)."""
REFUNDED = ProgramSettings(
    earn_rates=(EarnRate("USD", 1),),
    return_window_days=14,
    points_expiry_days=30,
    milestones=(Milestone("second_order", 70, order_count=2),),
    point_values=(PointValue("USD", 10_000_000),),
)


async def refund_log(database_url: str, clock: FakeClock) -> tuple[str, str]:
    """Alice buys for 100 and 40 USD (the second order reaches a milestone of 70), then half
    the first order is refunded inside its window; no sweep runs."""
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(
            ledger, **{name: getattr(REFUNDED, name) for name in _REFUNDED_SET}
        )
        log = Log(ledger, clock, program_id)
        alice = await new_member(ledger, program_id)
        clock.current = datetime(2026, 3, 2, 9, tzinfo=UTC)
        first = RecordPurchase("order-1", 10_000, "USD", 2)
        await ledger.execute(Request(Target(program_id, alice), first, request_id()))
        clock.current = datetime(2026, 3, 3, 9, tzinfo=UTC)
        await log.buy(alice, _line("a2", "books", 40))
        clock.current = datetime(2026, 3, 4, 9, tzinfo=UTC)
        await ledger.execute(
            Request(
                Target(program_id, alice), RefundPurchase("order-1", 5_000, "USD"), request_id()
            )
        )
    return program_id, alice


_REFUNDED_SET = ("return_window_days", "points_expiry_days", "milestones", "point_values")


async def test_refunds_milestones_and_expiry_rerun_as_recorded_under_the_recorded_revision(
    database_url: str, clock: FakeClock
) -> None:
    program_id, _ = await refund_log(database_url, clock)

    report = what_if(database_url, program_id, 1, *SPRING)

    assert report.total.by_kind() == {
        "purchase": (140, 140),
        "action": (0, 0),
        "milestone": (70, 70),
        "referral": (0, 0),
        "refund": (-50, -50),
        # Due by the period's end, swept or not: what was left of every point.
        "expiry": (-160, -160),
    }
    assert report.total.difference == 0


async def test_a_doubled_rate_doubles_the_refunds_clawback_and_what_expires(
    database_url: str, clock: FakeClock
) -> None:
    program_id, _ = await refund_log(database_url, clock)
    doubled = replace(REFUNDED, earn_rates=(EarnRate("USD", 2),))

    report = what_if(database_url, program_id, doubled, *SPRING)

    assert report.total.by_kind() == {
        "purchase": (140, 280),
        "action": (0, 0),
        "milestone": (70, 70),
        "referral": (0, 0),
        "refund": (-50, -100),
        "expiry": (-160, -(200 - 100 + 80 + 70)),
    }
    # Every point given expires inside the period: the liability does not change.
    assert report.total.difference == 0
    assert report.liability_difference() == {"USD": Decimal(0)}
