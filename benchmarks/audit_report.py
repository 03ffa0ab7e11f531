"""The finance report against the plain audit replay of the same log, alternated in one run:
the report's figures ride on the replay, so the ratio is what they add to it (goal: the
report at least 0.8x the replay's rate). And the report's peak memory on the whole log
against the same log when it was smaller: flat, as it holds counters per program and month,
never a list of events.
"""

import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from benchmarks.harness import ROOT

if TYPE_CHECKING:
    from benchmarks.__main__ import Figure

RATIO_TARGET = 0.8
FLAT_MEMORY = 1.5


def probe(database_url: str, *, report: bool) -> dict[str, Any]:
    """One replay (or report) in a process of its own: its rate and peak memory."""
    command = [sys.executable, "-m", "benchmarks.replay_probe", "--conninfo", database_url]
    if report:
        command.append("--report")
    completed = subprocess.run(command, check=True, capture_output=True, cwd=ROOT, timeout=3600)
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def bench_audit_report(
    database_url: str, small: dict[str, Any], repeats: int, figure: type["Figure"]
) -> list["Figure"]:
    """`small` is a report of the same log measured earlier, when it held fewer events."""
    replays: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    for _ in range(repeats):
        replays.append(probe(database_url, report=False))
        reports.append(probe(database_url, report=True))
    replay, report = _median(replays), _median(reports)
    peak = max(run["peak_rss_mib"] for run in reports)
    rates = " / ".join(f"{run['per_second']:,.0f}" for run in reports)
    plain = " / ".join(f"{run['per_second']:,.0f}" for run in replays)
    return [
        figure(
            "Audit report (JSON figures per program and month) vs the plain audit replay",
            report["per_second"],
            replay["per_second"],
            "events/s",
            f">= {RATIO_TARGET}x",
            report["per_second"] >= RATIO_TARGET * replay["per_second"] and report["ok"],
            f"{report['events']:,} events in {report['streams']:,} streams,"
            f" {report['workers']} worker processes, both verifying every chain; medians of"
            f" {repeats} alternated runs (report {rates}, replay {plain} events/s)",
        ),
        figure(
            "Audit report peak memory, whole log vs the same log earlier (MiB)",
            peak,
            small["peak_rss_mib"],
            "MiB",
            f"flat (<= {FLAT_MEMORY}x)",
            peak <= FLAT_MEMORY * small["peak_rss_mib"],
            f"{report['events']:,} events vs {small['events']:,}; peak resident memory of the"
            " report and its worker processes",
        ),
    ]


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda run: run["per_second"])[len(runs) // 2]


def main() -> None:
    """The audit report's figures alone: a fresh database, the accounts seeded and earned on,
    the report's memory on that log, then the log grown through ImportHistory over the same
    accounts to --log-events chained events and the figures made over it."""
    import argparse
    import asyncio

    from benchmarks import seed
    from benchmarks.__main__ import FULL, Figure
    from benchmarks.harness import Service, accounts_file, fresh_database, run_load
    from ledger import bootstrap

    parser = argparse.ArgumentParser(prog="python -m benchmarks.audit_report")
    parser.add_argument("--log-events", type=int, default=FULL.audit_events)
    parser.add_argument("--repeats", type=int, default=FULL.repeats)
    args = parser.parse_args()
    with (
        fresh_database(bootstrap.database_url(), "bench_audit") as database_url,
        Service.running(database_url) as service,
    ):
        program_id, accounts = asyncio.run(
            seed.new_program_with_accounts(service.target, FULL.accounts)
        )
        run_load(
            service.target,
            "earn",
            callers=FULL.callers,
            seconds=4,
            accounts_file=accounts_file(accounts),
        )
        small = probe(database_url, report=True)
        asyncio.run(
            seed.grow_log(
                service.target, database_url, program_id, accounts, at_least=args.log_events
            )
        )
        seed.settle(database_url)
        figures = bench_audit_report(database_url, small, args.repeats, Figure)
    print(json.dumps([figure.__dict__ | {"ratio": figure.ratio} for figure in figures], indent=2))


if __name__ == "__main__":
    main()
