"""`make bench`: every figure is a ratio to a ceiling or a peer measured in the same run.

python -m benchmarks            the full run; writes docs/BENCHMARKS.md and .bench/results.json
python -m benchmarks --smoke    tiny sizes, a minute at most (run by `make test`)
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from benchmarks import (
    baseline,
    ceilings,
    checkpoints,
    feed,
    history,
    peer,
    program_statistics,
    projections,
    seed,
    what_if,
)
from benchmarks.accounts import bench_batch_get, bench_get_account, build_stage_view
from benchmarks.actions import bench_action
from benchmarks.audit_report import bench_audit_report
from benchmarks.audit_report import probe as audit_report_probe
from benchmarks.harness import (
    ROOT,
    Service,
    accounts_file,
    alternated_runs,
    fresh_database,
    machine,
    memory_kib,
    run_load,
)
from benchmarks.load import CHANNELS
from benchmarks.purchase import loads as purchase_loads
from benchmarks.purchase import program_accounts as purchase_accounts
from benchmarks.referrals import bench_referral
from benchmarks.telemetry import bench_telemetry
from benchmarks.tiers import bench_tier_upgrade
from ledger import bootstrap


@dataclass(frozen=True)
class Sizes:
    load_seconds: float
    callers: int
    accounts: int
    import_requests: int
    log_events: int
    long_account_events: int
    peer_seconds: float
    repeats: int
    """Readings per figure where one reading is short enough for outside load to decide it."""
    history_orders: int
    """Purchases of the member with a long history."""
    against_baseline: bool
    """Measure the code before the renovation too (benchmarks/baseline.py)."""
    baseline_repeats: int
    """Alternated runs per service against a baseline: the ratio of two ratios swings by
    15% over 5 runs on a shared host, more than the 5% a target there allows."""
    audit_events: int
    """Events in the log (chained, through the API) when the audit report is measured."""


FULL = Sizes(8, 64, 2_000, 50, 1_000_000, 100_000, 8, 5, 10_000, True, 9, 1_000_000)
SMOKE = Sizes(1.5, 16, 200, 2, 4_000, 2_000, 1.5, 1, 200, False, 1, 60_000)
SHORT_HISTORY_ORDERS = 10
RESULTS = ROOT / ".bench" / "results.json"
REPORT = ROOT / "docs" / "BENCHMARKS.md"


@dataclass
class Figure:
    name: str
    ours: float
    ceiling: float
    unit: str
    target: str
    passes: bool
    detail: str

    def __post_init__(self) -> None:
        # Shown as soon as it is made: a run that fails later still tells what it measured.
        _log(f"  {self.name}: {self.ratio:.2f}x (target {self.target}); {self.detail}")

    @property
    def ratio(self) -> float:
        return self.ours / self.ceiling if self.ceiling else 0.0


class MemorySampler:
    """Samples a process's resident memory every 100 ms while a load runs."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak_kib = max(self.peak_kib, memory_kib(self._pid, "VmRSS"))


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_earn(
    service: Service, accounts: list[str], sizes: Sizes
) -> tuple[list[Figure], dict[str, Any]]:
    """Earn (one event a call, distinct accounts) against health Check on the same server,
    alternated so drift in the machine hits both; the medians are compared."""
    accounts_path = accounts_file(accounts)
    run_load(
        service.target,
        "earn",
        callers=sizes.callers,
        seconds=sizes.load_seconds / 2,
        accounts_file=accounts_path,
    )
    runs: dict[str, list[dict[str, float]]] = {"health": [], "earn": []}
    with MemorySampler(service.pid) as memory:
        for _ in range(sizes.repeats):
            for kind in ("health", "earn"):
                runs[kind].append(
                    run_load(
                        service.target,
                        kind,
                        callers=sizes.callers,
                        seconds=sizes.load_seconds,
                        accounts_file=accounts_path,
                    )
                )
    health = statistics.median(run["per_second"] for run in runs["health"])
    earn = statistics.median(run["per_second"] for run in runs["earn"])
    earn_p50 = statistics.median(run["p50_ms"] for run in runs["earn"])
    earn_p99 = statistics.median(run["p99_ms"] for run in runs["earn"])
    memory_mib = memory.peak_kib / 1024
    figures = [
        Figure(
            "Earn through gRPC vs empty unary RPC (health Check)",
            earn,
            health,
            "calls/s",
            ">= 0.6x",
            earn / health >= 0.6,
            f"{sizes.callers} callers in another process over {CHANNELS} connections;"
            f" medians of {sizes.repeats} alternated runs (health {_rates(runs['health'])},"
            f" earn {_rates(runs['earn'])} calls/s);"
            f" earn p50 {earn_p50:.1f} ms, p99 {earn_p99:.1f} ms;"
            f" health p50 {statistics.median(r['p50_ms'] for r in runs['health']):.1f} ms",
        ),
        Figure(
            "Service memory under load (MiB)",
            memory_mib,
            300,
            "MiB",
            "< 300 MiB",
            memory_mib < 300,
            f"peak resident set of the service process during the {sizes.callers}-caller runs",
        ),
    ]
    return figures, {
        "health_runs": runs["health"],
        "earn_runs": runs["earn"],
        "earn_per_second": earn,
        "earn_p50_ms": earn_p50,
    }


def bench_purchase(service: Service, sizes: Sizes) -> Figure:
    """RecordPurchase of 5 order lines under a program with multipliers, exclusions, a minimum
    and rounding, against a plain EarnPoints on the same accounts, alternated. Beside them, the
    same purchase under a program with only its earn rate tells the rules' own share."""
    each = purchase_loads(purchase_accounts(service.target, sizes.accounts))
    for label in ("purchase", "plain"):  # the earn figure has warmed the earn path
        kind, path = each[label]
        run_load(
            service.target,
            kind,
            callers=sizes.callers,
            seconds=sizes.load_seconds / 2,
            accounts_file=path,
        )
    runs = alternated_runs(
        service.target,
        each,
        callers=sizes.callers,
        seconds=sizes.load_seconds,
        repeats=sizes.repeats,
    )
    earn = statistics.median(run["per_second"] for run in runs["earn"])
    purchase = statistics.median(run["per_second"] for run in runs["purchase"])
    plain = statistics.median(run["per_second"] for run in runs["plain"])
    assert not any(run["errors"] for run in runs["purchase"] + runs["plain"]), "purchases failed"
    return Figure(
        "RecordPurchase with 5 order lines through gRPC vs plain EarnPoints",
        purchase,
        earn,
        "calls/s",
        ">= 0.8x",
        purchase >= 0.8 * earn,
        f"{sizes.callers} callers; lines meeting a SKU and a category multiplier and two"
        f" exclusions, rounded to the nearest; medians of {sizes.repeats} alternated runs"
        f" (earn {_rates(runs['earn'])}, purchase {_rates(runs['purchase'])} calls/s);"
        f" purchase p50 {statistics.median(r['p50_ms'] for r in runs['purchase']):.1f} ms;"
        f" the same purchase under a program with only its earn rate {_rates(runs['plain'])}"
        f" calls/s, so with the rules {purchase / plain if plain else 0.0:.2f}x of it and"
        f" without them {plain / earn if earn else 0.0:.2f}x of an earn",
    )


AUTH_TOKEN = "bench-token-" + "0" * 32


def bench_auth(server_url: str, sizes: Sizes) -> Figure:
    """EarnPoints with bearer tokens checked (scope and program of every call, and the
    caller's own rate and calls in flight, service/limits.py) against the same service
    without authentication: two processes on one database, the same accounts, runs
    alternated."""
    with (
        fresh_database(server_url, "bench_auth") as url,
        Service.running(url) as open_service,
        Service.running(url, token=AUTH_TOKEN) as authenticated,
    ):
        _, accounts = asyncio.run(
            seed.new_program_with_accounts(open_service.target, sizes.accounts)
        )
        path = accounts_file(accounts, "auth")
        services = {"none": (open_service, None), "tokens": (authenticated, AUTH_TOKEN)}
        for service, token in services.values():  # warm both up
            run_load(
                service.target,
                "earn",
                callers=sizes.callers,
                seconds=sizes.load_seconds / 2,
                accounts_file=path,
                token=token,
            )
        runs: dict[str, list[dict[str, float]]] = {"none": [], "tokens": []}
        for _ in range(sizes.repeats):
            for name, (service, token) in services.items():
                runs[name].append(
                    run_load(
                        service.target,
                        "earn",
                        callers=sizes.callers,
                        seconds=sizes.load_seconds,
                        accounts_file=path,
                        token=token,
                    )
                )
    assert not any(run["errors"] for run in runs["tokens"]), "authenticated earns failed"
    without = statistics.median(run["per_second"] for run in runs["none"])
    checked = statistics.median(run["per_second"] for run in runs["tokens"])
    return Figure(
        "EarnPoints with bearer tokens checked vs without authentication",
        checked,
        without,
        "calls/s",
        ">= 0.9x",
        checked >= 0.9 * without,
        f"{sizes.callers} callers; two services on one database, the same accounts; medians of"
        f" {sizes.repeats} alternated runs (tokens {_rates(runs['tokens'])}, none"
        f" {_rates(runs['none'])} calls/s)",
    )


def bench_against_baseline(
    server_url: str, sizes: Sizes, before_change: baseline.Baseline
) -> list[Figure]:
    """Earn against health on today's service and on the service before a change, alternated,
    each on a fresh database of its own seeded alike: the run's main database has grown by the
    figures before, and a larger log is a slower one, which would tilt the comparison."""
    with baseline.baseline_tree(before_change) as tree:
        if tree is None:
            _log("  baseline commit not in this clone: figure left out")
            return []
        with (
            fresh_database(server_url, "bench_today") as new_url,
            fresh_database(server_url, "bench_baseline", migrated=False) as old_url,
        ):
            baseline.migrate(tree, old_url)
            with (
                Service.running(new_url) as new,
                Service.running(old_url, baseline.python_path(tree)) as old,
            ):
                _, new_accounts = asyncio.run(
                    seed.new_program_with_accounts(new.target, sizes.accounts)
                )
                _, old_accounts = asyncio.run(
                    seed.new_program_with_accounts(old.target, sizes.accounts)
                )
                paths = {
                    "today": accounts_file(new_accounts, "today"),
                    "before": accounts_file(old_accounts, "before"),
                }
                targets = {"today": new.target, "before": old.target}
                runs: dict[tuple[str, str], list[dict[str, float]]] = {}
                for name, target in targets.items():  # warm both up
                    run_load(
                        target,
                        "earn",
                        callers=sizes.callers,
                        seconds=sizes.load_seconds / 2,
                        accounts_file=paths[name],
                    )
                for _ in range(sizes.baseline_repeats):
                    for name, target in targets.items():
                        for kind in ("health", "earn"):
                            runs.setdefault((name, kind), []).append(
                                run_load(
                                    target,
                                    kind,
                                    callers=sizes.callers,
                                    seconds=sizes.load_seconds,
                                    accounts_file=paths[name],
                                )
                            )
    rate = {
        key: statistics.median(run["per_second"] for run in found) for key, found in runs.items()
    }
    today = rate[("today", "earn")] / rate[("today", "health")]
    before = rate[("before", "earn")] / rate[("before", "health")]
    return [
        Figure(
            f"Earn/health ratio of today's code vs the code before {before_change.change}"
            f" ({before_change.commit[:7]})",
            today,
            before,
            "x of health",
            f">= {before_change.target}x",
            today >= before_change.target * before,
            f"{sizes.callers} callers; each service on a fresh database of its own with its own"
            f" migrations; medians of {sizes.baseline_repeats} alternated runs: today health"
            f" {_rates(runs[('today', 'health')])}, earn {_rates(runs[('today', 'earn')])};"
            f" before health {_rates(runs[('before', 'health')])},"
            f" earn {_rates(runs[('before', 'earn')])} calls/s",
        )
    ]


def bench_history(service: Service, database_url: str, sizes: Sizes) -> list[Figure]:
    """A member with a long purchase history against one with a short one: the snapshot
    written with every command, and the latency of an earn."""
    short, long = asyncio.run(
        history.members_with_purchases(service.target, (SHORT_HISTORY_ORDERS, sizes.history_orders))
    )
    seed.settle(database_url)
    short_bytes = history.snapshot_bytes(database_url, short)
    long_bytes = history.snapshot_bytes(database_url, long)
    readings: dict[str, list[float]] = {short: [], long: []}
    for _ in range(2):
        for account in (long, short):
            readings[account].append(_p50(service, "earn", [account], sizes, callers=8))
    long_p50, short_p50 = statistics.mean(readings[long]), statistics.mean(readings[short])
    return [
        Figure(
            f"Snapshot of a member with {sizes.history_orders:,} purchases vs"
            f" {SHORT_HISTORY_ORDERS} (bytes)",
            long_bytes,
            short_bytes,
            "bytes",
            "<= 1.2x",
            long_bytes <= 1.2 * short_bytes,
            "the account's state row, written with every command; both members earned"
            f" {history.POINTS:,} points in all. Bounded, not equal to the byte: the"
            " milestone counters (purchases made, spend per currency) hold larger numbers",
        ),
        Figure(
            f"Earn p50 of a member with {sizes.history_orders:,} purchases vs"
            f" {SHORT_HISTORY_ORDERS} (ms)",
            long_p50,
            short_p50,
            "ms",
            "<= 1.2x",
            long_p50 <= 1.2 * short_p50,
            f"8 callers on the one account, alternated twice, each the median of {sizes.repeats}"
            " runs",
        ),
    ]


def bench_import(service: Service, database_url: str, program_id: str, sizes: Sizes) -> Figure:
    accounts = seed.account_names(program_id, 100, prefix="imported")
    started = time.perf_counter()
    asyncio.run(
        seed.import_history(
            service.target,
            program_id,
            accounts,
            sizes.import_requests * seed.IMPORT_BATCH,
            concurrency=1,
        )
    )
    elapsed = time.perf_counter() - started
    ours = sizes.import_requests * seed.IMPORT_BATCH / elapsed
    raw = ceilings.raw_insert_rate(database_url, sizes.import_requests)
    return Figure(
        "Bulk import (1,000 events a request) vs raw multi-row INSERT",
        ours,
        raw["per_second"],
        "events/s",
        ">= 0.5x",
        ours / raw["per_second"] >= 0.5,
        f"{sizes.import_requests} requests one after another through gRPC, each 1,000 events over"
        " 100 accounts; the INSERT writes rows shaped like ledger.events into a copy of its table",
    )


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate (a copy of it)."""
    return dict(sorted(runs, key=lambda run: run["per_second"])[len(runs) // 2])


def _rates(runs: list[dict[str, Any]]) -> str:
    return " / ".join(f"{run['per_second']:,.0f}" for run in runs)


def _p50(service: Service, kind: str, accounts: list[str], sizes: Sizes, callers: int) -> float:
    path = accounts_file(accounts)
    run_load(
        service.target, kind, callers=callers, seconds=sizes.load_seconds / 4, accounts_file=path
    )
    runs = [
        run_load(
            service.target,
            kind,
            callers=callers,
            seconds=sizes.load_seconds / 2,
            accounts_file=path,
        )["p50_ms"]
        for _ in range(sizes.repeats)
    ]
    return statistics.median(runs)


def bench_flat_history(
    service: Service,
    database_url: str,
    long_account: str,
    short_account: str,
    accounts: list[str],
    sizes: Sizes,
    empty_p50: float,
) -> list[Figure]:
    _log(f"  filling the log with {sizes.log_events:,} events")
    started = time.perf_counter()
    seed.fill_log(database_url, sizes.log_events)
    seed.settle(database_url)
    _log(f"  filled and settled in {time.perf_counter() - started:.0f} s")
    full_p50 = _p50(service, "earn", accounts, sizes, callers=16)
    long_p50 = _p50(service, "get", [long_account], sizes, callers=8)
    short_p50 = _p50(service, "get", [short_account], sizes, callers=8)
    long_again = _p50(service, "get", [long_account], sizes, callers=8)
    short_again = _p50(service, "get", [short_account], sizes, callers=8)
    long_p50, short_p50 = (long_p50 + long_again) / 2, (short_p50 + short_again) / 2
    return [
        Figure(
            f"Earn p50 with {sizes.log_events:,} more events in the log vs before"
            " (ms, lower is better)",
            full_p50,
            empty_p50,
            "ms",
            "<= 1.2x",
            full_p50 <= 1.2 * empty_p50,
            "16 callers, the same accounts, right before and after the log grew (synthetic"
            " history rows written in SQL, 100 a stream); VACUUM ANALYZE and CHECKPOINT before"
            " each measurement, so neither pays for a bulk load's background work; each the"
            f" median of {sizes.repeats} runs",
        ),
        Figure(
            f"GetAccount p50 of an account with {sizes.long_account_events:,} events"
            " vs one with 1 (ms)",
            long_p50,
            short_p50,
            "ms",
            "<= 1.2x",
            long_p50 <= 1.2 * short_p50,
            f"8 callers, alternated twice, each reading the median of {sizes.repeats} runs",
        ),
    ]


async def _new_program(target: str) -> str:
    import grpc

    from loyalty.v1 import ledger_pb2_grpc

    async with grpc.aio.insecure_channel(target) as channel:
        return await seed.create_program(ledger_pb2_grpc.LedgerServiceStub(channel))


def _replay(database_url: str, program: str | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.replay_probe", "--conninfo", database_url]
    if program:
        command += ["--program", program]
    completed = subprocess.run(command, check=True, capture_output=True, cwd=ROOT, timeout=3600)
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def bench_replay(database_url: str, small: dict[str, Any], sizes: Sizes) -> list[Figure]:
    """`small` is a replay of the same log measured earlier, when it held fewer events."""
    # Alternated, and the medians compared: a replay takes about a second here, short enough
    # for one burst of outside load on the shared cores to decide a single reading.
    replays: list[dict[str, Any]] = []
    copies: list[dict[str, float]] = []
    for _ in range(sizes.repeats):
        replays.append(_replay(database_url))
        copies.append(ceilings.copy_rate(database_url))
    whole = _median_run(replays)
    copy = _median_run(copies)
    whole["peak_rss_mib"] = max(run["peak_rss_mib"] for run in replays)
    whole["ok"] = all(run["ok"] for run in replays)
    return [
        Figure(
            "Replay with hash-chain verification and balance recomputation vs raw COPY",
            whole["per_second"],
            copy["per_second"],
            "events/s",
            ">= 0.3x",
            whole["per_second"] / copy["per_second"] >= 0.3 and whole["ok"],
            f"{whole['events']:,} events in {whole['streams']:,} streams, {whole['workers']} worker"
            f" processes; verified ok: {whole['ok']};"
            f" COPY received {copy['bytes'] / 2**20:,.0f} MiB; medians of {sizes.repeats}"
            f" alternated runs (replay {_rates(replays)}, COPY {_rates(copies)} events/s)",
        ),
        Figure(
            "Replay peak memory, whole log vs the same log earlier (MiB)",
            whole["peak_rss_mib"],
            small["peak_rss_mib"],
            "MiB",
            "flat (<= 1.5x)",
            whole["peak_rss_mib"] <= 1.5 * small["peak_rss_mib"],
            f"{whole['events']:,} events vs {small['events']:,}; peak resident memory of the replay"
            " and its worker processes",
        ),
    ]


def bench_peer(server_url: str, ours_per_second: float, sizes: Sizes) -> Figure:
    with fresh_database(server_url, "bench_peer") as url:
        result = peer.run(url, seconds=sizes.peer_seconds)
    return Figure(
        "Earn through gRPC vs the eventsourcing library (read account, append one event)",
        ours_per_second,
        result["per_second"],
        "commands/s",
        ">= 5x",
        ours_per_second / result["per_second"] >= 5,
        f"eventsourcing {result['per_second']:.0f}/s in-process, p50 {result['p50_ms']:.1f} ms",
    )


def statistics_figures(
    service: Service, database_url: str, accounts: list[str], sizes: Sizes
) -> list[Figure]:
    """GetProgramStatistics over a large program vs a small one; projection lag under the
    earn load (benchmarks/program_statistics.py)."""
    return [
        Figure(
            **program_statistics.latency_figure(
                service.target, database_url, sizes.log_events, sizes.repeats
            )
        ),
        Figure(
            **program_statistics.lag_figure(
                service.target,
                database_url,
                accounts_file(accounts),
                sizes.callers,
                sizes.load_seconds * 2,
            )
        ),
    ]


def run(sizes: Sizes) -> list[Figure]:
    server_url = bootstrap.database_url()
    figures: list[Figure] = []
    if sizes.against_baseline:
        # First, while nothing else runs: the main service below keeps working in the
        # background after each figure (its projection runner catches up on what the figure
        # wrote). Run after it, one comparison read 0.77x where it read 1.02x alone.
        for before_change in baseline.BASELINES:
            _log(f"earn vs health, today and before {before_change.change}")
            figures += bench_against_baseline(server_url, sizes, before_change)
    with (
        fresh_database(server_url, "bench") as database_url,
        Service.running(database_url) as service,
    ):
        _log("seeding accounts")
        program_id, accounts = asyncio.run(
            seed.new_program_with_accounts(service.target, sizes.accounts)
        )
        _log("earn vs health")
        earn_figures, earn = bench_earn(service, accounts, sizes)
        figures += earn_figures
        _log("purchase with order lines vs earn")
        figures.append(bench_purchase(service, sizes))
        _log("action vs earn")
        figures.append(bench_action(service, accounts_file(accounts), sizes, Figure))
        _log("GetAccount vs health; BatchGetAccounts vs GetAccount")
        build_stage_view(database_url)
        figures.append(bench_get_account(service, accounts_file(accounts), sizes, Figure))
        figures.append(bench_batch_get(service, accounts_file(accounts), sizes, Figure))
        _log("earn that upgrades a tier vs earn")
        figures.append(
            bench_tier_upgrade(service, database_url, accounts, sizes, Figure, accounts_file)
        )
        _log("purchase completing a referral vs earn")
        figures.append(bench_referral(database_url, sizes, Figure))
        _log("authentication")
        figures.append(bench_auth(server_url, sizes))
        _log("telemetry")
        figures += bench_telemetry(server_url, sizes, Figure)
        _log("long purchase history")
        figures += bench_history(service, database_url, sizes)
        # The replay's and the report's memory now, against the whole log's later, once it has
        # grown in events over the same streams: flat, as both hold counters, never the
        # events. (Each stream's state is held while it is replayed, so memory follows the
        # longest stream's state, which the long purchase history above already holds:
        # docs/PERFORMANCE.md.)
        early_replay = _replay(database_url)
        early_report = audit_report_probe(database_url, report=True)
        _log("bulk import")
        figures.append(bench_import(service, database_url, program_id, sizes))
        _log("replay")
        figures += bench_replay(database_url, early_replay, sizes)
        _log(f"audit report: growing the log to at least {sizes.audit_events:,} events")
        started = time.perf_counter()
        grown = asyncio.run(
            seed.grow_log(
                service.target,
                database_url,
                program_id,
                accounts,
                at_least=sizes.audit_events,
                by_at_least=sizes.audit_events // 2,
            )
        )
        seed.settle(database_url)
        _log(f"  imported {grown:,} events in {time.perf_counter() - started:.0f} s")
        figures += bench_audit_report(database_url, early_report, sizes.repeats, Figure)
        # Made after the replay: one 100,000-event stream is a read-flatness probe, and a
        # stream's chain replays on one worker, so it would skew the replay rate.
        long_account = seed.account_names(program_id, 1, prefix="long")
        asyncio.run(
            seed.import_history(service.target, program_id, long_account, sizes.long_account_events)
        )
        short_account = seed.account_names(program_id, 1, prefix="short")
        asyncio.run(seed.import_history(service.target, program_id, short_account, 1))
        seed.settle(database_url)
        empty_p50 = _p50(service, "earn", accounts, sizes, callers=16)
        _log("flat cost in history")
        figures += bench_flat_history(
            service, database_url, long_account[0], short_account[0], accounts, sizes, empty_p50
        )
        _log("projections")
        figures += [Figure(**figure) for figure in projections.figures(database_url, sizes.repeats)]
        _log("program statistics")
        figures += statistics_figures(service, database_url, accounts, sizes)
    _log("StreamEvents delivery on a quiet program, with the runners vs without")
    figures.append(Figure(**feed.feed_figure(server_url, sizes.load_seconds * 4)))
    _log("peer")
    figures.append(bench_peer(server_url, earn["earn_per_second"], sizes))
    _log("signed checkpoints")
    figures += [
        Figure(**figure)
        for figure in checkpoints.figures(server_url, sizes.log_events // 5, sizes.repeats)
    ]
    _log("what-if replay")
    figures += [
        Figure(**figure)
        for figure in what_if.figures(server_url, sizes.log_events // 10, sizes.repeats)
    ]
    return figures


def report(figures: list[Figure], sizes: Sizes, smoke: bool) -> str:
    info = machine()
    lines = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`python -m benchmarks`). Every figure is a ratio to a",
        "ceiling or a peer measured in the same run on the same machine; absolute numbers vary",
        "between machines, the ratios are the targets. Where the write path's time goes, and",
        "what was tried: [PERFORMANCE.md](PERFORMANCE.md).",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, Linux"
        f" {info['kernel']}, Python {info['python']}; the database, the service, the load"
        " generator and the peer all share these cores.",
        f"Run: {'smoke sizes' if smoke else 'full sizes'},"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| Figure | Ours | Ceiling or peer | Ratio | Target | Met |",
        "|---|---|---|---|---|---|",
    ]
    for figure in figures:
        lines.append(
            f"| {figure.name} | {figure.ours:,.1f} {figure.unit}"
            f" | {figure.ceiling:,.1f} {figure.unit}"
            f" | {figure.ratio:.2f}x | {figure.target} | {'yes' if figure.passes else 'NO'} |"
        )
    lines += ["", "Details:", ""]
    lines += [f"- {figure.name}: {figure.detail}." for figure in figures]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks the code runs")
    parser.add_argument(
        "--no-report", action="store_true", help="do not rewrite docs/BENCHMARKS.md"
    )
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    figures = run(sizes)
    text = report(figures, sizes, args.smoke)
    print(text)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps([figure.__dict__ | {"ratio": figure.ratio} for figure in figures], indent=2)
    )
    if not args.smoke and not args.no_report:
        REPORT.parent.mkdir(exist_ok=True)
        REPORT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
