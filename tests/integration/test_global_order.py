"""A reader following the global order sees every committed event once, in a stable order,
even while writers commit out of the order in which their transactions began."""

import asyncio
import random
from typing import Any

import psycopg

from ledger.application import Ledger
from ledger.batch import Batch
from ledger.codec.batch import append_document
from ledger.domain import decisions
from ledger.domain.commands import EarnPoints
from ledger.domain.decisions import Target
from ledger.eventlog.port import EventLog
from ledger.eventlog.records import Position
from ledger.requests import Request
from ledger.store.sql import query
from tests.conftest import FakeClock, request_id
from tests.integration.ledgers import member_key, new_member, new_program, running_ledger

WRITERS = 8
EARNS_PER_WRITER = 25


async def _slow_writer(
    database_url: str,
    log: EventLog,
    clock: FakeClock,
    program_id: str,
    member_id: str,
    seed: int,
) -> None:
    """Appends through its own transactions, which take their transaction id first and then
    sleep a random while before committing: later ids regularly commit before earlier ones."""
    rng = random.Random(seed)
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        for _ in range(EARNS_PER_WRITER):
            request = Request(Target(program_id, member_id), EarnPoints(1, "bonus"), request_id())
            needed = decisions.reads(request.target, request.command)
            loaded = await log.load(needed.streams, [request.key])
            batch = Batch(loaded.streams, loaded.requests, loaded.orders, clock())
            batch.apply(request)
            async with connection.transaction():
                await connection.execute("SELECT pg_current_xact_id()")
                await asyncio.sleep(rng.uniform(0, 0.02))
                await connection.execute(
                    query("append"), {"batch": append_document(batch.commit())}
                )


async def _follow(ledger: Ledger, program_id: str, done: asyncio.Event) -> list[Any]:
    seen: list[Any] = []
    position = Position()
    while True:
        finished = done.is_set()
        records = await ledger.read_all(position, 100, program_id)
        for record in records:
            seen.append(record.event_id)
            position = Position.of(record)
        if finished and not records:
            return seen
        if not records:
            await asyncio.sleep(0.005)


async def test_a_reader_sees_every_event_of_eight_concurrent_writers_exactly_once_in_a_stable_order(
    database_url: str, clock: FakeClock
) -> None:
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger)
        # The writers below decide through the port, below the ledger's translation of ids
        # into the keys streams are named by.
        members = [
            member_key(database_url, program_id, await new_member(ledger, program_id))
            for _ in range(WRITERS)
        ]
        done = asyncio.Event()
        reader = asyncio.create_task(_follow(ledger, program_id, done))
        await asyncio.gather(
            *(
                _slow_writer(database_url, ledger.log, clock, program_id, member, seed)
                for seed, member in enumerate(members)
            )
        )
        done.set()
        seen = await reader
        reread = [record.event_id for record in await ledger.read_all(Position(), 1000, program_id)]

    with psycopg.connect(database_url) as connection:
        stored = {
            row[0]
            for row in connection.execute(
                "SELECT event_id::text FROM ledger.events WHERE program_id = %s", [program_id]
            )
        }
    assert len(stored) == 1 + WRITERS + WRITERS * EARNS_PER_WRITER
    assert len(seen) == len(set(seen)), "an event was delivered twice"
    assert set(seen) == stored, "an event was skipped"
    assert seen == reread, "the order changed between two reads"
