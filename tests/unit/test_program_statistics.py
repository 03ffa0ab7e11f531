"""Program statistics without a database: the calendar periods a query names, the figures
derived from the counters, and the event types the projection's SQL counts by name."""

import re
from datetime import date
from fractions import Fraction
from importlib import resources

import pytest

from ledger.domain.events import EVENT_TYPES
from ledger.domain.feedback import PROMOTER_LOWEST_NPS
from ledger.domain.referral_state import PENDING
from ledger.projections.catalog import PROGRAM_STATISTICS
from ledger.projections.program_statistics import (
    CurrencyFigures,
    FeedbackFigures,
    PeriodKind,
    ReferralFigures,
    period_containing,
)


@pytest.mark.parametrize(
    ("kind", "day", "first", "last"),
    [
        (PeriodKind.DAY, date(2026, 2, 28), date(2026, 2, 28), date(2026, 2, 28)),
        # ISO weeks run Monday to Sunday, across months and years.
        (PeriodKind.WEEK, date(2026, 3, 1), date(2026, 2, 23), date(2026, 3, 1)),
        (PeriodKind.WEEK, date(2026, 12, 30), date(2026, 12, 28), date(2027, 1, 3)),
        (PeriodKind.MONTH, date(2028, 2, 10), date(2028, 2, 1), date(2028, 2, 29)),
        (PeriodKind.QUARTER, date(2026, 5, 31), date(2026, 4, 1), date(2026, 6, 30)),
        (PeriodKind.QUARTER, date(2026, 12, 31), date(2026, 10, 1), date(2026, 12, 31)),
        (PeriodKind.YEAR, date(2026, 7, 4), date(2026, 1, 1), date(2026, 12, 31)),
    ],
)
def test_a_period_is_the_calendar_period_holding_the_day(
    kind: PeriodKind, day: date, first: date, last: date
) -> None:
    assert period_containing(kind, day) == (first, last)
    assert period_containing(kind, first) == period_containing(kind, last) == (first, last)


def test_the_ratios_follow_their_definitions_and_are_zero_without_customers() -> None:
    figures = CurrencyFigures(
        "USD",
        customers=4,
        new_customers=1,
        repeat_customers=3,
        orders=10,
        gross_revenue_minor=12_000,
        refunds=1,
        refunded_minor=2_000,
    )
    assert figures.net_revenue_minor == 10_000
    assert figures.repeat_purchase_rate == Fraction(3, 4)
    assert figures.purchase_frequency == Fraction(10, 4)
    assert figures.average_order_value_minor == 1_000
    assert figures.customer_value_minor == 2_500
    refunds_only = CurrencyFigures("USD", refunds=1, refunded_minor=500)
    assert refunds_only.net_revenue_minor == -500
    assert refunds_only.repeat_purchase_rate == refunds_only.purchase_frequency == 0
    assert refunds_only.average_order_value_minor == refunds_only.customer_value_minor == 0


def test_every_event_type_the_projection_counts_by_name_is_one_the_ledger_records() -> None:
    package = resources.files(PROGRAM_STATISTICS.apply_package)
    text = "".join(
        package.joinpath(path).read_text("utf-8")
        for path in (PROGRAM_STATISTICS.prelude_path, PROGRAM_STATISTICS.apply_path)
    )
    named = set(re.findall(r"'([A-Z][a-z]+[A-Z][A-Za-z]+)'", text))
    assert named >= {
        "PurchaseRecorded",
        "PurchaseRefunded",
        "ProgramCreated",
        "FeedbackRecorded",
        "TierChanged",
        "ReferralApplied",
        "ReferralCredited",
    }
    assert named <= set(EVENT_TYPES), named - set(EVENT_TYPES)


def test_nps_is_percent_promoters_less_percent_detractors_and_averages_count_given_scores() -> None:
    figures = FeedbackFigures(
        promoters=5, passives=3, detractors=2, ces_sum=17, ces_count=4, csat_sum=9, csat_count=2
    )
    assert figures.nps == Fraction(100 * 5, 10) - Fraction(100 * 2, 10) == 30
    assert (figures.ces_average, figures.csat_average) == (Fraction(17, 4), Fraction(9, 2))
    assert FeedbackFigures(detractors=3).nps == -100
    nothing = FeedbackFigures()
    assert nothing.nps == nothing.ces_average == nothing.csat_average == 0


def test_referral_conversion_is_credited_over_started_and_zero_without_started() -> None:
    assert ReferralFigures(started=4, credited=3).conversion == Fraction(3, 4)
    assert ReferralFigures(started=1, credited=2).conversion == 2
    assert ReferralFigures(credited=2).conversion == 0


def test_the_sql_counts_the_domains_promoter_band_and_pending_referrals() -> None:
    package = resources.files(PROGRAM_STATISTICS.apply_package)
    prelude = package.joinpath(PROGRAM_STATISTICS.prelude_path).read_text("utf-8")
    assert f"(a.nps >= {PROMOTER_LOWEST_NPS})::int" in prelude
    assert f"m.data ->> 'status' = '{PENDING}'" in prelude
