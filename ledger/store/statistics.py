"""Reads the program statistics (ledger/projections/program_statistics.py) for
GetProgramStatistics: one statement, a bounded number of rows."""

from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from ledger.projections.program_statistics import (
    CurrencyFigures,
    FeedbackFigures,
    PointsFigures,
    ProgramFigures,
    ReferralFigures,
    StatisticsQuery,
)
from ledger.store.errors import translate
from ledger.store.sql import query

POINTS_ROW = ""
"""The currency code of a period's points row."""


class ProgramStatisticsStore:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    async def program_statistics(self, request: StatisticsQuery) -> ProgramFigures:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    query("program_statistics_read"),
                    {
                        "program_id": request.program_id,
                        "period_kind": request.kind.value,
                        "first_day": request.first_day,
                        "last_day": request.last_day,
                    },
                )
                rows = await cursor.fetchall()
        except psycopg.Error as error:
            raise translate(error) from error
        assert rows, "the statement always answers one row"
        outstanding, data_time, tiers = rows[0][11], rows[0][12], rows[0][13]
        currencies: list[CurrencyFigures] = []
        points = PointsFigures()
        feedback = FeedbackFigures()
        referrals = ReferralFigures()
        for row in rows:
            if row[0] is None:  # no row for the period: nothing happened in it
                continue
            if row[0] == POINTS_ROW:
                points = PointsFigures(row[8], row[9], row[10])
                feedback = FeedbackFigures(*row[14:21])
                referrals = ReferralFigures(row[21], row[22])
            else:
                currencies.append(CurrencyFigures(*row[0:8]))
        return ProgramFigures(
            tuple(currencies),
            PointsFigures(points.issued, points.redeemed, points.expired, outstanding or 0),
            data_time,
            feedback,
            referrals,
            tuple(sorted((tier, int(members)) for tier, members in tiers.items())),
        )
