"""The finance report as one self-contained HTML page: inline CSS, charts drawn here as inline
SVG, no script and nothing fetched, so it opens offline and prints as it shows.

Every number on the page comes from the same AuditReport the JSON is written from; the table
cells carry `data-field` (the JSON key, `liability:<currency>` for a currency's amount) so a
reader, or a test, can match each one to the JSON.
"""

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from ledger.audit.finance_report import AuditReport, MonthFigures, ProgramReport
from ledger.audit.point_flows import EXPIRED, ISSUED, REDEEMED

CHART_WIDTH = 720
CHART_HEIGHT = 240
MARGIN_LEFT = 80
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 40
MAX_MONTH_LABELS = 12
"""Month labels under a chart; with more months, every n-th is labelled."""

ISSUED_COLOUR = "#2b6cb0"
REDEEMED_COLOUR = "#2f855a"
EXPIRED_COLOUR = "#c05621"
LIABILITY_COLOUR = "#6b46c1"

_STYLE = f"""
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1a202c; }}
h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.25rem; margin-top: 2.5rem; }}
.summary {{ color: #4a5568; }}
.bad {{ color: #c53030; font-weight: bold; }}
svg.chart {{ display: block; margin: 1rem 0; background: #fff; }}
svg.chart text {{ font-size: 11px; fill: #4a5568; }}
svg.chart .axis {{ stroke: #a0aec0; stroke-width: 1; }}
.bar.issued {{ fill: {ISSUED_COLOUR}; }} .bar.redeemed {{ fill: {REDEEMED_COLOUR}; }}
.bar.expired {{ fill: {EXPIRED_COLOUR}; }}
.line.liability {{ fill: none; stroke: {LIABILITY_COLOUR}; stroke-width: 3; }}
.dot.liability {{ fill: {LIABILITY_COLOUR}; }}
.legend span {{ display: inline-block; width: 0.8rem; height: 0.8rem; margin: 0 0.3rem 0 1rem; }}
table {{ border-collapse: collapse; font-size: 0.85rem; }}
th, td {{ border: 1px solid #e2e8f0; padding: 0.25rem 0.5rem; text-align: right; }}
th {{ background: #f7fafc; }} td.month {{ text-align: left; white-space: nowrap; }}
.table {{ overflow-x: auto; }}
"""


def render_html(report: AuditReport) -> str:
    title = "Points liability report" + (f" as of {report.as_of}" if report.as_of else "")
    status = (
        '<p class="summary">Log verified: no discrepancy.</p>'
        if report.ok
        else f'<p class="bad">{report.discrepancy_count} discrepancies: the audit failed;'
        " the figures below are from the events that replayed.</p>"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="summary">{report.events:,} events in {report.streams:,} streams.</p>',
        status,
    ]
    if report.unclassified_event_types:
        kinds = ", ".join(report.unclassified_event_types)
        parts.append(f'<p class="bad">Event types not classified: {escape(kinds)}.</p>')
    parts += [_program_section(program) for program in report.programs]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _program_section(program: ProgramReport) -> str:
    months = program.months
    currencies = sorted({value.currency for month in months for value in month.valuations})
    charts = [
        _line_chart(
            f"liability:{currency}",
            f"Liability over time ({currency})",
            months,
            [_liability(month, currency) for month in months],
        )
        for currency in currencies
    ] or [
        _line_chart(
            "liability_points",
            "Liability over time (points)",
            months,
            [Decimal(month.liability_points) for month in months],
        )
    ]
    charts.append(_flows_chart(months))
    return "\n".join(
        [
            f'<section class="program" data-program="{escape(program.program_id)}">',
            f"<h2>Program {escape(program.program_id)}</h2>",
            f'<p class="summary">Months in {escape(program.time_zone)}.</p>',
            *charts,
            _table(program, currencies),
            "</section>",
        ]
    )


def _liability(month: MonthFigures, currency: str) -> Decimal:
    for valuation in month.valuations:
        if valuation.currency == currency:
            return valuation.amount
    return Decimal(0)


def _scale(top: Decimal) -> Decimal:
    return top if top > 0 else Decimal(1)


def _x_labels(months: Sequence[MonthFigures], slot: float) -> list[str]:
    step = max(1, -(-len(months) // MAX_MONTH_LABELS))
    bottom = CHART_HEIGHT - MARGIN_BOTTOM
    return [
        f'<text x="{MARGIN_LEFT + slot * (index + 0.5):.1f}" y="{bottom + 16}"'
        f' text-anchor="middle">{escape(month.month)}</text>'
        for index, month in enumerate(months)
        if index % step == 0
    ]


def _frame(top: Decimal) -> list[str]:
    bottom = CHART_HEIGHT - MARGIN_BOTTOM
    right = CHART_WIDTH - MARGIN_RIGHT
    return [
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}"'
        f' y2="{bottom}"/>',
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"/>',
        f'<text x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP + 4}" text-anchor="end">{_number(top)}</text>',
        f'<text x="{MARGIN_LEFT - 6}" y="{bottom}" text-anchor="end">0</text>',
    ]


def _y(value: Decimal, top: Decimal) -> float:
    plot = CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    return CHART_HEIGHT - MARGIN_BOTTOM - float(value / _scale(top)) * plot


def _line_chart(
    chart: str, title: str, months: Sequence[MonthFigures], values: Sequence[Decimal]
) -> str:
    top = max(values, default=Decimal(0))
    slot = (CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(len(months), 1)
    points = [
        (MARGIN_LEFT + slot * (index + 0.5), _y(value, top)) for index, value in enumerate(values)
    ]
    dots = [
        f'<circle class="dot liability" cx="{x:.1f}" cy="{y:.1f}" r="4">'
        f"<title>{escape(month.month)}: {_number(value)}</title></circle>"
        for (x, y), month, value in zip(points, months, values, strict=True)
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return "\n".join(
        [
            f"<h3>{escape(title)}</h3>",
            f'<svg class="chart" data-chart="{escape(chart)}" width="{CHART_WIDTH}"'
            f' height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}"'
            f' role="img" aria-label="{escape(title)}">',
            *_frame(top),
            f'<polyline class="line liability" points="{line}"/>',
            *dots,
            *_x_labels(months, slot),
            "</svg>",
        ]
    )


def _flows_chart(months: Sequence[MonthFigures]) -> str:
    series = [
        ("issued", [month.issued_total for month in months]),
        ("redeemed", [month.flows[REDEEMED] for month in months]),
        ("expired", [month.flows[EXPIRED] for month in months]),
    ]
    top = Decimal(max((max(values, default=0) for _, values in series), default=0))
    slot = (CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(len(months), 1)
    width = slot * 0.8 / len(series)
    bottom = CHART_HEIGHT - MARGIN_BOTTOM
    bars = []
    for index, month in enumerate(months):
        for position, (name, values) in enumerate(series):
            value = values[index]
            y = _y(Decimal(value), top)
            x = MARGIN_LEFT + slot * index + slot * 0.1 + width * position
            bars.append(
                f'<rect class="bar {name}" data-month="{escape(month.month)}" x="{x:.1f}"'
                f' y="{y:.1f}" width="{width:.1f}" height="{bottom - y:.1f}">'
                f"<title>{escape(month.month)} {name}: {value:,}</title></rect>"
            )
    legend = "".join(
        f'<span class="bar {name}" style="background: {colour}"></span>{name}'
        for name, colour in (
            ("issued", ISSUED_COLOUR),
            ("redeemed", REDEEMED_COLOUR),
            ("expired", EXPIRED_COLOUR),
        )
    )
    title = "Points issued, redeemed and expired per month"
    return "\n".join(
        [
            f"<h3>{title}</h3>",
            f'<p class="legend">{legend}</p>',
            f'<svg class="chart" data-chart="flows" width="{CHART_WIDTH}" height="{CHART_HEIGHT}"'
            f' viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" aria-label="{title}">',
            *_frame(top),
            *bars,
            *_x_labels(months, slot),
            "</svg>",
        ]
    )


_TABLE_FIELDS = (
    *ISSUED,
    "issued_total",
    "redeemed",
    "expired",
    "clawed_back",
    "adjusted_down",
    "transferred_in",
    "transferred_out",
    "outstanding_points",
    "pending_points",
    "negative_balance_points",
    "liability_points",
    "breakage_rate",
)


def _table(program: ProgramReport, currencies: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(field)}</th>" for field in _TABLE_FIELDS)
    head += "".join(f"<th>liability {escape(currency)}</th>" for currency in currencies)
    rows = []
    for month in program.months:
        values = _fields(month)
        cells = "".join(
            f'<td data-field="{field}">{escape(values[field])}</td>' for field in _TABLE_FIELDS
        )
        cells += "".join(
            f'<td data-field="liability:{escape(currency)}">'
            f"{escape(_number(_liability(month, currency)))}</td>"
            for currency in currencies
        )
        rows.append(
            f'<tr data-month="{escape(month.month)}"><td class="month">{escape(month.month)}</td>'
            f"{cells}</tr>"
        )
    return "\n".join(
        [
            '<div class="table"><table class="months">',
            f"<thead><tr><th>month</th>{head}</tr></thead>",
            "<tbody>",
            *rows,
            "</tbody></table></div>",
        ]
    )


def _fields(month: MonthFigures) -> dict[str, str]:
    values = {field: f"{count:,}" for field, count in month.flows.items()}
    values |= {
        "issued_total": f"{month.issued_total:,}",
        "outstanding_points": f"{month.outstanding_points:,}",
        "pending_points": f"{month.pending_points:,}",
        "negative_balance_points": f"{month.negative_balance_points:,}",
        "liability_points": f"{month.liability_points:,}",
        "breakage_rate": "" if month.breakage_rate is None else f"{month.breakage_rate:f}",
    }
    return values


def _number(value: Decimal | int) -> str:
    """Grouped thousands, every decimal kept (the page never rounds what the JSON states)."""
    if isinstance(value, int):
        return f"{value:,}"
    whole = f"{value.normalize():f}"
    integer, _, fraction = whole.partition(".")
    grouped = f"{int(integer):,}" if integer not in ("", "-") else integer
    if integer.startswith("-") and not grouped.startswith("-"):
        grouped = f"-{grouped}"
    return f"{grouped}.{fraction}" if fraction else grouped
