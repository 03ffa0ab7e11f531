"""What the projection tests share: the tests-only event_counts projection, runners as
processes of their own, bulk appends through the ledger, and reading views back."""

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ledger.application import Ledger
from ledger.domain import clock
from ledger.domain.commands import HistoricalEntry, ImportHistory
from ledger.domain.decisions import Target
from ledger.projections.catalog import Projection
from ledger.projections.ports import SlotStatus
from ledger.requests import Request
from ledger.store.projection_sessions import read_statuses
from tests.conftest import T0, request_id

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

STARTUP_SECONDS = 60.0
CATCH_UP_SECONDS = 120.0
"""Longest a test waits for a runner to apply everything appended."""
MAX_IMPORT_ENTRIES = 1_000
HISTORY_START = T0 - timedelta(days=30)


def create_event_counts(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute((HERE / "event_counts.sql").read_text())


class RunnerProcess:
    """`python -m tests.projections.runner_process` (or the real CLI) on the test database."""

    def __init__(
        self,
        command: list[str],
        database_url: str,
        log_folder: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.log_path = log_folder / f"runner-{uuid.uuid4().hex[:8]}.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own entry points
            command,
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "LEDGER_LOG_LEVEL": "INFO",
                # `serve` here is the local development one: no TLS, no callers.
                "LEDGER_AUTH": "none",
                "LEDGER_PLAINTEXT": "1",
                **(env or {}),
            },
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @classmethod
    def test_entry(
        cls,
        database_url: str,
        runner_id: str,
        projections: list[str],
        log_folder: Path,
        page_events: int = 5_000,
    ) -> "RunnerProcess":
        command = [sys.executable, "-m", "tests.projections.runner_process", "--runner-id"]
        command += [runner_id, "--page-events", str(page_events), *projections]
        return cls(command, database_url, log_folder)

    @classmethod
    def cli(
        cls,
        database_url: str,
        runner_id: str,
        log_folder: Path,
        env: dict[str, str] | None = None,
    ) -> "RunnerProcess":
        command = [sys.executable, "-m", "service.cli", "projections", "run", "--runner-id"]
        return cls([*command, runner_id], database_url, log_folder, env)

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as when a pod is OOM-killed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self._log.close()
        return code

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_events(self) -> list[str]:
        """The "event" of every JSON line the process has logged so far."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                document = json.loads(line)
                if isinstance(document, dict) and "event" in document:
                    found.append(str(document["event"]))
        return found

    async def wait_leading(self) -> None:
        """Until the process says it took a projection's lock (and so handles signals)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while "projection_leading" not in self.log_events():
            assert self.alive(), f"the runner exited: {self.log_path.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "the runner did not start leading"
            await asyncio.sleep(0.05)


async def live_status(database_url: str, projection: str) -> SlotStatus:
    (status,) = [s for s in await read_statuses(database_url, [projection]) if s.live]
    return status


async def wait_caught_up(database_url: str, projection: str) -> SlotStatus:
    """The live slot's status once it has applied every event committed so far."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while True:
        status = await live_status(database_url, projection)
        if status.events_behind == 0:
            return status
        assert time.monotonic() < deadline, f"{projection} did not catch up: {status}"
        await asyncio.sleep(0.05)


async def append_history(
    ledger: Ledger,
    program_id: str,
    members: list[str],
    events: int,
    *,
    seed: int,
    concurrency: int = 4,
) -> None:
    """About `events` historical events spread over `members`, through the ledger's own
    import (one request per member and at most 1,000 entries), some earning, some spending.
    Imports are idempotent per request id, so each call uses fresh ids."""
    rng = random.Random(seed)
    per_member = max(1, events // len(members))
    gate = asyncio.Semaphore(concurrency)

    async def one(member_id: str, count: int, first: int) -> None:
        entries = tuple(
            HistoricalEntry(
                index,
                f"h-{seed}-{first + index}",
                "purchase",
                rng.choice((-30, 15, 40, 80, 120)),
                clock.instant(HISTORY_START + timedelta(seconds=first + index)),
            )
            for index in range(count)
        )
        command = ImportHistory(program_id, member_id, entries)
        async with gate:
            await ledger.execute(Request(Target(program_id, member_id), command, request_id()))

    requests = []
    for number, member_id in enumerate(members):
        for first in range(0, per_member, MAX_IMPORT_ENTRIES):
            count = min(MAX_IMPORT_ENTRIES, per_member - first)
            requests.append(one(member_id, count, number * per_member + first))
    await asyncio.gather(*requests)


def rows(database_url: str, statement: str, parameters: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as connection:
        return list(connection.execute(statement, parameters))


def event_counts_by_stream(database_url: str) -> dict[tuple[str, str], int]:
    """Events the live event_counts slot counted per stream, all runners together."""
    found = rows(
        database_url,
        "SELECT program_id, stream_id, sum(events)::bigint FROM ledger.event_counts"
        " GROUP BY program_id, stream_id",
    )
    return {(row[0], row[1]): row[2] for row in found}


def stream_versions(database_url: str) -> dict[tuple[str, str], int]:
    """Every stream's number of events, from the log itself (its version, in a log nobody
    tampered with)."""
    found = rows(
        database_url,
        "SELECT program_id, stream_id, count(*) FROM ledger.events GROUP BY program_id, stream_id",
    )
    return {(row[0], row[1]): row[2] for row in found}


def directory_rows(database_url: str, table: str = "member_directory") -> list[tuple[Any, ...]]:
    """A member directory table (the view, or a slot's table) row for row, in key order."""
    statement = sql.SQL(
        "SELECT program_id, member_key, version, enroll_time, last_activity_time,"
        " points_available, points_pending, points_held, points_lifetime_earned,"
        " points_lifetime_redeemed, points_expired"
        " FROM {} ORDER BY program_id, member_key"
    ).format(sql.Identifier("ledger", table))
    with psycopg.connect(database_url) as connection:
        return list(connection.execute(statement))


def view_rows(database_url: str, projection: Projection) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the projection's live slot, row for row, in column order."""
    (slot,) = rows(
        database_url,
        "SELECT slot FROM ledger.projection_checkpoints WHERE projection = %s AND live",
        [projection.name],
    )[0]
    found = {}
    for table in projection.tables(slot):
        columns = [
            row[0]
            for row in rows(
                database_url,
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'ledger' AND table_name = %s ORDER BY ordinal_position",
                [table],
            )
        ]
        ordering = sql.SQL(", ").join(sql.Identifier(column) for column in columns)
        statement = sql.SQL("SELECT * FROM {} ORDER BY {}").format(
            sql.Identifier("ledger", table), ordering
        )
        with psycopg.connect(database_url) as connection:
            found[table.removesuffix(f"_{slot}")] = list(connection.execute(statement))
    return found
