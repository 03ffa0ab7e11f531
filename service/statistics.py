"""GetProgramStatistics: a program's figures for a calendar period, from the program
statistics projection (ledger/projections/program_statistics.py defines every figure)."""

from datetime import date
from fractions import Fraction

from ledger.application import Ledger
from ledger.currency import NANOS_PER_UNIT, minor_unit_exponent
from ledger.domain.errors import Violations
from ledger.projections.program_statistics import (
    CurrencyFigures,
    FeedbackFigures,
    PeriodKind,
    ReferralFigures,
    StatisticsQuery,
    period_containing,
)
from loyalty.v1 import ledger_pb2 as pb
from service import mapping
from service.names import parse_program
from service.stage_mapping import STAGE_TO_PROTO

PERIODS: dict[int, PeriodKind] = {
    pb.STATISTICS_PERIOD_DAY: PeriodKind.DAY,
    pb.STATISTICS_PERIOD_WEEK: PeriodKind.WEEK,
    pb.STATISTICS_PERIOD_MONTH: PeriodKind.MONTH,
    pb.STATISTICS_PERIOD_QUARTER: PeriodKind.QUARTER,
    pb.STATISTICS_PERIOD_YEAR: PeriodKind.YEAR,
}
DATE_LENGTH = len("2026-12-01")


def parse_day(text: str, field_name: str, found: Violations) -> date:
    """A YYYY-MM-DD date, and nothing else (no week dates, no times); a bad one is added to
    `found` (and the epoch's day stands in)."""
    try:
        if len(text) != DATE_LENGTH:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        found.add(field_name, "must be a date as YYYY-MM-DD", reason="FIELD_MALFORMED")
        return date(1970, 1, 1)


def money(currency_code: str, minor: int) -> pb.Money:
    """google.type.Money of an amount in minor units (units and nanos of the same sign)."""
    exponent = minor_unit_exponent(currency_code) or 0
    sign = -1 if minor < 0 else 1
    units, rest = divmod(abs(minor), 10**exponent)
    nanos = rest * (NANOS_PER_UNIT // 10**exponent)
    return pb.Money(currency_code=currency_code, units=sign * units, nanos=sign * nanos)


def _rounded(value: Fraction) -> int:
    return round(value)  # half to even, as Fraction rounds


def currency_statistics(figures: CurrencyFigures) -> pb.CurrencyStatistics:
    code = figures.currency_code
    return pb.CurrencyStatistics(
        currency_code=code,
        customers=figures.customers,
        new_customers=figures.new_customers,
        repeat_customers=figures.repeat_customers,
        orders=figures.orders,
        gross_revenue=money(code, figures.gross_revenue_minor),
        refunds=figures.refunds,
        refunded_amount=money(code, figures.refunded_minor),
        net_revenue=money(code, figures.net_revenue_minor),
        repeat_purchase_rate=float(figures.repeat_purchase_rate),
        purchase_frequency=float(figures.purchase_frequency),
        average_order_value=money(code, _rounded(figures.average_order_value_minor)),
        customer_value=money(code, _rounded(figures.customer_value_minor)),
    )


def feedback_statistics(figures: FeedbackFigures) -> pb.FeedbackStatistics:
    return pb.FeedbackStatistics(
        promoters=figures.promoters,
        passives=figures.passives,
        detractors=figures.detractors,
        nps=float(figures.nps),
        ces_answers=figures.ces_count,
        ces_average=float(figures.ces_average),
        csat_answers=figures.csat_count,
        csat_average=float(figures.csat_average),
    )


def referral_statistics(figures: ReferralFigures) -> pb.ReferralStatistics:
    return pb.ReferralStatistics(
        started=figures.started,
        credited=figures.credited,
        conversion=float(figures.conversion),
    )


class ProgramStatisticsApi:
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def get(
        self, request: pb.GetProgramStatisticsRequest, deadline: float | None
    ) -> pb.GetProgramStatisticsResponse:
        found = Violations()
        program_id = parse_program(request.program, "program", found)
        kind = PERIODS.get(request.period)
        if kind is None:
            found.add(
                "period",
                "must be a day, week, month, quarter or year",
                reason="STATISTICS_PERIOD_INVALID",
            )
        day = parse_day(request.date, "date", found) if request.date else None
        found.raise_if_any()
        assert kind is not None
        program = await self._ledger.get_program(program_id, "program", deadline=deadline)
        settings = program.state.settings
        if day is None:
            day = self._ledger.now().astimezone(settings.zone).date()
        first, last = period_containing(kind, day)
        figures = await self._ledger.program_statistics(
            StatisticsQuery(program_id, kind, first, last)
        )
        stages = await self._ledger.members_per_stage(program_id)
        statistics = pb.ProgramStatistics(
            program=request.program,
            period=request.period,
            start_date=first.isoformat(),
            end_date=last.isoformat(),
            time_zone=settings.time_zone,
            currencies=[currency_statistics(item) for item in figures.currencies],
            points=pb.PointsStatistics(
                issued=figures.points.issued,
                redeemed=figures.points.redeemed,
                expired=figures.points.expired,
                outstanding=figures.points.outstanding,
            ),
            feedback=feedback_statistics(figures.feedback),
            referrals=referral_statistics(figures.referrals),
            members_per_tier=[
                pb.TierMembers(tier=tier, members=members)
                for tier, members in figures.members_per_tier
            ],
            members_per_stage=[
                pb.StageMembers(stage=value, members=stages[stage])
                for stage, value in STAGE_TO_PROTO.items()
                if stages.get(stage)
            ],
        )
        if figures.data_time is not None:
            statistics.data_time.CopyFrom(mapping.timestamp(figures.data_time))
        return pb.GetProgramStatisticsResponse(statistics=statistics)
