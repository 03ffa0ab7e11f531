"""A gRPC load generator: N concurrent callers for a fixed time, reporting rate and latency.

Runs in its own process (the benchmark spawns it), so the server under test does not share
an interpreter with the load.
"""

import argparse
import asyncio
import json
import statistics
import time
import uuid

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc

MAX_SECONDS = 120.0
BENCH_ACTION_ID = "bench_review"
"""The action the benchmark programs reward (benchmarks/seed.py), under caps never reached."""


BATCH_NAMES = 100
"""Accounts one BatchGetAccounts of the benchmark names (its documented limit)."""


CHANNELS = 8
"""Connections the callers are spread over, as a fleet of storefront pods would have: a
server running several processes on one port gets connections spread between them by the
kernel, never the calls of one connection."""


def _usd(units: int, nanos: int = 0) -> pb.Money:
    return pb.Money(currency_code="USD", units=units, nanos=nanos)


PURCHASE_LINES = [
    pb.OrderLine(
        line_id="1",
        sku="sku-1",
        category="shoes",
        quantity=1,
        amount=_usd(49, 990_000_000),
        kind=pb.ORDER_LINE_KIND_GOODS,
    ),
    pb.OrderLine(
        line_id="2",
        sku="sku-2",
        category="shoes",
        quantity=2,
        amount=_usd(80),
        kind=pb.ORDER_LINE_KIND_GOODS,
    ),
    pb.OrderLine(
        line_id="3",
        sku="sku-3",
        category="socks",
        quantity=3,
        amount=_usd(12, 500_000_000),
        kind=pb.ORDER_LINE_KIND_GOODS,
    ),
    pb.OrderLine(
        line_id="4",
        sku="ship",
        quantity=1,
        amount=_usd(6, 950_000_000),
        kind=pb.ORDER_LINE_KIND_SHIPPING,
    ),
    pb.OrderLine(
        line_id="5",
        sku="tax",
        quantity=1,
        amount=_usd(14, 100_000_000),
        kind=pb.ORDER_LINE_KIND_TAX,
    ),
]
"""Five lines meeting a SKU and a category multiplier and two exclusions (seed.EARNING_RULES)."""
PURCHASE_TOTAL = _usd(163, 540_000_000)


def earn_request(account: str) -> pb.EarnPointsRequest:
    """The earn load's request: one point, a new request id."""
    return pb.EarnPointsRequest(
        request_id=str(uuid.uuid4()), account=account, points=1, reason="bench"
    )


def purchase_request(account: str) -> pb.RecordPurchaseRequest:
    """The purchase load's request: PURCHASE_LINES as a new order, a new request id."""
    return pb.RecordPurchaseRequest(
        request_id=str(uuid.uuid4()),
        account=account,
        order_id=str(uuid.uuid4()),
        amount=PURCHASE_TOTAL,
        lines=PURCHASE_LINES,
    )


async def _run(
    target: str, kind: str, callers: int, seconds: float, accounts: list[str], token: str = ""
) -> dict[str, float]:
    assert 0 < seconds <= MAX_SECONDS
    latencies: list[float] = []
    errors = 0
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    # A local subchannel pool each, or grpc would share one connection among them.
    channels = [
        grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(min(CHANNELS, callers))
    ]
    try:
        healths = [health_pb2_grpc.HealthStub(channel) for channel in channels]
        ledgers = [ledger_pb2_grpc.LedgerServiceStub(channel) for channel in channels]
        for health in healths:
            await health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        deadline = time.perf_counter() + seconds

        async def caller(index: int) -> None:
            nonlocal errors
            health = healths[index % len(channels)]
            ledger = ledgers[index % len(channels)]
            sequence = 0
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    if kind == "health":
                        await health.Check(health_pb2.HealthCheckRequest(), timeout=10)
                    elif kind == "earn":
                        account = accounts[(index + sequence * callers) % len(accounts)]
                        await ledger.EarnPoints(
                            earn_request(account), timeout=10, metadata=metadata
                        )
                    elif kind == "purchase":
                        account = accounts[(index + sequence * callers) % len(accounts)]
                        await ledger.RecordPurchase(
                            purchase_request(account), timeout=10, metadata=metadata
                        )
                    elif kind == "action":
                        account = accounts[(index + sequence * callers) % len(accounts)]
                        await ledger.RecordAction(
                            pb.RecordActionRequest(
                                request_id=str(uuid.uuid4()),
                                account=account,
                                action_id=BENCH_ACTION_ID,
                            ),
                            timeout=10,
                        )
                    elif kind == "get":
                        await ledger.GetAccount(
                            pb.GetAccountRequest(name=accounts[0]), timeout=10, metadata=metadata
                        )
                    elif kind == "get_each":
                        account = accounts[(index + sequence * callers) % len(accounts)]
                        await ledger.GetAccount(
                            pb.GetAccountRequest(name=account), timeout=10, metadata=metadata
                        )
                    elif kind == "batch_get":
                        first = (index + sequence * callers) * BATCH_NAMES
                        names = [
                            accounts[(first + offset) % len(accounts)]
                            for offset in range(BATCH_NAMES)
                        ]
                        await ledger.BatchGetAccounts(
                            pb.BatchGetAccountsRequest(names=names),
                            timeout=10,
                            metadata=metadata,
                        )
                    else:
                        raise ValueError(kind)
                except grpc.aio.AioRpcError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                sequence += 1

        began = time.perf_counter()
        await asyncio.gather(*(caller(index) for index in range(callers)))
        elapsed = time.perf_counter() - began
    finally:
        for channel in channels:
            await channel.close()
    latencies.sort()
    return {
        "calls": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "per_second": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument(
        "--kind",
        choices=["health", "earn", "purchase", "action", "get", "get_each", "batch_get"],
        required=True,
    )
    parser.add_argument("--callers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--accounts-file")
    parser.add_argument("--token", default="", help="bearer token sent with ledger calls")
    args = parser.parse_args()
    accounts: list[str] = []
    if args.accounts_file:
        with open(args.accounts_file, encoding="utf-8") as handle:
            accounts = json.load(handle)
    result = asyncio.run(
        _run(args.target, args.kind, args.callers, args.seconds, accounts, args.token)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
