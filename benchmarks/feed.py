"""The feed's delivery figure: how long after an earn is recorded a live StreamEvents follower
of its program gets it, under the light traffic of a quiet program, with the projection
runners in a process of their own against without them, measured in the same run.

Followers read only below the oldest transaction still running (README, "Read horizon"). A
runner's page is such a transaction, and it appends nothing, so its end notifies nobody: an
earn that committed while the page ran waited for the next append's notification or the
feed's poll, up to a second on a quiet program. Without runners only the appends themselves
hold the horizon: that reading is the ceiling.
"""

import asyncio
import statistics
import threading
import time
from typing import Any

import grpc

from benchmarks.harness import Service, fresh_database
from benchmarks.load import earn_request
from benchmarks.program_statistics import caught_up, p99, runners
from benchmarks.seed import new_program_with_accounts
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc

TARGET = 4.0
"""The p99 with the runners at most this times the p99 without them (12x before the feed
looked again at events it knew were held back, docs/PERFORMANCE.md)."""
CALLERS = 4
GAP_SECONDS = 0.25
"""Each caller earns, then waits this long: about 16 earns a second, far from saturation, so
that what the figure shows is the horizon, not a busy machine's queues."""
ACCOUNTS = 40
SETTLE_SECONDS = 2.0
"""After the traffic, how long the follower may take to receive the last events."""


class Follower:
    """A live StreamEvents call of one program read in a thread of its own: for each event
    recorded after `since` (epoch seconds), the ms from its recorded time to its arrival."""

    def __init__(self, target: str, program: str, since: float) -> None:
        self.delays_ms: list[float] = []
        self.error: grpc.RpcError | None = None
        self._since = since
        self._channel = grpc.insecure_channel(target)
        stub = ledger_pb2_grpc.LedgerServiceStub(self._channel)
        self._call = stub.StreamEvents(pb.StreamEventsRequest(program=program))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for response in self._call:
                arrived = time.time()
                recorded = response.entry.record_time.ToNanoseconds() / 1e9
                if recorded >= self._since:
                    self.delays_ms.append((arrived - recorded) * 1000)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                self.error = error

    def stop(self) -> None:
        self._call.cancel()
        self._thread.join(timeout=10)
        self._channel.close()


async def _light_traffic(target: str, accounts: list[str], seconds: float) -> int:
    """CALLERS callers, each earning then pausing GAP_SECONDS, for `seconds`; the earns made."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        end = time.monotonic() + seconds

        async def caller(mine: list[str]) -> int:
            earned = 0
            while time.monotonic() < end:
                await stub.EarnPoints(earn_request(mine[earned % len(mine)]))
                earned += 1
                await asyncio.sleep(GAP_SECONDS)
            return earned

        counts = await asyncio.gather(*(caller(accounts[k::CALLERS]) for k in range(CALLERS)))
    return sum(counts)


def _reading(
    target: str, program: str, accounts: list[str], seconds: float
) -> tuple[list[float], int]:
    follower = Follower(target, program, since=time.time())
    try:
        earned = asyncio.run(_light_traffic(target, accounts, seconds))
        time.sleep(SETTLE_SECONDS)
    finally:
        follower.stop()
    if follower.error is not None:
        raise follower.error
    return follower.delays_ms, earned


def feed_figure(server_url: str, seconds: float) -> dict[str, Any]:
    """A service of its own on a fresh database (it runs no runner, benchmarks/harness.py);
    the reading without runners, then the one with `projections run` beside it."""
    with (
        fresh_database(server_url, "bench_feed") as database_url,
        Service.running(database_url) as service,
    ):
        program_id, accounts = asyncio.run(new_program_with_accounts(service.target, ACCOUNTS))
        program = f"programs/{program_id}"
        alone, alone_earned = _reading(service.target, program, accounts, seconds)
        process = runners(database_url)
        try:
            asyncio.run(caught_up(database_url))
            shared, shared_earned = _reading(service.target, program, accounts, seconds)
        finally:
            process.terminate()
            process.wait(timeout=30)
    ours, ceiling = p99(shared), p99(alone)
    over = sum(delay > 100 for delay in shared)
    return {
        "name": "StreamEvents delivery p99 on a quiet program, with the projection runners vs"
        " without (ms)",
        "ours": ours,
        "ceiling": ceiling,
        "unit": "ms",
        "target": f"<= {TARGET}x",
        # Every acknowledged earn reached the follower, or the figure measured a lossy feed.
        "passes": ours <= TARGET * ceiling
        and len(shared) == shared_earned
        and len(alone) == alone_earned,
        "detail": f"{CALLERS} callers each earning every {GAP_SECONDS * 1000:.0f} ms for"
        f" {seconds:.0f} s a reading; one live follower of their program, each event from"
        f" its recorded time to its arrival; with the runners p50 {_p50(shared):.1f} ms, max"
        f" {max(shared, default=0):.0f} ms, {over} of {len(shared)} over 100 ms; without p50"
        f" {_p50(alone):.1f} ms, max {max(alone, default=0):.0f} ms; delivered"
        f" {len(shared)} of {shared_earned} and {len(alone)} of {alone_earned} earns",
    }


def _p50(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def main() -> None:
    """The feed figure alone."""
    import argparse
    import json

    from ledger import bootstrap

    parser = argparse.ArgumentParser(prog="python -m benchmarks.feed")
    parser.add_argument("--seconds", type=float, default=32.0)
    args = parser.parse_args()
    print(json.dumps(feed_figure(bootstrap.database_url(), args.seconds), indent=2))


if __name__ == "__main__":
    main()
