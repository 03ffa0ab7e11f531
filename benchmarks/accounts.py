"""Reads a storefront and a POS make: GetAccount against the empty health Check, and
BatchGetAccounts of 100 members against 100 GetAccount calls, alternated on one server.

GetAccount is the storefront's most frequent call (every page shows the member's points and
stage): it reads the account's state row and its stage row at once. BatchGetAccounts reads
100 accounts in three round trips; the figure compares accounts read per second.
"""

import argparse
import asyncio
import dataclasses
import io
import json
import statistics
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.harness import accounts_file, alternated_runs, run_load
from benchmarks.load import BATCH_NAMES, CHANNELS
from ledger import bootstrap
from ledger.projections.catalog import MEMBER_STAGES
from ledger.projections.workers import rebuild_projection

if TYPE_CHECKING:
    from benchmarks.__main__ import Figure, Sizes
    from benchmarks.harness import Service


def _alternated(
    service: "Service", kinds: tuple[str, str], accounts_path: Path, sizes: "Sizes", callers: int
) -> dict[str, list[dict[str, float]]]:
    # Warms both paths (caches, prepared statements) before measuring; smoke runs, which
    # only check that the figure is made, skip it to stay short.
    for kind in kinds if sizes.repeats > 1 else ():
        run_load(
            service.target,
            kind,
            callers=callers,
            seconds=sizes.load_seconds / 2,
            accounts_file=accounts_path,
        )
    return alternated_runs(
        service.target,
        {kind: (kind, accounts_path) for kind in kinds},
        callers=callers,
        seconds=sizes.load_seconds,
        repeats=sizes.repeats,
    )


def build_stage_view(database_url: str) -> None:
    """The benchmark's service runs no projection runner (each figure measures one thing):
    the stage view is built once, so that reads find each account's stage row."""
    asyncio.run(rebuild_projection(database_url, MEMBER_STAGES, io.StringIO()))


def _rates(runs: list[dict[str, float]]) -> str:
    return " / ".join(f"{run['per_second']:,.0f}" for run in runs)


def bench_get_account(
    service: "Service", accounts_path: Path, sizes: "Sizes", figure: type["Figure"]
) -> "Figure":
    runs = _alternated(service, ("health", "get_each"), accounts_path, sizes, sizes.callers)
    health = statistics.median(run["per_second"] for run in runs["health"])
    get = statistics.median(run["per_second"] for run in runs["get_each"])
    p50 = statistics.median(run["p50_ms"] for run in runs["get_each"])
    return figure(
        "GetAccount through gRPC vs empty unary RPC (health Check)",
        get,
        health,
        "calls/s",
        ">= 0.8x",
        get / health >= 0.8 if health else False,
        f"{sizes.callers} callers over {CHANNELS} connections, each call another of"
        f" {sizes.accounts:,} accounts (state row and stage row read at once); medians of"
        f" {sizes.repeats} alternated runs (health {_rates(runs['health'])}, GetAccount"
        f" {_rates(runs['get_each'])} calls/s); GetAccount p50 {p50:.1f} ms",
    )


def bench_batch_get(
    service: "Service", accounts_path: Path, sizes: "Sizes", figure: type["Figure"]
) -> "Figure":
    # Fewer callers: a batch is 100 reads, and 64 batches at once would only queue.
    callers = max(1, sizes.callers // 8)
    runs = _alternated(service, ("get_each", "batch_get"), accounts_path, sizes, callers)
    singles = statistics.median(run["per_second"] for run in runs["get_each"])
    batched = BATCH_NAMES * statistics.median(run["per_second"] for run in runs["batch_get"])
    batch_p50 = statistics.median(run["p50_ms"] for run in runs["batch_get"])
    get_p50 = statistics.median(run["p50_ms"] for run in runs["get_each"])
    return figure(
        f"BatchGetAccounts of {BATCH_NAMES} vs {BATCH_NAMES} GetAccount calls (accounts read/s)",
        batched,
        singles,
        "accounts/s",
        ">= 2x",
        batched / singles >= 2 if singles else False,
        f"{callers} callers, each batch {BATCH_NAMES} consecutive of {sizes.accounts:,}"
        f" accounts; medians of {sizes.repeats} alternated runs (GetAccount"
        f" {_rates(runs['get_each'])} calls/s, BatchGetAccounts {_rates(runs['batch_get'])}"
        f" calls/s); a batch p50 {batch_p50:.1f} ms against {BATCH_NAMES} x"
        f" {get_p50:.2f} ms one after another",
    )


def main() -> None:
    """The GetAccount figure alone, as `make bench` makes it: a fresh database, the accounts
    seeded and earned on, the stage view built."""
    from benchmarks import seed
    from benchmarks.__main__ import FULL, Figure
    from benchmarks.harness import Service, fresh_database

    parser = argparse.ArgumentParser(prog="python -m benchmarks.accounts")
    parser.add_argument("--repeats", type=int, default=FULL.repeats)
    args = parser.parse_args()
    sizes = dataclasses.replace(FULL, repeats=args.repeats)
    with (
        fresh_database(bootstrap.database_url(), "bench_accounts") as database_url,
        Service.running(database_url) as service,
    ):
        _, accounts = asyncio.run(seed.new_program_with_accounts(service.target, sizes.accounts))
        path = accounts_file(accounts)
        run_load(service.target, "earn", callers=sizes.callers, seconds=4, accounts_file=path)
        build_stage_view(database_url)
        figure = bench_get_account(service, path, sizes, Figure)
    print(json.dumps(figure.__dict__, indent=2, default=str))


if __name__ == "__main__":
    main()
