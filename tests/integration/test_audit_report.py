"""A report's accumulators, filled by each worker and merged, say what one process would say;
a finance figure plugs in as one more accumulator. An audit of a program the log does not
hold is an error, not a clean report of nothing."""

import json
import os
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Self

import pytest

from ledger.audit.fold import Event
from ledger.audit.replay import replay
from ledger.audit.report import ReplayedStream, Report
from ledger.domain.commands import EarnPoints, RedeemPoints
from ledger.domain.decisions import Target
from ledger.domain.errors import NotFound
from ledger.domain.events import PointsEarned, PointsRedeemed
from ledger.requests import Request
from ledger.store.audit_reader import EventRow
from tests.conftest import FakeClock, request_id
from tests.integration.ledgers import new_member, new_program, running_ledger

MEMBERS = 10


class PointsIssuedAndRedeemed:
    """A finance figure in small: points issued and redeemed per program and month."""

    def __init__(self) -> None:
        self.issued: Counter[tuple[str, str]] = Counter()
        self.redeemed: Counter[tuple[str, str]] = Counter()

    def add_event(self, stream: ReplayedStream, row: EventRow) -> None:
        event: Event | None = stream.fold.event
        month = row.recorded_at[:7]
        if isinstance(event, PointsEarned):
            self.issued[row.program_id, month] += event.points
        elif isinstance(event, PointsRedeemed):
            self.redeemed[row.program_id, month] += event.points

    def merge(self, other: Self) -> None:
        self.issued += other.issued
        self.redeemed += other.redeemed


@pytest.fixture
async def programs(database_url: str, clock: FakeClock) -> list[str]:
    """Two programs of MEMBERS members; member i earns 10 + i, then 5 more in the next month,
    and redeems i."""
    async with running_ledger(database_url, clock) as ledger:
        program_ids = [await new_program(ledger) for _ in range(2)]
        members = {
            program_id: [
                await new_member(ledger, program_id, points=10 + index) for index in range(MEMBERS)
            ]
            for program_id in program_ids
        }
        clock.advance(days=31)
        for program_id in program_ids:
            for index, member_id in enumerate(members[program_id]):
                for command in (EarnPoints(5, "bonus"), RedeemPoints(index)):
                    if command.points:
                        await ledger.execute(
                            Request(Target(program_id, member_id), command, request_id())
                        )
    return program_ids


def _expected(programs: list[str]) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """Issued and redeemed points per program and month, as the fixture's commands gave them."""
    issued: Counter[tuple[str, str]] = Counter()
    redeemed: Counter[tuple[str, str]] = Counter()
    for program_id in programs:
        issued[program_id, "2026-03"] = sum(10 + index for index in range(MEMBERS))
        issued[program_id, "2026-04"] = 5 * MEMBERS
        redeemed[program_id, "2026-04"] = sum(range(MEMBERS))
    return issued, redeemed


def test_a_finance_accumulator_merged_across_workers_equals_one_process(
    database_url: str, programs: list[str]
) -> None:
    alone = replay(database_url, accumulators=[PointsIssuedAndRedeemed])
    split = replay(database_url, workers=2, accumulators=[PointsIssuedAndRedeemed])

    figures = alone.get(PointsIssuedAndRedeemed)
    assert split.get(PointsIssuedAndRedeemed).__dict__ == figures.__dict__
    issued, redeemed = _expected(programs)
    assert {key: figures.issued[key] for key in issued} == issued
    assert {key: figures.redeemed[key] for key in redeemed} == redeemed
    # The whole log: the other tests' tampering included.
    assert (split.streams, split.events, split.discrepancy_count) == (
        alone.streams,
        alone.events,
        alone.discrepancy_count,
    )


def test_reports_travel_between_processes_and_merge_into_their_sum(
    database_url: str, programs: list[str]
) -> None:
    parts = [
        replay(database_url, program_id, accumulators=[PointsIssuedAndRedeemed])
        for program_id in programs
    ]

    merged = Report([PointsIssuedAndRedeemed])
    for part in parts:
        merged.merge(pickle.loads(pickle.dumps(part)))  # noqa: S301 - our own report

    figures = merged.get(PointsIssuedAndRedeemed)
    assert (figures.issued, figures.redeemed) == _expected(programs)
    assert (merged.streams, merged.events) == (2 * (MEMBERS + 1), 2 * 40)


def test_the_built_in_accumulators_merged_across_workers_equal_one_process(
    database_url: str, programs: list[str]
) -> None:
    program_id = programs[0]

    alone = replay(database_url, program_id, keep_balances=True)
    split = replay(database_url, program_id, keep_balances=True, workers=3)

    # The program's creation; each member's enrolment and two earns, and all but the first
    # one's redemption.
    assert (split.streams, split.events) == (alone.streams, alone.events) == (MEMBERS + 1, 40)
    assert split.final_balances == alone.final_balances
    assert [balances.available for balances in alone.final_balances.values()] == [15] * MEMBERS


def test_auditing_a_program_the_log_does_not_hold_is_an_error(database_url: str) -> None:
    with pytest.raises(NotFound) as raised:
        replay(database_url, "no-such-program", workers=2)

    assert raised.value.reason == "PROGRAM_NOT_FOUND"


def test_the_audit_command_exits_non_zero_on_an_unknown_program(database_url: str) -> None:
    audit = subprocess.run(  # noqa: S603 - our own entry point
        [str(Path(sys.executable).parent / "loyalty-ledger"), "audit", "--program", "nope"],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert audit.returncode == 2
    assert audit.stdout == ""
    assert json.loads(audit.stderr)["reason"] == "PROGRAM_NOT_FOUND"
