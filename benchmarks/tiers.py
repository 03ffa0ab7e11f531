"""An EarnPoints that upgrades a tier against a plain EarnPoints, through gRPC, alternated on
the same server.

The tiered program's ten tiers are 1, 2, ... 10 points apart and the load earns 1 point a
call, so each of a member's first ten earns takes them a tier up: the call appends the earn
and a TierChanged, and the account's state carries the tier ladder. There are enough members
that no run reaches an eleventh earn; the figure checks that every earn measured upgraded.
"""

import asyncio
import statistics
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from benchmarks import seed
from benchmarks.harness import alternated_runs, run_load
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc

if TYPE_CHECKING:
    from benchmarks.__main__ import Figure, Sizes
    from benchmarks.harness import Service

TIERS = 10
MEMBERS_PER_ACCOUNT = 10
"""Tiered members per account of the plain figure: each run starts again at the first member,
so a member is earned on once a run or twice; ten tiers last the warm-up and five runs."""
_COUNT = """
SELECT count(*) FILTER (WHERE event_type = 'PointsEarned'),
    count(*) FILTER (WHERE event_type = 'TierChanged')
FROM ledger.events WHERE program_id = %(program_id)s
"""


async def _tiered_program(target: str) -> str:
    program_id = f"bench-tiers-{uuid.uuid4().hex[:8]}"
    async with grpc.aio.insecure_channel(target) as channel:
        await ledger_pb2_grpc.LedgerServiceStub(channel).CreateProgram(
            pb.CreateProgramRequest(
                request_id=str(uuid.uuid4()),
                program_id=program_id,
                program=pb.Program(
                    earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)],
                    tiers=pb.TierSettings(
                        levels=[
                            pb.Tier(
                                name=f"tier_{rank}",
                                threshold=rank,
                                earn_multiplier_percent=100 + 10 * rank,
                                perks=["free_shipping", f"perk_{rank}"],
                            )
                            for rank in range(1, TIERS + 1)
                        ],
                        window=pb.TIER_WINDOW_ROLLING_MONTHS,
                        window_months=12,
                        grace_days=30,
                    ),
                ),
            ),
            timeout=30,
        )
    return program_id


def _counts(database_url: str, program_id: str) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(database_url) as connection:
        row = connection.execute(_COUNT, {"program_id": program_id}).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def bench_tier_upgrade(
    service: "Service",
    database_url: str,
    accounts: list[str],
    sizes: "Sizes",
    figure: type["Figure"],
    accounts_file: Callable[[list[str], str], Path],
) -> "Figure":
    program_id = asyncio.run(_tiered_program(service.target))
    members = seed.account_names(program_id, len(accounts) * MEMBERS_PER_ACCOUNT)
    accounts_path = accounts_file(accounts, "plain")
    asyncio.run(
        seed.import_history(service.target, program_id, members, len(members), concurrency=1)
    )
    tiered_path = accounts_file(members, "tiered")
    run_load(
        service.target,
        "earn",
        callers=sizes.callers,
        seconds=sizes.load_seconds / 2,
        accounts_file=accounts_path,
    )
    runs = alternated_runs(
        service.target,
        {"earn": ("earn", accounts_path), "upgrade": ("earn", tiered_path)},
        callers=sizes.callers,
        seconds=sizes.load_seconds,
        repeats=sizes.repeats,
    )
    earns, upgrades = _counts(database_url, program_id)
    earn = statistics.median(run["per_second"] for run in runs["earn"])
    upgrade = statistics.median(run["per_second"] for run in runs["upgrade"])
    assert not any(run["errors"] for run in runs["upgrade"]), "tiered earns failed"
    rates = {
        kind: " / ".join(f"{run['per_second']:,.0f}" for run in kind_runs)
        for kind, kind_runs in runs.items()
    }
    return figure(
        "EarnPoints that upgrades a tier vs plain EarnPoints through gRPC",
        upgrade,
        earn,
        "calls/s",
        ">= 0.7x",
        upgrade >= 0.7 * earn and upgrades == earns,
        f"{sizes.callers} callers; a program of {TIERS} tiers, each earn one tier up"
        f" ({upgrades:,} TierChanged for {earns:,} earns); medians of {sizes.repeats}"
        f" alternated runs (earn {rates['earn']}, upgrading earn {rates['upgrade']} calls/s);"
        f" upgrading p50 {statistics.median(r['p50_ms'] for r in runs['upgrade']):.1f} ms",
    )
