"""The purchase figure of `make bench` alone: RecordPurchase of 5 order lines against a plain
EarnPoints on the same accounts, alternated, each round on a fresh database and service.
Besides the rates it reads the service's CPU time per call (/proc), which the host's other
load moves much less than the rates. With --commits, the code of those commits is measured
instead of the checkout's, in turn, so the host's drift falls on all of them alike.

python -m benchmarks.purchase [--rounds N] [--commits COMMIT ...]
"""

import argparse
import asyncio
import contextlib
import json
import statistics

from benchmarks import seed
from benchmarks.__main__ import FULL
from benchmarks.baseline import Baseline, baseline_tree, python_path
from benchmarks.harness import Service, accounts_file, cpu_seconds, fresh_database, run_load
from ledger import bootstrap

KINDS = ("earn", "purchase")


def one_round(server_url: str, python_path: str | None) -> dict[str, float]:
    """Medians over FULL.repeats alternated runs: calls/s and service CPU µs per call."""
    readings: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KINDS}
    with (
        fresh_database(server_url, "bench_purchase") as url,
        Service.running(url, python_path=python_path) as service,
    ):
        _, accounts = asyncio.run(
            seed.new_program_with_accounts(service.target, FULL.accounts, earning_rules=True)
        )
        path = accounts_file(accounts, "purchase")
        for kind in KINDS:  # warm-up, as bench_purchase does
            run_load(service.target, kind, callers=FULL.callers, seconds=4, accounts_file=path)
        for _ in range(FULL.repeats):
            for kind in KINDS:
                before = cpu_seconds(service.pid)
                run = run_load(
                    service.target,
                    kind,
                    callers=FULL.callers,
                    seconds=FULL.load_seconds,
                    accounts_file=path,
                )
                assert not run["errors"], f"{kind} failed"
                cpu = cpu_seconds(service.pid) - before
                readings[kind].append((run["per_second"], cpu / run["calls"] * 1e6))
    found = {}
    for kind, runs in readings.items():
        found[f"{kind}_per_s"] = statistics.median(rate for rate, _ in runs)
        found[f"{kind}_cpu_us"] = statistics.median(cpu for _, cpu in runs)
    found["ratio"] = found["purchase_per_s"] / found["earn_per_s"]
    found["cpu_ratio"] = found["earn_cpu_us"] / found["purchase_cpu_us"]
    return {name: round(value, 3) for name, value in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.purchase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--commits", nargs="*", default=[], help="measure these, not the checkout")
    args = parser.parse_args()
    server_url = bootstrap.database_url()
    with contextlib.ExitStack() as stack:
        paths: dict[str, str | None] = {"checkout": None} if not args.commits else {}
        for commit in args.commits:
            tree = stack.enter_context(baseline_tree(Baseline(commit, "", 0)))
            assert tree is not None, f"git has no commit {commit}"
            paths[commit] = python_path(tree)
        rounds: dict[str, list[dict[str, float]]] = {label: [] for label in paths}
        for _ in range(args.rounds):
            for label, path in paths.items():
                rounds[label].append(one_round(server_url, path))
                print(json.dumps({"code": label, **rounds[label][-1]}), flush=True)
    for label, found in rounds.items():
        ratios = [each["ratio"] for each in found]
        cpu_ratios = [each["cpu_ratio"] for each in found]
        print(
            f"{label}: purchase/earn {statistics.median(ratios):.2f}x in calls/s"
            f" ({' / '.join(f'{ratio:.2f}' for ratio in ratios)}),"
            f" {statistics.median(cpu_ratios):.2f}x in service CPU per call"
            f" ({' / '.join(f'{ratio:.2f}' for ratio in cpu_ratios)})"
        )


if __name__ == "__main__":
    main()
