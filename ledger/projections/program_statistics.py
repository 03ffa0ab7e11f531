"""Program statistics: a program's figures for a calendar period, as its readers see them.

The program_statistics projection (ledger/store/queries/program_statistics_prelude.sql and
_apply.sql) folds every event into per-period counters as it is appended, so a query reads a
handful of rows however long the log: one per currency of the period, one of its points, and
the points outstanding at its end. Like every projection it lags the log by as long as its
runner takes to apply what was appended; `data_time` says how far it has got.

Periods are calendar periods in the program's time zone: a day, an ISO week (Monday to
Sunday), a month, a quarter or a year. Each event counts in the periods of the day its
recorded time falls on in the zone the program had at that point of the log (a change of
zone applies to events from then on). Arbitrary ranges of days are not offered: counting
distinct customers over any range would mean reading one row per member.

The figures, per currency (money is never added across currencies):

- orders: purchases recorded (RecordPurchase) in the period. A refund never removes an
  order: the order was placed.
- gross revenue: the amounts of those orders (the whole order, in minor units).
- refunds, refunded amount: refunds recorded in the period and their amounts, in the
  currency of the order they refund, whenever that order was placed.
- net revenue: gross revenue minus the refunded amount (can be below zero in a period with
  refunds of earlier orders). Periods already past do not change when a refund comes later.
- customers: members with at least one order in the period (refunded or not).
- new customers: customers whose first order ever (in the currency) is in the period.
- repeat customers: customers with an order in the period that is not their first in the
  currency (an order in an earlier period counts): returning and repeat buyers alike.
- repeat purchase rate = repeat customers / customers.
- purchase frequency = orders / customers.
- average order value = net revenue / orders.
- customer value = purchase frequency x average order value (= net revenue / customers).

And the period's points, over every account of the program:

- issued: the change in the members' lifetime earned points over the events of the period
  (earnings of every kind, less the points refunds and milestone claw-backs took back).
- redeemed: the change in lifetime redeemed points (redemptions, rewards, committed holds).
- expired: points expired (lot expiries and inactivity), when the ledger recorded them (the
  sweep records them as they fall due).
- outstanding: the points members hold at the end of the period (available, pending and
  held; an account below zero counts as none), as finance's liability counts them.

And the period's survey answers and referrals, over every account of the program:

- promoters, passives, detractors: answers (FeedbackRecorded) recorded in the period with an
  NPS score of 9-10, 7-8 and 0-6; an answer without an NPS score counts in none.
- NPS = 100 x (promoters - detractors) / (promoters + passives + detractors): % promoters
  less % detractors, from -100 to 100.
- CES average: the mean of the CES scores (1-7) given in the period; CSAT average: the mean
  of the CSAT scores (1-5). Each over the answers that gave that score.
- referrals started: enrolments with a referral code accepted in the period (ReferralApplied
  with status pending; refused codes are not referrals).
- referrals credited: referral credits recorded in the period (ReferralCredited, once the
  friend's qualifying purchase has passed its return window), whenever the referral started.
- referral conversion = referrals credited / referrals started, both of the period: a flow
  ratio, not a cohort's (credits lag their starts by the purchase and its return window, so
  a month's conversion can exceed 1 when earlier referrals convert in it).

A ratio of a period without customers (or orders, answers, referrals started) is 0.

Not of the period but of now (as of data_time): members per tier, the accounts whose latest
tier change (TierChanged) put them in each tier; members below the lowest tier are not
counted, nor tiers without members.

Adding a figure counted from events: a column of ledger.program_statistics (a migration), one
branch of `contributions` in program_statistics_prelude.sql, its sum in `totals` and the apply
step, and a field here and in the reader (ledger/store/statistics.py).
"""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from fractions import Fraction
from typing import Protocol


class PeriodKind(Enum):
    """A kind of calendar period; the value is its code in the projection's rows."""

    DAY = "d"
    WEEK = "w"
    MONTH = "m"
    QUARTER = "q"
    YEAR = "y"


MONTHS_PER_QUARTER = 3


def period_containing(kind: PeriodKind, day: date) -> tuple[date, date]:
    """The first and last days of the period of `kind` that holds `day`."""
    match kind:
        case PeriodKind.DAY:
            return day, day
        case PeriodKind.WEEK:
            first = day - timedelta(days=day.weekday())
            return first, first + timedelta(days=6)
        case PeriodKind.MONTH:
            last = calendar.monthrange(day.year, day.month)[1]
            return day.replace(day=1), day.replace(day=last)
        case PeriodKind.QUARTER:
            first_month = (day.month - 1) // MONTHS_PER_QUARTER * MONTHS_PER_QUARTER + 1
            last_month = first_month + MONTHS_PER_QUARTER - 1
            last = calendar.monthrange(day.year, last_month)[1]
            return date(day.year, first_month, 1), date(day.year, last_month, last)
        case PeriodKind.YEAR:
            return date(day.year, 1, 1), date(day.year, 12, 31)


def _ratio(numerator: int, denominator: int) -> Fraction:
    return Fraction(numerator, denominator) if denominator else Fraction(0)


@dataclass(frozen=True)
class CurrencyFigures:
    currency_code: str
    customers: int = 0
    new_customers: int = 0
    repeat_customers: int = 0
    orders: int = 0
    gross_revenue_minor: int = 0
    refunds: int = 0
    refunded_minor: int = 0

    @property
    def net_revenue_minor(self) -> int:
        return self.gross_revenue_minor - self.refunded_minor

    @property
    def repeat_purchase_rate(self) -> Fraction:
        return _ratio(self.repeat_customers, self.customers)

    @property
    def purchase_frequency(self) -> Fraction:
        return _ratio(self.orders, self.customers)

    @property
    def average_order_value_minor(self) -> Fraction:
        return _ratio(self.net_revenue_minor, self.orders)

    @property
    def customer_value_minor(self) -> Fraction:
        return self.purchase_frequency * self.average_order_value_minor


@dataclass(frozen=True)
class PointsFigures:
    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    outstanding: int = 0


@dataclass(frozen=True)
class FeedbackFigures:
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    ces_sum: int = 0
    ces_count: int = 0
    csat_sum: int = 0
    csat_count: int = 0

    @property
    def nps_answers(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> Fraction:
        return _ratio(100 * (self.promoters - self.detractors), self.nps_answers)

    @property
    def ces_average(self) -> Fraction:
        return _ratio(self.ces_sum, self.ces_count)

    @property
    def csat_average(self) -> Fraction:
        return _ratio(self.csat_sum, self.csat_count)


@dataclass(frozen=True)
class ReferralFigures:
    started: int = 0
    credited: int = 0

    @property
    def conversion(self) -> Fraction:
        return _ratio(self.credited, self.started)


@dataclass(frozen=True)
class StatisticsQuery:
    program_id: str
    kind: PeriodKind
    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        assert period_containing(self.kind, self.first_day) == (self.first_day, self.last_day)


@dataclass(frozen=True)
class ProgramFigures:
    currencies: tuple[CurrencyFigures, ...]
    """In currency code order; a currency appears once it has an order or a refund in the
    period."""
    points: PointsFigures
    data_time: datetime | None
    """recorded_at of the newest event the figures include (None: none applied yet)."""
    feedback: FeedbackFigures = FeedbackFigures()
    referrals: ReferralFigures = ReferralFigures()
    members_per_tier: tuple[tuple[str, int], ...] = ()
    """(tier, members) of the tiers holding members now, by tier name."""


class StatisticsReader(Protocol):
    """Where the figures are read from (ledger/store/statistics.py on PostgreSQL)."""

    async def program_statistics(self, query: StatisticsQuery) -> ProgramFigures: ...
