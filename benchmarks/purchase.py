"""The purchase figure of `make bench` alone: RecordPurchase of 5 order lines against a plain
EarnPoints on the same accounts, alternated, each round on a fresh database and service.
Besides the rates it reads the service's CPU time per call (/proc), which the host's other
load moves much less than the rates, and the same purchase under a program with only its earn
rate, which tells the rules' own share from the rest of a purchase's cost. With --commits, the
code of those commits is measured instead of the checkout's, in turn, so the host's drift falls
on all of them alike.

python -m benchmarks.purchase [--rounds N] [--commits COMMIT ...]
"""

import argparse
import asyncio
import contextlib
import json
import statistics
from pathlib import Path

from benchmarks import seed
from benchmarks.baseline import Baseline, baseline_tree, python_path
from benchmarks.harness import Service, accounts_file, cpu_seconds, fresh_database, run_load
from ledger import bootstrap

LOADS = {
    "earn": ("earn", "rules"),
    "purchase": ("purchase", "rules"),
    "plain": ("purchase", "plain"),
}
"""Label: (the load generator's kind, the program whose accounts it calls). "plain" is the same
purchase under a program with only its earn rate: the rules' own share."""


def program_accounts(target: str, count: int) -> dict[str, Path]:
    """The accounts files of the programs LOADS names: "rules", a program with the benchmark's
    earning rules, and "plain", one with only its earn rate; `count` accounts each."""
    paths = {}
    for program in ("rules", "plain"):
        _, accounts = asyncio.run(
            seed.new_program_with_accounts(target, count, earning_rules=program == "rules")
        )
        paths[program] = accounts_file(accounts, f"purchase_{program}")
    return paths


def loads(paths: dict[str, Path]) -> dict[str, tuple[str, Path]]:
    """LOADS with each program's accounts file, as harness.alternated_runs takes them."""
    return {label: (kind, paths[program]) for label, (kind, program) in LOADS.items()}


def one_round(server_url: str, python_path: str | None) -> dict[str, float]:
    """Medians over FULL.repeats alternated runs: calls/s and service CPU µs per call."""
    from benchmarks.__main__ import FULL  # not at the top: `make bench` imports this module

    readings: dict[str, list[tuple[float, float]]] = {label: [] for label in LOADS}
    with (
        fresh_database(server_url, "bench_purchase") as url,
        Service.running(url, python_path=python_path) as service,
    ):
        each = loads(program_accounts(service.target, FULL.accounts))
        for kind, path in each.values():  # warm-up, as bench_purchase does
            run_load(service.target, kind, callers=FULL.callers, seconds=4, accounts_file=path)
        for _ in range(FULL.repeats):
            for label, (kind, path) in each.items():
                before = cpu_seconds(service.pid)
                run = run_load(
                    service.target,
                    kind,
                    callers=FULL.callers,
                    seconds=FULL.load_seconds,
                    accounts_file=path,
                )
                assert not run["errors"], f"{label} failed"
                cpu = cpu_seconds(service.pid) - before
                readings[label].append((run["per_second"], cpu / run["calls"] * 1e6))
    found = {}
    for label, runs in readings.items():
        found[f"{label}_per_s"] = statistics.median(rate for rate, _ in runs)
        found[f"{label}_cpu_us"] = statistics.median(cpu for _, cpu in runs)
    found["ratio"] = found["purchase_per_s"] / found["earn_per_s"]
    found["cpu_ratio"] = found["earn_cpu_us"] / found["purchase_cpu_us"]
    found["rules_ratio"] = found["purchase_per_s"] / found["plain_per_s"]
    found["rules_cpu_ratio"] = found["plain_cpu_us"] / found["purchase_cpu_us"]
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
        print(
            f"{label}: purchase/earn {_ratios(found, 'ratio', 'cpu_ratio')};"
            f" with rules/without {_ratios(found, 'rules_ratio', 'rules_cpu_ratio')}"
        )


def _ratios(found: list[dict[str, float]], rate: str, cpu: str) -> str:
    rates = [each[rate] for each in found]
    cpus = [each[cpu] for each in found]
    return (
        f"{statistics.median(rates):.2f}x in calls/s"
        f" ({' / '.join(f'{ratio:.2f}' for ratio in rates)}),"
        f" {statistics.median(cpus):.2f}x in service CPU per call"
        f" ({' / '.join(f'{ratio:.2f}' for ratio in cpus)})"
    )


if __name__ == "__main__":
    main()
