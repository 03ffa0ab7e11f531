"""Reads from a real streaming replica (pg_basebackup of a primary this test owns, streaming
from it): served there while it keeps up, never further behind than the bound, and never
without the reader's own writes. Two ledgers play two processes: one only writes, the other
reads through the replica (and writes too, where a test says so)."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import LiteralString

import psycopg
import pytest

from ledger import bootstrap
from ledger.application import Ledger
from ledger.bootstrap import migrate
from ledger.domain.commands import CreateProgram, EarnPoints, Enroll
from ledger.domain.decisions import Target
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.requests import Request
from ledger.store.replica import ReplicaReadLog
from tests.conftest import request_id, unique
from tests.fault.postgres import PostgresInstance, ReplicaInstance

BOUND = timedelta(milliseconds=400)
CATCH_UP_SECONDS = 20.0
LOAD_SECONDS = 3.0
PAUSE_SECONDS = 1.0
EARNERS = 16


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def primary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresInstance]:
    """One primary and one replica for the module: each test works in a program of its own."""
    instance = PostgresInstance(tmp_path_factory.mktemp("primary"))
    try:
        instance.start()
        migrate(instance.url)
        yield instance
    finally:
        instance.destroy()


@pytest.fixture(scope="module")
def replica(
    primary: PostgresInstance, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReplicaInstance]:
    instance = ReplicaInstance(tmp_path_factory.mktemp("replica"), primary)
    try:
        instance.start()
        yield instance
    finally:
        instance.destroy()


@pytest.fixture
async def ledgers(
    primary: PostgresInstance, replica: ReplicaInstance
) -> AsyncIterator[tuple[Ledger, Ledger]]:
    """(writer, reader): the reader's account reads go to the replica when they may."""
    async with AsyncExitStack() as stack:
        writer = await stack.enter_async_context(bootstrap.postgres_ledger(primary.url, _now))
        reader = await stack.enter_async_context(
            bootstrap.postgres_ledger(
                primary.url, _now, read_url=replica.url, read_max_staleness=BOUND
            )
        )
        yield writer, reader


def _replica_log(ledger: Ledger) -> ReplicaReadLog:
    assert isinstance(ledger.log, ReplicaReadLog)
    return ledger.log


async def _member(writer: Ledger) -> tuple[str, str]:
    program = unique("prog")
    settings = ProgramSettings(earn_rates=(EarnRate("USD", 1),))
    await writer.execute(Request(Target(program), CreateProgram(program, settings), request_id()))
    await writer.execute(Request(Target(program, "m-1"), Enroll(program, "m-1"), request_id()))
    return program, "m-1"


async def _earn(ledger: Ledger, program: str, member: str, points: int) -> int:
    outcome = await ledger.execute(
        Request(Target(program, member), EarnPoints(points, "bonus"), request_id())
    )
    return outcome.accounts[member].balances.available


async def _caught_up(ledger: Ledger) -> None:
    """Until the replica holds every write acknowledged before this call. (A replica within
    the bound may still miss a write younger than the bound: the monitor must have seen it
    replayed.)"""
    log = _replica_log(ledger)
    since = time.monotonic()
    deadline = since + CATCH_UP_SECONDS
    while log.caught_up_at < since:
        assert time.monotonic() < deadline, "the replica never caught up"
        await asyncio.sleep(0.05)


REPLAY: dict[str, LiteralString] = {
    "pause": "SELECT pg_wal_replay_pause()",
    "resume": "SELECT pg_wal_replay_resume()",
}


def _replay(replica: ReplicaInstance, action: str) -> None:
    with psycopg.connect(replica.url, autocommit=True) as connection:
        connection.execute(REPLAY[action])


async def test_an_account_another_process_wrote_is_read_from_the_replica(
    ledgers: tuple[Ledger, Ledger],
) -> None:
    writer, reader = ledgers
    program, member = await _member(writer)
    available = await _earn(writer, program, member, 70)
    await _caught_up(reader)
    before = _replica_log(reader).stats.replica_reads

    view = await reader.get_account(program, member, "name")
    entries = await reader.list_entries(program, member, after_version=0, limit=10)

    assert view.balances.available == available == 70
    assert len(entries) == 2
    # Each read its account's row there, and the entries theirs.
    assert _replica_log(reader).stats.replica_reads == before + 3


async def test_a_writer_reads_its_own_write_while_the_replica_replays_nothing(
    ledgers: tuple[Ledger, Ledger], replica: ReplicaInstance
) -> None:
    writer, reader = ledgers
    program, member = await _member(writer)
    await _caught_up(reader)
    _replay(replica, "pause")
    try:
        available = await _earn(reader, program, member, 25)

        view = await reader.get_account(program, member, "name")

        assert view.balances.available == available == 25
        assert _replica_log(reader).stats.primary_reads >= 1
    finally:
        _replay(replica, "resume")


async def test_a_replica_further_behind_than_the_bound_is_not_read(
    ledgers: tuple[Ledger, Ledger], replica: ReplicaInstance
) -> None:
    writer, reader = ledgers
    program, member = await _member(writer)
    await _earn(writer, program, member, 10)
    await _caught_up(reader)
    _replay(replica, "pause")
    try:
        await _earn(writer, program, member, 5)  # another process: the reader never wrote
        await asyncio.sleep(2 * BOUND.total_seconds())

        view = await reader.get_account(program, member, "name")

        assert view.balances.available == 15
        assert _replica_log(reader).staleness > BOUND.total_seconds()
    finally:
        _replay(replica, "resume")
    await _caught_up(reader)
    replica_reads = _replica_log(reader).stats.replica_reads
    assert (await reader.get_account(program, member, "name")).balances.available == 15
    assert _replica_log(reader).stats.replica_reads == replica_reads + 1


async def test_under_load_no_read_is_older_than_the_bound_even_while_replay_pauses(
    ledgers: tuple[Ledger, Ledger], replica: ReplicaInstance
) -> None:
    """Every read shows at least every earn acknowledged more than BOUND before it began,
    while EARNERS callers of another process earn for LOAD_SECONDS, each on an account of
    its own, and the replica stops replaying for PAUSE_SECONDS in the middle."""
    writer, reader = ledgers
    program, member = await _member(writer)
    await _caught_up(reader)
    acknowledged: list[tuple[float, int]] = []
    seen: list[tuple[float, int]] = []
    stop_at = time.monotonic() + LOAD_SECONDS

    async def earn(account: str) -> None:
        while time.monotonic() < stop_at:
            points = await _earn(writer, program, account, 1)
            if account == member:
                acknowledged.append((time.monotonic(), points))

    async def read() -> None:
        while time.monotonic() < stop_at:
            began = time.monotonic()
            view = await reader.get_account(program, member, "name")
            seen.append((began, view.balances.available))
            await asyncio.sleep(0.005)

    async def pause_in_the_middle() -> None:
        await asyncio.sleep(LOAD_SECONDS / 3)
        await asyncio.to_thread(_replay, replica, "pause")
        await asyncio.sleep(PAUSE_SECONDS)
        await asyncio.to_thread(_replay, replica, "resume")

    # Like the earn benchmark: many callers at once, on many accounts (one of them read).
    others = [f"m-{number}" for number in range(2, EARNERS + 1)]
    for other in others:
        await writer.execute(Request(Target(program, other), Enroll(program, other), request_id()))
    await asyncio.gather(
        *(earn(account) for account in [member, *others]), read(), pause_in_the_middle()
    )

    bound = BOUND.total_seconds()
    for began, available in seen:
        owed = max((points for at, points in acknowledged if at < began - bound), default=0)
        assert available >= owed, f"a read at {began} showed {available}, owed {owed}"
    stats = _replica_log(reader).stats
    assert stats.replica_reads > 0 and stats.primary_reads > 0
    assert len(acknowledged) > 20 and len(seen) > 20
