"""Helpers for tests that run several ledger instances (as several pods would) on one database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg

from ledger.application import Ledger
from ledger.domain.commands import CreateProgram, EarnPoints, Enroll
from ledger.domain.program import EarnRate, ProgramSettings
from ledger.requests import Request
from ledger.store.eventstore import EventStore
from ledger.store.pool import make_pool
from ledger.store.records import PROGRAM_STREAM
from tests.conftest import FakeClock, request_id, unique


def count_events(database_url: str, program_id: str, event_type: str | None = None) -> int:
    """Events stored for a program (of one type, if given), read straight from the table."""
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM ledger.events WHERE program_id = %s"
            " AND (%s::text IS NULL OR event_type = %s::text)",
            [program_id, event_type, event_type],
        ).fetchone()
    assert row is not None
    return int(row[0])


@asynccontextmanager
async def running_ledger(
    database_url: str, clock: FakeClock, shards: int = 2
) -> AsyncIterator[Ledger]:
    pool = make_pool(database_url, min_size=1, max_size=4)
    await pool.open(wait=True)
    ledger = Ledger(EventStore(pool), clock, shards=shards)
    await ledger.start()
    try:
        yield ledger
    finally:
        await ledger.stop()
        await pool.close()


async def new_program(ledger: Ledger, **settings: object) -> str:
    program_id = unique("prog")
    command = CreateProgram(
        program_id,
        ProgramSettings(earn_rates=(EarnRate("USD", 1),), **settings),  # type: ignore[arg-type]
    )
    await ledger.execute(Request(program_id, PROGRAM_STREAM, command, request_id()))
    return program_id


async def new_member(ledger: Ledger, program_id: str, points: int = 0) -> str:
    member_id = unique("member")
    await ledger.execute(
        Request(program_id, member_id, Enroll(program_id, member_id), request_id())
    )
    if points:
        await ledger.execute(
            Request(program_id, member_id, EarnPoints(points, "bonus"), request_id())
        )
    return member_id
