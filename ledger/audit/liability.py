"""Finance's points liability: the points every account still holds (available, pending and
held by open reservations; an account below zero counts as none) and their money value at
each program's point values (ProgramSettings.point_values) as the replay leaves them.

A stream accumulator (ledger/audit/report.py): `replay(..., accumulators=[Liability])`.
"""

from decimal import Decimal
from typing import Self

from ledger.audit.fold import point_values_of
from ledger.audit.report import ReplayedStream

NANOS_PER_UNIT = Decimal(1_000_000_000)


class Liability:
    def __init__(self) -> None:
        self.points: dict[str, int] = {}
        """Outstanding points per program."""
        self.point_values: dict[str, dict[str, int]] = {}
        """Per program: currency -> nanos of its major unit one point is worth."""

    def add_stream(self, stream: ReplayedStream) -> None:
        fold = stream.fold
        values = point_values_of(fold.state)
        if values is not None:
            self.point_values[stream.program_id] = values
            return
        balances = fold.balances
        if balances is None:
            return
        outstanding = max(balances.available + balances.pending + balances.held, 0)
        self.points[stream.program_id] = self.points.get(stream.program_id, 0) + outstanding

    def merge(self, other: Self) -> None:
        for program_id, points in other.points.items():
            self.points[program_id] = self.points.get(program_id, 0) + points
        self.point_values.update(other.point_values)

    def money(self) -> dict[str, dict[str, Decimal]]:
        """Per program, per currency its settings value points in: the outstanding points'
        worth in major units (exact: no rounding here, finance rounds as it reports)."""
        return {
            program_id: {
                currency: self.points.get(program_id, 0) * nanos / NANOS_PER_UNIT
                for currency, nanos in sorted(values.items())
            }
            for program_id, values in sorted(self.point_values.items())
        }
