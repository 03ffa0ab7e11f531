"""Finance's points liability report: per program, per month in its time zone and per currency
it values points in, the points issued by kind, redeemed, expired, clawed back, outstanding
and pending at the month's end, the liability in money and the breakage rate (README,
"Audit report", defines each figure).

It rides on the audit's replay: the program calendars are read in the replay's snapshot before
it starts, the figures are one more accumulator (ledger/audit/monthly.py), and this module
turns the merged counters into rows. JSON and CSV (here) and HTML (ledger/audit/
report_html.py) are all written from these rows.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from itertools import groupby
from typing import Any

from ledger.audit.fold import program_stream_id
from ledger.audit.monthly import (
    CELLS,
    LIABILITY_CHANGE,
    NEGATIVE_CHANGE,
    OUTSTANDING_CHANGE,
    PENDING_CHANGE,
    MonthlyFigures,
)
from ledger.audit.point_flows import CLAWED_BACK, EXPIRED, FLOW_COLUMNS, ISSUED
from ledger.audit.program_calendar import (
    ProgramCalendar,
    calendar_from_events,
    months_between,
    parse,
    spell,
)
from ledger.audit.replay import replay
from ledger.audit.report import AccumulatorFactory, Report
from ledger.store.audit_reader import ExportedSnapshot

NANOS_PER_UNIT = Decimal(1_000_000_000)
BREAKAGE_PLACES = Decimal("0.000001")
"""The breakage rate is given to six decimal places (a ten-thousandth of a percent)."""
NO_CUTOFF = "~"
"""Sorts after every instant's text: nothing is left out."""
FORMAT_VERSION = 1

AsOf = date | datetime
"""A date (the report as of that day's end in each program's time zone) or an instant."""


@dataclass(frozen=True)
class Valuation:
    currency: str
    point_value: Decimal
    """One point's worth in the currency's major unit."""
    amount: Decimal
    """The liability points' worth (exact; finance rounds as it reports)."""


@dataclass(frozen=True)
class MonthFigures:
    month: str
    """YYYY-MM in the program's time zone."""
    period_end: str
    """The instant the stocks are measured at: the month's end, or the cutoff if earlier."""
    flows: dict[str, int]
    """Each column of point_flows.FLOW_COLUMNS: points during the month."""
    issued_total: int
    outstanding_points: int
    pending_points: int
    negative_balance_points: int
    liability_points: int
    """Per account max(available + pending + held, 0), summed: what the liability values."""
    breakage_rate: Decimal | None
    """Expired / (issued - clawed back), both from the program's start to the period end."""
    valuations: tuple[Valuation, ...]
    """Per currency of the point values in force at the period end (none: points have no
    money value in this program)."""


@dataclass(frozen=True)
class ProgramReport:
    program_id: str
    time_zone: str
    """As of the report's end."""
    months: tuple[MonthFigures, ...]

    def totals(self) -> dict[str, Any]:
        """Flows summed over the months; stocks, liability and breakage at the last one."""
        flows = {
            column: sum(month.flows[column] for month in self.months) for column in FLOW_COLUMNS
        }
        last = self.months[-1]
        return {
            **flows,
            "issued_total": sum(month.issued_total for month in self.months),
            **_stocks(last),
        }


@dataclass(frozen=True)
class AuditReport:
    as_of: str | None
    """As given (a date or an instant), None: everything the log holds."""
    ok: bool
    streams: int
    events: int
    discrepancy_count: int
    programs: tuple[ProgramReport, ...]
    unclassified_event_types: tuple[str, ...]


def audit_report(
    conninfo: str,
    program_id: str | None = None,
    *,
    as_of: AsOf | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> AuditReport:
    """Replays the log once, verifying it, and reports its figures. Raises NotFound for a
    program the log does not hold."""
    result = replay(
        conninfo,
        program_id,
        workers=workers,
        planned=partial(_plan, program_id, as_of),
        progress=progress,
    )
    return report_of(result, as_of)


def _plan(
    program_id: str | None, as_of: AsOf | None, snapshot: ExportedSnapshot
) -> Iterable[AccumulatorFactory]:
    rows = snapshot.program_stream_events(program_id, program_stream_id())
    calendars: dict[str, ProgramCalendar] = {}
    cutoffs: dict[str, str] = {}
    for each_program, events in groupby(rows, key=lambda row: row.program_id):
        calendar = calendar_from_events(each_program, list(events))
        if calendar is None:
            continue
        cutoff = cutoff_of(calendar, as_of)
        if calendar.revisions[0].effective_from >= cutoff:
            continue  # created after the report's date
        calendars[each_program] = calendar.cut_at(cutoff)
        cutoffs[each_program] = cutoff
    return [partial(MonthlyFigures, calendars, cutoffs)]


def cutoff_of(calendar: ProgramCalendar, as_of: AsOf | None) -> str:
    """The first instant the report leaves out for this program."""
    if as_of is None:
        return NO_CUTOFF
    if isinstance(as_of, datetime):
        return spell(as_of + timedelta(microseconds=1))
    return calendar.start_of_day(as_of + timedelta(days=1))


def report_of(result: Report, as_of: AsOf | None) -> AuditReport:
    figures = result.get(MonthlyFigures)
    programs = tuple(
        _program_report(figures, program_id) for program_id in sorted(figures.calendars)
    )
    return AuditReport(
        as_of=None if as_of is None else as_of.isoformat(),
        ok=result.ok,
        streams=result.streams,
        events=result.events,
        discrepancy_count=result.discrepancy_count,
        programs=programs,
        unclassified_event_types=tuple(sorted(figures.unclassified_event_types)),
    )


def _program_report(figures: MonthlyFigures, program_id: str) -> ProgramReport:
    calendar = figures.calendars[program_id]
    cutoff = figures.cutoffs[program_id]
    first = calendar.month_span(calendar.revisions[0].effective_from).month
    if cutoff == NO_CUTOFF:
        last = max(
            figures.last_month.get(program_id, first),
            calendar.month_span(calendar.revisions[-1].effective_from).month,
        )
    else:
        last = calendar.month_span(spell(parse(cutoff) - timedelta(microseconds=1))).month
    months: list[MonthFigures] = []
    outstanding = pending = negative = liable = 0
    issued_to_date = clawed_back_to_date = expired_to_date = 0
    zeros = [0] * CELLS
    for month in months_between(first, last):
        cells = figures.rows.get((program_id, month), zeros)
        flows = dict(zip(FLOW_COLUMNS, cells, strict=False))
        outstanding += cells[OUTSTANDING_CHANGE]
        pending += cells[PENDING_CHANGE]
        negative += cells[NEGATIVE_CHANGE]
        liable += cells[LIABILITY_CHANGE]
        issued = sum(flows[column] for column in ISSUED)
        issued_to_date += issued
        clawed_back_to_date += flows[CLAWED_BACK]
        expired_to_date += flows[EXPIRED]
        period_end = min(calendar.month_end(month), cutoff)
        values = calendar.revision_before(period_end).point_values
        months.append(
            MonthFigures(
                month=month,
                period_end=period_end,
                flows=flows,
                issued_total=issued,
                outstanding_points=outstanding,
                pending_points=pending,
                negative_balance_points=-negative,
                liability_points=liable,
                breakage_rate=breakage_rate(expired_to_date, issued_to_date - clawed_back_to_date),
                valuations=tuple(
                    Valuation(currency, nanos / NANOS_PER_UNIT, liable * nanos / NANOS_PER_UNIT)
                    for currency, nanos in values
                ),
            )
        )
    return ProgramReport(program_id, calendar.revisions[-1].time_zone, tuple(months))


def breakage_rate(expired: int, issued_net: int) -> Decimal | None:
    """Points expired over points issued net of claw backs, to date; None before any."""
    if issued_net <= 0:
        return None
    return (Decimal(expired) / Decimal(issued_net)).quantize(BREAKAGE_PLACES, ROUND_HALF_EVEN)


def _stocks(month: MonthFigures) -> dict[str, Any]:
    return {
        "outstanding_points": month.outstanding_points,
        "pending_points": month.pending_points,
        "negative_balance_points": month.negative_balance_points,
        "liability_points": month.liability_points,
        "breakage_rate": _rate_text(month.breakage_rate),
        "liability": [
            {
                "currency": valuation.currency,
                "point_value": _text(valuation.point_value),
                "amount": _text(valuation.amount),
            }
            for valuation in month.valuations
        ],
    }


def _rate_text(rate: Decimal | None) -> str | None:
    """Six decimal places always, as a rate is read."""
    return None if rate is None else f"{rate:f}"


def _text(value: Decimal | None) -> str | None:
    """Exact decimals travel as strings (a JSON number would become a binary float)."""
    return None if value is None else f"{value.normalize():f}"


def as_json(report: AuditReport) -> dict[str, Any]:
    """The report as JSON values: README, "Audit report", documents every key."""
    return {
        "report": "points_liability",
        "format_version": FORMAT_VERSION,
        "as_of": report.as_of,
        "ok": report.ok,
        "streams": report.streams,
        "events": report.events,
        "discrepancy_count": report.discrepancy_count,
        "unclassified_event_types": list(report.unclassified_event_types),
        "programs": [
            {
                "program_id": program.program_id,
                "time_zone": program.time_zone,
                "months": [
                    {
                        "month": month.month,
                        "period_end": month.period_end,
                        **month.flows,
                        "issued_total": month.issued_total,
                        **_stocks(month),
                    }
                    for month in program.months
                ],
                "totals": program.totals(),
            }
            for program in report.programs
        ],
    }


CSV_COLUMNS: Sequence[str] = (
    "program_id",
    "month",
    "currency",
    "period_end",
    *FLOW_COLUMNS,
    "issued_total",
    "outstanding_points",
    "pending_points",
    "negative_balance_points",
    "liability_points",
    "breakage_rate",
    "point_value",
    "liability",
)
"""The CSV's columns, in order: a column is only ever added at the end."""


def csv_rows(report: AuditReport) -> Iterable[list[str]]:
    """One row per program, month and currency (one with an empty currency where the program
    values points in none); the points repeat on each currency's row."""
    yield list(CSV_COLUMNS)
    for program in report.programs:
        for month in program.months:
            points = [
                *(str(month.flows[column]) for column in FLOW_COLUMNS),
                str(month.issued_total),
                str(month.outstanding_points),
                str(month.pending_points),
                str(month.negative_balance_points),
                str(month.liability_points),
                _rate_text(month.breakage_rate) or "",
            ]
            for valuation in month.valuations or (None,):
                currency, value, amount = (
                    ("", "", "")
                    if valuation is None
                    else (
                        valuation.currency,
                        _text(valuation.point_value) or "",
                        _text(valuation.amount) or "",
                    )
                )
                yield [
                    program.program_id,
                    month.month,
                    currency,
                    month.period_end,
                    *points,
                    value,
                    amount,
                ]
