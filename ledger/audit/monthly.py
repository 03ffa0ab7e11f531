"""The finance report's figures, gathered during the audit's one replay: per program and month
(in the program's time zone), the points that came in and went out by kind, and how the stock
of points (outstanding, pending, below zero) changed by each month's end.

An accumulator of ledger/audit/report.py, fed every account event as it folds. It holds one
row of counters per program and month and the state of the stream being read, never a list of
events, so its memory depends on the months covered, not on the size of the log.

Flows: each event's effect is the change of the account's points on the books (available +
pending + held, as the replay recomputed them), filed under the column ledger/audit/
point_flows.py names for its type. Stocks: at each month end an account holds
max(available, 0) + held outstanding, `pending` pending, min(available, 0) below zero and
max(available + pending + held, 0) liable; the
row of a month keeps how much those changed during it, the report adds them up over the
months (ledger/audit/finance_report.py). An account with no event in a month adds nothing to
its row, yet still counts in its stocks.
"""

from collections.abc import Mapping
from typing import Self

from ledger.audit.point_flows import FLOW_COLUMNS, FLOWS, UNCLASSIFIED
from ledger.audit.program_calendar import MonthSpan, ProgramCalendar
from ledger.audit.report import ReplayedStream
from ledger.store.audit_reader import EventRow

OUTSTANDING_CHANGE = len(FLOW_COLUMNS)
PENDING_CHANGE = OUTSTANDING_CHANGE + 1
NEGATIVE_CHANGE = OUTSTANDING_CHANGE + 2
LIABILITY_CHANGE = OUTSTANDING_CHANGE + 3
CELLS = LIABILITY_CHANGE + 1
"""A month's row: the flow columns in FLOW_COLUMNS' order, then the changes of the four
stocks."""

_UNCLASSIFIED = FLOW_COLUMNS.index(UNCLASSIFIED)
_INDEXES: dict[str, tuple[int, int]] = {
    event_type: (
        _UNCLASSIFIED if flow.credit is None else FLOW_COLUMNS.index(flow.credit),
        _UNCLASSIFIED if flow.debit is None else FLOW_COLUMNS.index(flow.debit),
    )
    for event_type, flow in FLOWS.items()
}
_UNKNOWN = (_UNCLASSIFIED, _UNCLASSIFIED)


class MonthlyFigures:
    """Both an event and a stream accumulator: events fill the rows, a stream's end closes
    its last month."""

    def __init__(
        self, calendars: Mapping[str, ProgramCalendar], cutoffs: Mapping[str, str]
    ) -> None:
        self.calendars = calendars
        """Per program in the report: its calendar (read before the replay)."""
        self.cutoffs = cutoffs
        """Per program: events recorded at or after this instant are left out (--as-of)."""
        self.rows: dict[tuple[str, str], list[int]] = {}
        """(program, month) -> CELLS counters."""
        self.last_month: dict[str, str] = {}
        """Per program: the latest month an account event was counted in."""
        self.unclassified_event_types: set[str] = set()
        self._reset_stream()
        self._program = ""
        self._calendar: ProgramCalendar | None = None
        self._cutoff = ""
        self._span = MonthSpan("", "", "")

    def _reset_stream(self) -> None:
        self._stream: ReplayedStream | None = None
        self._month = ""
        self._row: list[int] = []
        self._points = 0
        """The account's points on the books after the last event counted."""
        self._available = self._pending = self._held = 0
        self._counted = (0, 0, 0, 0)
        """Outstanding, pending, below-zero and liability points of the account as the rows
        count them."""

    def add_event(self, stream: ReplayedStream, row: EventRow) -> None:
        balances = stream.fold.balances
        if balances is None:
            return  # not an account
        if stream is not self._stream:
            self._open(stream)
        recorded_at = row.recorded_at
        if recorded_at >= self._cutoff or self._calendar is None:
            return
        span = self._span
        if not span.start <= recorded_at < span.stop or not self._month:
            self._enter(recorded_at)
        available, pending, held = balances.available, balances.pending, balances.held
        points = available + pending + held
        change = points - self._points
        if change:
            self._points = points
            indexes = _INDEXES.get(row.event_type, _UNKNOWN)
            if change > 0:
                index = indexes[0]
                self._row[index] += change
            else:
                index = indexes[1]
                self._row[index] += change if index == _UNCLASSIFIED else -change
            if index == _UNCLASSIFIED:
                self.unclassified_event_types.add(row.event_type)
        self._available, self._pending, self._held = available, pending, held

    def add_stream(self, stream: ReplayedStream) -> None:
        if stream is self._stream:
            self._close_month()
        self._reset_stream()

    def _open(self, stream: ReplayedStream) -> None:
        if self._stream is not None:
            self._close_month()
        self._reset_stream()
        self._stream = stream
        program_id = stream.program_id
        if program_id != self._program:
            self._program = program_id
            self._calendar = self.calendars.get(program_id)
            # A program outside the report (no revision before the cutoff): nothing counts.
            self._cutoff = self.cutoffs.get(program_id, "")
            self._span = MonthSpan("", "", "")

    def _enter(self, recorded_at: str) -> None:
        """`recorded_at` is outside the month span in hand, or the account's first: find its
        month, and close the account's month before it if it is another one."""
        assert self._calendar is not None
        span = self._span
        if not span.start <= recorded_at < span.stop:
            # Kept from stream to stream: the next account's events are often in it too.
            span = self._span = self._calendar.month_span(recorded_at)
        if span.month == self._month:
            return
        self._close_month()
        self._month = span.month
        key = (self._program, span.month)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = [0] * CELLS
        self._row = row
        if span.month > self.last_month.get(self._program, ""):
            self.last_month[self._program] = span.month

    def _close_month(self) -> None:
        """The account's stocks at the end of its current month go into that month's row."""
        if not self._month:
            return
        available = self._available
        # An account's liability is net of what it owes: points pending or held pay off a
        # balance below zero first when they become available (as ledger/audit/liability.py
        # counts it).
        stocks = (
            max(available, 0) + self._held,
            self._pending,
            min(available, 0),
            max(available + self._pending + self._held, 0),
        )
        counted = self._counted
        row = self._row
        row[OUTSTANDING_CHANGE] += stocks[0] - counted[0]
        row[PENDING_CHANGE] += stocks[1] - counted[1]
        row[NEGATIVE_CHANGE] += stocks[2] - counted[2]
        row[LIABILITY_CHANGE] += stocks[3] - counted[3]
        self._counted = stocks

    def merge(self, other: Self) -> None:
        rows = self.rows
        for key, theirs in other.rows.items():
            mine = rows.get(key)
            if mine is None:
                rows[key] = list(theirs)
            else:
                rows[key] = [a + b for a, b in zip(mine, theirs, strict=True)]
        for program_id, month in other.last_month.items():
            if month > self.last_month.get(program_id, ""):
                self.last_month[program_id] = month
        self.unclassified_event_types |= other.unclassified_event_types

    def __getstate__(self) -> dict[str, object]:
        # What travels back from a worker: the figures, not the stream in hand.
        return {
            "calendars": self.calendars,
            "cutoffs": self.cutoffs,
            "rows": self.rows,
            "last_month": self.last_month,
            "unclassified_event_types": self.unclassified_event_types,
        }

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._reset_stream()
        self._program = ""
        self._calendar = None
        self._cutoff = ""
        self._span = MonthSpan("", "", "")
