"""A year of one program (the simulation of test_program_year.py: three currencies, orders with
lines, refunds, actions, milestones, rewards, expiring points) through the gRPC API with a
fixed clock, and then GetProgramStatistics for every day, week, month, quarter and year of it.
Each figure equals what this test computes itself from the purchases and refunds it made and
from the plain reference of tests/e2e/year_reference.py: never from the service's views.

The housekeeping sweep runs at every midnight of the program's zone (as a deployed service's
does through the day), so expiries are recorded on the day they fall due.
"""

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction

import pytest

from ledger.projections.program_statistics import PeriodKind, period_containing
from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import T0, Api, FakeClock, request_id, unique
from tests.e2e import year_reference as ref
from tests.e2e.test_program_year import DAYS, SEED, Member, Year, _moments, the_program
from tests.projections.helpers import wait_caught_up

PERIODS = {
    PeriodKind.DAY: pb.STATISTICS_PERIOD_DAY,
    PeriodKind.WEEK: pb.STATISTICS_PERIOD_WEEK,
    PeriodKind.MONTH: pb.STATISTICS_PERIOD_MONTH,
    PeriodKind.QUARTER: pb.STATISTICS_PERIOD_QUARTER,
    PeriodKind.YEAR: pb.STATISTICS_PERIOD_YEAR,
}
EXPONENTS = {"USD": 2, "JPY": 0, "KWD": 3}


@dataclass(frozen=True)
class Sale:
    """An order (amount > 0) or a refund (refund=True) as this test made it."""

    day: date
    """In the program's zone."""
    member: str
    currency: str
    amount_minor: int
    refund: bool = False


@dataclass
class Totals:
    """Every member's reference points added up, at one instant."""

    earned: int = 0
    redeemed: int = 0
    expired: int = 0
    outstanding: int = 0


def local_day(moment: datetime) -> date:
    return moment.astimezone(ref.ZONE).date()


class CountedYear(Year):
    """The simulation, noting every sale as it makes it."""

    def __init__(self, api: Api, clock: FakeClock, program_id: str) -> None:
        super().__init__(api, clock, program_id)
        self.sales: list[Sale] = []

    async def purchase(self, rng: random.Random, member: Member) -> None:
        await super().purchase(rng, member)
        order = member.reference.orders[member.orders[-1]]
        self.sales.append(
            Sale(local_day(self.clock()), member.account, member.currency, order.amount_minor)
        )

    async def refund(self, rng: random.Random, member: Member) -> None:
        before = sum(order.refunded_minor for order in member.reference.orders.values())
        await super().refund(rng, member)
        after = sum(order.refunded_minor for order in member.reference.orders.values())
        if after > before:
            self.sales.append(
                Sale(
                    local_day(self.clock()),
                    member.account,
                    member.currency,
                    after - before,
                    refund=True,
                )
            )

    def totals_before(self, moment: datetime) -> Totals:
        """The reference's totals just before `moment` (what falls due at it is not yet)."""
        totals = Totals()
        for member in self.members:
            member.reference.catch_up(moment - timedelta(microseconds=1))
            totals.earned += member.reference.earned
            totals.redeemed += member.reference.redeemed
            totals.expired += member.reference.expired
            totals.outstanding += member.reference.available + member.reference.pending_points
        return totals


@dataclass
class Expected:
    customers: set[str] = field(default_factory=set)
    new_customers: set[str] = field(default_factory=set)
    repeat_customers: set[str] = field(default_factory=set)
    orders: int = 0
    gross: int = 0
    refunds: int = 0
    refunded: int = 0


def expected_sales(sales: list[Sale], first: date, last: date) -> dict[str, Expected]:
    """Per currency, the period's figures straight from the sales made."""
    found: dict[str, Expected] = defaultdict(Expected)
    orders_so_far: dict[tuple[str, str], int] = defaultdict(int)
    for sale in sales:  # in the order they were made
        counted = first <= sale.day <= last
        if sale.refund:
            if counted:
                found[sale.currency].refunds += 1
                found[sale.currency].refunded += sale.amount_minor
            continue
        orders_so_far[sale.member, sale.currency] += 1
        if not counted:
            continue
        figures = found[sale.currency]
        figures.orders += 1
        figures.gross += sale.amount_minor
        figures.customers.add(sale.member)
        if orders_so_far[sale.member, sale.currency] == 1:
            figures.new_customers.add(sale.member)
        else:
            figures.repeat_customers.add(sale.member)
    return dict(found)


def minor_of(money: pb.Money) -> int:
    exponent = EXPONENTS[money.currency_code]
    return int(money.units * 10**exponent + money.nanos // 10 ** (9 - exponent))


def periods_of(days: Iterable[date], kind: PeriodKind) -> list[tuple[date, date]]:
    return sorted({period_containing(kind, day) for day in days})


async def sweep_at(api: Api, clock: FakeClock, moment: datetime) -> None:
    clock.current = moment
    for _ in range(100):
        if not await api.running.ledger.sweep():
            return
    raise AssertionError("the sweep kept finding work")


@pytest.mark.timeout(900)
async def test_a_years_statistics_equal_figures_computed_from_the_raw_sales(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    rng = random.Random(SEED)
    created = await api.stub.CreateProgram(
        pb.CreateProgramRequest(
            request_id=request_id(), program_id=unique("stats"), program=the_program()
        )
    )
    program = created.program.name
    year = CountedYear(api, clock, program.removeprefix("programs/"))
    await year.enroll(rng)

    # Reference totals at each local midnight from the first day on: the points of day D are
    # the change between the midnights that start D and D + 1.
    start = T0.replace(hour=0, minute=0)
    first_day = local_day(start)
    midnights = {first_day: year.totals_before(start)}
    next_midnight = datetime.combine(first_day + timedelta(days=1), datetime.min.time(), ref.ZONE)

    async def pass_midnights(until: datetime) -> None:
        nonlocal next_midnight
        while next_midnight <= until:
            midnights[next_midnight.date()] = year.totals_before(next_midnight)
            await sweep_at(api, clock, next_midnight + timedelta(seconds=1))
            next_midnight += timedelta(days=1)

    for day in range(DAYS):
        today = start + timedelta(days=day)
        acting = rng.sample(year.members, rng.randint(4, 14))
        for member, moment in zip(acting, _moments(rng, today, len(acting)), strict=True):
            await pass_midnights(moment)
            clock.current = moment
            roll = rng.random()
            if roll < 0.4:
                await year.purchase(rng, member)
            elif roll < 0.5:
                await year.refund(rng, member)
            elif roll < 0.7:
                await year.act(rng, member)
            elif member.reference.available >= ref.REWARD_COST or roll < 0.72:
                await year.redeem_reward(member)
    await pass_midnights(next_midnight - timedelta(microseconds=1))
    # The midnight after the last day, without its sweep: nothing is recorded after it.
    midnights[next_midnight.date()] = year.totals_before(next_midnight)
    last_day = next_midnight.date() - timedelta(days=1)
    await wait_caught_up(database_url, "program_statistics")

    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    checked = 0
    for kind, period in PERIODS.items():
        for first, last in periods_of(days, kind):
            response = await api.stub.GetProgramStatistics(
                pb.GetProgramStatisticsRequest(
                    program=program, period=period, date=first.isoformat()
                )
            )
            got = response.statistics
            assert (got.start_date, got.end_date) == (first.isoformat(), last.isoformat())
            assert got.time_zone == str(ref.ZONE)
            where = (kind.name, first)

            expected = expected_sales(year.sales, first, last)
            assert [c.currency_code for c in got.currencies] == sorted(expected), where
            for figures in got.currencies:
                want = expected[figures.currency_code]
                customers = len(want.customers)
                net = want.gross - want.refunded
                assert (
                    figures.customers,
                    figures.new_customers,
                    figures.repeat_customers,
                    figures.orders,
                    minor_of(figures.gross_revenue),
                    figures.refunds,
                    minor_of(figures.refunded_amount),
                    minor_of(figures.net_revenue),
                ) == (
                    customers,
                    len(want.new_customers),
                    len(want.repeat_customers),
                    want.orders,
                    want.gross,
                    want.refunds,
                    want.refunded,
                    net,
                ), (where, figures.currency_code)
                rate = Fraction(len(want.repeat_customers), customers) if customers else 0
                frequency = Fraction(want.orders, customers) if customers else Fraction(0)
                average = Fraction(net, want.orders) if want.orders else Fraction(0)
                assert figures.repeat_purchase_rate == float(rate), where
                assert figures.purchase_frequency == float(frequency), where
                assert minor_of(figures.average_order_value) == round(average), where
                assert minor_of(figures.customer_value) == round(frequency * average), where

            # Clipped to the simulated days: the first week starts before the first day, the
            # last quarter and year end after the last.
            opened = midnights[max(first, first_day)]
            closed = midnights[min(last, last_day) + timedelta(days=1)]
            assert (
                got.points.issued,
                got.points.redeemed,
                got.points.expired,
                got.points.outstanding,
            ) == (
                closed.earned - opened.earned,
                closed.redeemed - opened.redeemed,
                closed.expired - opened.expired,
                closed.outstanding,
            ), where
            checked += 1

    # The year exercised what the figures are about.
    orders = sum(1 for sale in year.sales if not sale.refund)
    refunds = len(year.sales) - orders
    ended = midnights[last_day + timedelta(days=1)]
    assert orders > 1_000 and refunds > 100, (orders, refunds)
    assert ended.expired > 0 and ended.redeemed > 0, ended
    assert checked > 365 + 52 + 12, checked
