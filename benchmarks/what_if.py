"""What-if replay over a year of purchases (a doubled earn rate) against the plain audit replay
of the same program, alternated in one run: the what-if rides on the replay, so the ratio is
what deciding every purchase again (on a shadow of its member's account) adds to it.

python -m benchmarks.what_if [--purchases N]   runs this figure alone
"""

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from benchmarks.harness import fresh_database
from ledger import bootstrap
from ledger.audit.replay import replay
from ledger.audit.what_if import what_if
from ledger.domain.commands import CreateProgram, Enroll, RecordPurchase
from ledger.domain.decisions import Target
from ledger.domain.purchase_rules import EarnMultiplier, LineKind, OrderLine
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.requests import Request

TARGET = 0.5
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
PURCHASES_PER_MEMBER = 20
IN_FLIGHT = 64
SETTINGS = ProgramSettings(
    earn_rates=(EarnRate("USD", 1),),
    multipliers=(EarnMultiplier("shoes_double", 200, category="shoes"),),
)


class _Clock:
    def __init__(self) -> None:
        self.now = YEAR_START

    def __call__(self) -> datetime:
        return self.now


def _request(program_id: str, member_id: str | None, command: Any) -> Request:
    return Request(Target(program_id, member_id), command, f"bench-{uuid.uuid4().hex}")


async def _seed(conninfo: str, purchases: int) -> str:
    """One program, a member per PURCHASES_PER_MEMBER purchases, the purchases spread evenly
    over 2025 (two order lines each, one of them multiplied)."""
    clock = _Clock()
    program_id = f"whatif-{uuid.uuid4().hex[:8]}"
    members = [f"member-{index:07d}" for index in range(max(purchases // PURCHASES_PER_MEMBER, 1))]
    step = timedelta(days=365) / purchases
    async with bootstrap.postgres_ledger(conninfo, clock, pool_max_size=8) as ledger:
        await ledger.execute(_request(program_id, None, CreateProgram(program_id, SETTINGS)))
        for first in range(0, len(members), IN_FLIGHT):
            await asyncio.gather(
                *(
                    ledger.execute(_request(program_id, member, Enroll(program_id, member)))
                    for member in members[first : first + IN_FLIGHT]
                )
            )
        for first in range(0, purchases, IN_FLIGHT):
            clock.now = YEAR_START + step * first
            batch = range(first, min(first + IN_FLIGHT, purchases))
            await asyncio.gather(
                *(
                    ledger.execute(
                        _request(program_id, members[index % len(members)], _purchase(index))
                    )
                    for index in batch
                )
            )
    return program_id


def _purchase(index: int) -> RecordPurchase:
    lines = (
        OrderLine("1", f"sku-{index % 97}", "books", 1, 1_000 + index % 5_000, LineKind.GOODS),
        OrderLine("2", f"sku-{index % 89}", "shoes", 1, 2_000 + index % 7_000, LineKind.GOODS),
    )
    amount = sum(line.amount_minor for line in lines)
    return RecordPurchase(f"order-{index}", amount, "USD", 2, lines)


def figures(server_url: str, purchases: int, repeats: int) -> list[dict[str, Any]]:
    workers = os.cpu_count() or 1
    doubled = replace(SETTINGS, earn_rates=(EarnRate("USD", 2),))
    with fresh_database(server_url, "bench_what_if") as conninfo:
        program_id = asyncio.run(_seed(conninfo, purchases))
        rerun: list[float] = []
        plain: list[float] = []
        for _ in range(repeats):
            started = time.perf_counter()
            checked = replay(conninfo, program_id, workers=workers)
            plain.append(checked.events / (time.perf_counter() - started))
            started = time.perf_counter()
            report = what_if(
                conninfo, program_id, doubled, date(2025, 1, 1), date(2026, 1, 1), workers=workers
            )
            rerun.append(time.perf_counter() - started)
    # Every account event of 2025 is rerun (the enrolments and the purchases); the program's
    # own event is not an account's.
    assert checked.ok and report.events == checked.events - 1, (
        checked.discrepancy_count,
        report.events,
    )
    # Rounded down once per order: twice the exact points round to at least twice the points.
    recorded, proposed = report.total.by_kind()["purchase"]
    assert proposed >= 2 * recorded > 0
    seconds = statistics.median(rerun)
    ours, ceiling = checked.events / seconds, statistics.median(plain)
    rerun_rates = [checked.events / each for each in rerun]
    return [
        {
            "name": f"What-if over a year of {purchases:,} purchases vs the plain audit replay",
            "ours": ours,
            "ceiling": ceiling,
            "unit": "events/s",
            "target": f">= {TARGET}x",
            "passes": ours >= TARGET * ceiling,
            "detail": f"a doubled earn rate rerun over every purchase of 2025 (two order lines,"
            f" one multiplied) in a program of {checked.events:,} events"
            f" ({purchases / seconds:,.0f} purchases/s), against the audit replay of the"
            f" same program, {workers} worker processes, both verifying every chain; medians"
            f" of {repeats} alternated runs (what-if {_rates(rerun_rates)}, replay"
            f" {_rates(plain)} events/s)",
        }
    ]


def _rates(runs: list[float]) -> str:
    return " / ".join(f"{rate:,.0f}" for rate in runs)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.what_if")
    parser.add_argument("--purchases", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        json.dumps(
            figures(bootstrap.database_url(), args.purchases, args.repeats), indent=2, default=str
        )
    )


if __name__ == "__main__":
    main()
