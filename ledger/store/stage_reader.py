"""Reads the loyalty stage view (ledger/projections/stage_view.py)."""

from typing import Any

from psycopg_pool import AsyncConnectionPool

from ledger.domain.stages import Stage
from ledger.eventlog.records import Position, StreamRow
from ledger.projections.stage_view import (
    FEED_KINDS,
    MAX_ACCOUNTS_PER_READ,
    MAX_CHANGES_PER_READ,
    ChangePosition,
    FeedChange,
    MemberStageRow,
    StageChangeEntry,
    StreamKey,
    TierChangeEntry,
)
from ledger.store.eventstore import _within as within
from ledger.store.sql import query


class PostgresStageReader:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    async def _fetch(self, name: str, parameters: dict[str, Any]) -> list[Any]:
        # No deadline here: a read may serve several callers (ledger/account_reads.py), each
        # of whom gives up at their own.
        async with within(None), self._pool.connection() as connection:
            cursor = await connection.execute(query(name), parameters)
            rows: list[Any] = await cursor.fetchall()
        return rows

    async def accounts_with_stages(
        self, keys: list[StreamKey]
    ) -> dict[StreamKey, tuple[StreamRow, MemberStageRow | None]]:
        assert len(keys) <= MAX_ACCOUNTS_PER_READ
        rows = await self._fetch(
            "accounts_with_stages",
            {
                "program_ids": [key[0] for key in keys],
                "stream_ids": [key[1] for key in keys],
            },
        )
        return {
            (row[0], row[1]): (
                StreamRow(row[0], row[1], row[2], bytes(row[3]), row[4], row[5], row[6]),
                None if row[7] is None else MemberStageRow(row[1], Stage(row[7]), row[8]),
            )
            for row in rows
        }

    async def changes_after(
        self,
        program_id: str,
        after: ChangePosition,
        limit: int,
        kinds: frozenset[str] | None = None,
    ) -> list[FeedChange]:
        assert 1 <= limit <= MAX_CHANGES_PER_READ
        assert kinds is None or kinds <= FEED_KINDS, kinds
        rows = await self._fetch(
            "stage_changes_after",
            {
                "program_id": program_id,
                "after_transaction": str(after.at.transaction_id),
                "after_position": after.at.position,
                "after_ordinal": after.ordinal,
                "limit": limit,
                "kinds": None if kinds is None else sorted(kinds),
            },
        )
        return [_change(row) for row in rows]

    async def members_per_stage(self, program_id: str) -> dict[Stage, int]:
        rows = await self._fetch("stage_counts", {"program_id": program_id})
        return {Stage(row[0]): row[1] for row in rows}


def _change(row: Any) -> FeedChange:
    position = ChangePosition(Position(int(row[0]), row[1]), row[2])
    if row[11] == "tier":
        return TierChangeEntry(
            position=position,
            program_id=row[3],
            member_key=row[4],
            member_id=row[5],
            from_tier=row[12],
            to_tier=row[13],
            reason=row[14],
            qualifying_figure=row[15],
            change_time=row[8],
            cause_event_id=row[9],
            cause_event_type=row[10],
        )
    return StageChangeEntry(
        position=position,
        program_id=row[3],
        member_key=row[4],
        member_id=row[5],
        from_stage=Stage(row[6]),
        to_stage=Stage(row[7]),
        change_time=row[8],
        cause_event_id=row[9],
        cause_event_type=row[10],
    )
