"""Helpers for tests that run several ledger instances (as several pods would) on one database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg

from ledger import bootstrap
from ledger.application import Ledger
from ledger.domain.commands import CreateProgram, EarnPoints, Enroll
from ledger.domain.decisions import Target
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.requests import Request
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


def linked_key(database_url: str, program_id: str, member_id: str) -> str | None:
    """The member's pseudonymous key, if the id is linked (not forgotten)."""
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT member_key FROM ledger.members WHERE program_id = %s AND member_id = %s",
            [program_id, member_id],
        ).fetchone()
    return None if row is None else str(row[0])


def member_key(database_url: str, program_id: str, member_id: str) -> str:
    """The pseudonymous key the log names the member's account by (its stream id)."""
    key = linked_key(database_url, program_id, member_id)
    assert key is not None, f"{member_id} is not linked in {program_id}"
    return key


@asynccontextmanager
async def running_ledger(
    database_url: str, clock: FakeClock, shards: int = 2
) -> AsyncIterator[Ledger]:
    async with bootstrap.postgres_ledger(
        database_url, clock, shards=shards, pool_min_size=1, pool_max_size=4
    ) as ledger:
        yield ledger


async def new_program(ledger: Ledger, **settings: object) -> str:
    program_id = unique("prog")
    command = CreateProgram(
        program_id,
        ProgramSettings(earn_rates=(EarnRate("USD", 1),), **settings),  # type: ignore[arg-type]
    )
    await ledger.execute(Request(Target(program_id), command, request_id()))
    return program_id


async def new_member(ledger: Ledger, program_id: str, points: int = 0) -> str:
    member_id = unique("member")
    await ledger.execute(
        Request(Target(program_id, member_id), Enroll(program_id, member_id), request_id())
    )
    if points:
        await ledger.execute(
            Request(Target(program_id, member_id), EarnPoints(points, "bonus"), request_id())
        )
    return member_id
