"""Peer: the `eventsourcing` library (9.5.x) on PostgreSQL doing the ledger's earn command.

Per command: ``account = app.repository.get(id); account.earn(1); app.save(account)``, i.e.
read the account aggregate from its stored events, trigger one ``PointsEarned`` event (the
balance increases) and append it with optimistic concurrency. Threads never share an account
(each thread round-robins over its own slice), so there are no version conflicts.

Settings are the library's defaults for an ``Application`` on PostgreSQL (stored-events table
with a global notification sequence; ``save`` takes the table's EXCLUSIVE lock to keep that
sequence gapless, as the library does by design), no snapshotting (streams stay short), no
aggregate cache (every command reads its aggregate from the database, as the ledger does) and
a connection pool with one connection per thread.

Thread counts measured on the 2-core machine (PostgreSQL 15 on 127.0.0.1, fresh database per
run, 1000 accounts, 8-10 s runs, 6 runs each (5 for 2 threads), interleaved). Other processes
kept about one core busy throughout, so the spread is wide; "best" is the run with the least
outside load:

    threads   median/s   best/s   p50 ms (best run)
          2        229      556      3.2
          4        372      523      6.9
          8        420      549     13.5
         16        410      550     27.3
         32        258      523     60.9

With 2-16 threads the ceiling is about 550 commands/s: save() serialises on the table lock and
the GIL and PostgreSQL share two cores. 8 threads had the best median (16 is within noise; 32
falls off), hence the default.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg.conninfo import conninfo_to_dict

MAX_SECONDS = 120.0
MAX_THREADS = 256
CREATE_BATCH = 100


class LoyaltyAccount(Aggregate):
    """A member's points account: its balance is the sum of the points earned."""

    @event("Opened")
    def __init__(self) -> None:
        self.balance = 0

    @event("PointsEarned")
    def earn(self, points: int) -> None:
        self.balance += points


def _env(conninfo: str, threads: int) -> dict[str, str]:
    params: dict[str, Any] = conninfo_to_dict(conninfo)

    def get(key: str, default: str) -> str:
        value = params.get(key)
        return default if value is None else str(value)

    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": get("dbname", "postgres"),
        "POSTGRES_HOST": get("host", ""),
        "POSTGRES_PORT": get("port", "5432"),
        "POSTGRES_USER": get("user", "postgres"),
        "POSTGRES_PASSWORD": get("password", ""),
        "POSTGRES_CONNECT_TIMEOUT": "30",
        "POSTGRES_POOL_SIZE": str(threads),
        "POSTGRES_MAX_OVERFLOW": str(threads),
        "CREATE_TABLE": "y",
    }


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def run(
    conninfo: str, *, seconds: float, threads: int = 8, accounts: int = 1000
) -> dict[str, float]:
    """Run earn commands from `threads` threads for `seconds`; return rate and latency."""
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must be in (0, {MAX_SECONDS}]: {seconds}")
    if not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads must be in [1, {MAX_THREADS}]: {threads}")
    if accounts < threads:
        raise ValueError(f"need at least one account per thread: {accounts} < {threads}")

    app: Application[uuid.UUID] = Application(env=_env(conninfo, threads))
    try:
        ids: list[uuid.UUID] = []
        for start in range(0, accounts, CREATE_BATCH):
            batch = [LoyaltyAccount() for _ in range(min(CREATE_BATCH, accounts - start))]
            app.save(*batch)
            ids.extend(account.id for account in batch)

        latencies: list[list[float]] = [[] for _ in range(threads)]
        errors: list[BaseException] = []
        barrier = threading.Barrier(threads + 1)
        deadline = 0.0

        def worker(index: int) -> None:
            mine = ids[index::threads]
            out = latencies[index]
            try:
                barrier.wait(timeout=60)
                position = 0
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    account: LoyaltyAccount = app.repository.get(mine[position])
                    account.earn(1)
                    app.save(account)
                    out.append(time.perf_counter() - started)
                    position = (position + 1) % len(mine)
            except BaseException as error:  # reported to the caller after join
                errors.append(error)

        workers = [
            threading.Thread(target=worker, args=(index,), name=f"peer-{index}", daemon=True)
            for index in range(threads)
        ]
        for thread in workers:
            thread.start()
        began = time.perf_counter()
        deadline = began + seconds
        barrier.wait(timeout=60)
        for thread in workers:
            thread.join(timeout=seconds + 60)
        elapsed = time.perf_counter() - began
        if errors:
            raise RuntimeError(f"{len(errors)} peer thread(s) failed") from errors[0]
        if any(thread.is_alive() for thread in workers):
            raise RuntimeError("peer threads did not finish in time")

        ordered = sorted(latency for chunk in latencies for latency in chunk)
        commands = len(ordered)
        return {
            "commands": float(commands),
            "seconds": elapsed,
            "per_second": commands / elapsed,
            "p50_ms": _percentile(ordered, 0.50) * 1000,
            "p99_ms": _percentile(ordered, 0.99) * 1000,
        }
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conninfo", required=True, help="libpq URI or key=value conninfo")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--accounts", type=int, default=1000)
    args = parser.parse_args()
    result = run(args.conninfo, seconds=args.seconds, threads=args.threads, accounts=args.accounts)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
