"""Reads the member directory (ledger/projections/member_directory.py) for ListAccounts."""

from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from ledger.domain.account import Balances
from ledger.domain.stages import Stage
from ledger.projections.member_directory import (
    INTEGER_FIELDS,
    NAME_FIELDS,
    TEXT_FIELDS,
    TIME_FIELDS,
    DirectoryEntry,
    DirectoryQuery,
)
from ledger.store.errors import translate
from ledger.store.sql import query


def directory_parameters(request: DirectoryQuery) -> dict[str, Any]:
    """Every bound a parameter of queries/list_directory.sql, None where the query sets none."""
    parameters: dict[str, Any] = {
        "program_id": request.program_id,
        "after_member_id": request.after_member_id,
        "limit": request.limit,
    }
    for names, bounds in ((INTEGER_FIELDS, request.integers), (TIME_FIELDS, request.times)):
        for name in names:
            bound = bounds.get(name)
            parameters[f"min_{name}"] = bound.lowest if bound else None
            parameters[f"max_{name}"] = bound.highest if bound else None
    for name in (*TEXT_FIELDS, *NAME_FIELDS):
        parameters[name] = request.texts.get(name)
    return parameters


class MemberDirectory:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    async def list_accounts(self, request: DirectoryQuery) -> list[DirectoryEntry]:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    query("list_directory"), directory_parameters(request)
                )
                rows = await cursor.fetchall()
        except psycopg.Error as error:
            raise translate(error) from error
        return [
            DirectoryEntry(
                member_id=row[0],
                member_key=row[1],
                version=row[2],
                enroll_time=row[3],
                last_activity_time=row[4],
                balances=Balances(*row[5:11]),
                stage=None if row[11] is None else Stage(row[11]),
                stage_time=row[12],
                tier=row[13],
            )
            for row in rows
        ]
