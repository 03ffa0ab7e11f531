"""A replay split between processes finds what a single process finds, as of one instant."""

import threading
from collections.abc import Iterator

import psycopg
import pytest

from ledger.audit.replay import replay, worker_start_method
from ledger.domain.commands import EarnPoints
from ledger.requests import Request
from tests.conftest import FakeClock, request_id
from tests.integration.ledgers import new_member, new_program, running_ledger

MEMBERS = 12


@pytest.fixture(params=["fork", "spawn"])
def start_method(request: pytest.FixtureRequest) -> Iterator[str]:
    """The replay forks its workers only when this process has no other thread; a thread
    kept alive through the test makes it spawn them instead."""
    if request.param == "fork":
        yield "fork"
        return
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        yield "spawn"
    finally:
        stop.set()
        other.join()


async def _program_with_members(database_url: str, clock: FakeClock) -> tuple[str, list[str]]:
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger)
        members = [await new_member(ledger, program_id, points=10) for _ in range(MEMBERS)]
        for index, member_id in enumerate(members):
            for _ in range(index % 4):
                await ledger.execute(
                    Request(program_id, member_id, EarnPoints(5, "bonus"), request_id())
                )
    return program_id, members


async def test_workers_find_the_same_events_balances_and_tampering_as_one_process(
    database_url: str, clock: FakeClock, start_method: str
) -> None:
    program_id, members = await _program_with_members(database_url, clock)
    with psycopg.connect(database_url) as connection:
        connection.execute("SET session_replication_role = replica")
        for member_id in (members[3], members[10]):
            connection.execute(
                "UPDATE ledger.events SET data = jsonb_set(data, '{points}', '999')"
                " WHERE program_id = %s AND stream_id = %s AND version = 2",
                [program_id, member_id],
            )
        connection.commit()

    assert worker_start_method() == start_method
    alone = replay(database_url, program_id, keep_balances=True)
    split = replay(database_url, program_id, keep_balances=True, workers=3)

    assert (alone.streams, alone.events) == (MEMBERS + 1, 1 + MEMBERS * 2 + 18)
    assert (split.streams, split.events) == (alone.streams, alone.events)
    assert split.final_balances == alone.final_balances
    assert len(split.final_balances) == MEMBERS
    assert [(found.stream_id, found.version, found.kind) for found in split.discrepancies] == [
        (found.stream_id, found.version, found.kind) for found in alone.discrepancies
    ]
    # A broken chain also leaves the stream's state row unmatched; nothing else is reported.
    assert {(found.stream_id, found.version, found.kind) for found in alone.discrepancies} == {
        (members[3], 2, "hash_mismatch"),
        (members[3], 5, "state_mismatch"),
        (members[10], 2, "hash_mismatch"),
        (members[10], 4, "state_mismatch"),
    }
