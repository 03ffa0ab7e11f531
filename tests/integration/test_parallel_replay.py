"""A replay split between processes finds what a single process finds, as of one instant,
whether its workers are forked (a process with no other thread, like `loyalty-ledger audit`)
or spawned (anywhere else)."""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ledger.audit.replay import replay, worker_start_method
from ledger.audit.report import Report
from ledger.domain.commands import EarnPoints
from ledger.domain.decisions import Target
from ledger.requests import Request
from tests.conftest import FakeClock, request_id
from tests.integration.ledgers import member_key, new_member, new_program, running_ledger

MEMBERS = 12
EVENTS = 1 + MEMBERS * 2 + 18
"""The program's creation, each member's enrolment and first earn, and index % 4 more earns."""


@pytest.fixture
async def tampered(database_url: str, clock: FakeClock) -> tuple[str, list[str]]:
    """A program whose members 3 and 10 had their second event changed behind the triggers;
    returns the program and the members' stream ids (their keys)."""
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger)
        members = [await new_member(ledger, program_id, points=10) for _ in range(MEMBERS)]
        for index, member_id in enumerate(members):
            for _ in range(index % 4):
                await ledger.execute(
                    Request(Target(program_id, member_id), EarnPoints(5, "bonus"), request_id())
                )
    with psycopg.connect(database_url) as connection:
        connection.execute("SET session_replication_role = replica")
        for member_id in (members[3], members[10]):
            connection.execute(
                "UPDATE ledger.events SET data = jsonb_set(data, '{points}', '999')"
                " WHERE program_id = %s AND stream_id = %s AND version = 2",
                [program_id, member_key(database_url, program_id, member_id)],
            )
        connection.commit()
    return program_id, [member_key(database_url, program_id, member) for member in members]


@pytest.fixture
def another_thread() -> Iterator[None]:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        yield
    finally:
        stop.set()
        other.join()


def _found(result: Report) -> list[tuple[str, int, str]]:
    return [(found.stream_id, found.version, found.kind) for found in result.discrepancies]


def test_one_process_finds_each_broken_chain(
    database_url: str, tampered: tuple[str, list[str]]
) -> None:
    program_id, members = tampered

    alone = replay(database_url, program_id)

    assert (alone.streams, alone.events) == (MEMBERS + 1, EVENTS)
    # A broken chain also leaves the stream's state row unmatched; nothing else is reported.
    assert sorted(_found(alone)) == sorted(
        [
            (members[3], 2, "hash_mismatch"),
            (members[3], 5, "state_mismatch"),
            (members[10], 2, "hash_mismatch"),
            (members[10], 4, "state_mismatch"),
        ]
    )


@pytest.mark.usefixtures("another_thread")
def test_spawned_workers_find_what_one_process_finds(
    database_url: str, tampered: tuple[str, list[str]]
) -> None:
    program_id, _ = tampered
    assert worker_start_method() == "spawn"

    alone = replay(database_url, program_id, keep_balances=True)
    split = replay(database_url, program_id, keep_balances=True, workers=3)

    assert (split.streams, split.events) == (alone.streams, alone.events)
    assert split.final_balances == alone.final_balances
    assert len(split.final_balances) == MEMBERS
    assert _found(split) == _found(alone)


def test_the_audit_command_with_forked_workers_reports_what_one_process_finds(
    database_url: str, tampered: tuple[str, list[str]]
) -> None:
    program_id, _ = tampered
    alone = replay(database_url, program_id)

    audit = subprocess.run(  # noqa: S603 - our own entry point
        [
            str(Path(sys.executable).parent / "loyalty-ledger"),
            "audit",
            "--program",
            program_id,
            "--workers",
            "3",
        ],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert audit.returncode == 1, audit.stderr
    report = json.loads(audit.stdout)
    assert (report["ok"], report["streams"], report["events"]) == (False, MEMBERS + 1, EVENTS)
    assert [
        (found["stream_id"], found["version"], found["kind"]) for found in report["discrepancies"]
    ] == _found(alone)
