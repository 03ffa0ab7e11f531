"""The audit's liability: outstanding points valued at the program's point values."""

import asyncio
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from ledger.audit.liability import Liability
from ledger.audit.replay import replay
from ledger.domain.catalogue import PointValue
from ledger.domain.commands import RedeemPoints, ReservePoints
from ledger.domain.decisions import Target
from ledger.requests import Request
from tests.conftest import FakeClock, request_id
from tests.integration.ledgers import new_member, new_program, running_ledger


async def test_outstanding_points_are_valued_per_currency_to_fractions_of_a_cent(
    database_url: str, clock: FakeClock
) -> None:
    values = (PointValue("USD", 4_500_000), PointValue("JPY", 700_000_000))
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger, point_values=values)
        spender = await new_member(ledger, program_id, points=1_000)
        holder = await new_member(ledger, program_id, points=333)
        await ledger.execute(Request(Target(program_id, spender), RedeemPoints(400), request_id()))
        await ledger.execute(
            Request(Target(program_id, holder), ReservePoints("r-1", 100), request_id())
        )

    report = replay(database_url, program_id, workers=2, accumulators=(Liability,))

    assert report.ok, report.discrepancies
    liability = report.get(Liability)
    # 600 left, 333 more of which 100 are held (still owed until committed): 933 points.
    assert liability.points == {program_id: 933}
    assert liability.money() == {program_id: {"JPY": Decimal("653.1"), "USD": Decimal("4.1985")}}


def test_the_audit_command_reports_the_liability(database_url: str) -> None:
    async def setup() -> str:
        async with running_ledger(database_url, FakeClock()) as ledger:
            program_id = await new_program(ledger, point_values=(PointValue("USD", 10_000_000),))
            await new_member(ledger, program_id, points=250)
            return program_id

    program_id = asyncio.run(setup())

    audit = subprocess.run(  # noqa: S603 - our own entry point
        [str(Path(sys.executable).parent / "loyalty-ledger"), "audit", "--program", program_id],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["liability"] == {
        "points_outstanding": {program_id: 250},
        "value": {program_id: {"USD": "2.5"}},
    }
