"""The purchase figure's floor on this machine: what carrying 5 order lines in and 5 applied
rules out costs a gRPC server with nothing else of the ledger in it.

The service first answers one EarnPoints and one 5-line RecordPurchase (the loads' own
requests, under `make bench`'s earning rules) on a fresh database; their answers are kept. A
bare gRPC server (EarnPoints and RecordPurchase only) then runs in one of two modes, each in a
process of its own:

- "empty": both answer the kept answer at once, so only gRPC and protobuf carry the larger
  messages;
- "mapped": both first turn the request into the ledger's command with the service's own
  mapping (service/purchase_mapping.py for the lines, their currencies and amounts) and
  validate it, then answer the kept answer.

The service's RecordPurchase does all of that and the rest (the content hash, the rules, the
event, its canonical text, the stored answer, the append), so the ratios bound the purchase
figure from above. Beside calls/s it reads the bare server's CPU per call. docs/PERFORMANCE.md,
"The purchase figure's floor", has the readings.

python -m benchmarks.purchase_floor [--rounds N]                       (the figure)
python -m benchmarks.purchase_floor serve PORT MODE EARN_HEX PURCHASE_HEX  (one bare server)
"""

import argparse
import asyncio
import statistics
from typing import Any

import grpc

from benchmarks import bare_server, seed
from benchmarks.harness import Service, accounts_file, cpu_seconds, fresh_database, run_load
from benchmarks.load import earn_request, purchase_request
from ledger import bootstrap
from ledger.domain import commands as cmd
from ledger.domain.commands import validate
from ledger.domain.errors import Violations
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service import purchase_mapping

MODES = ("empty", "mapped")
LOADS = ("earn", "purchase")
CALLERS = 64
SECONDS = 6.0
ACCOUNTS = 2_000


async def _serve(port: int, mode: str, earned: bytes, purchased: bytes) -> None:
    assert mode in MODES, mode
    earn_answer = pb.EarnPointsResponse.FromString(earned)
    purchase_answer = pb.RecordPurchaseResponse.FromString(purchased)

    async def earn_points(request: pb.EarnPointsRequest, _context: Any) -> pb.EarnPointsResponse:
        if mode == "mapped":
            validate(cmd.EarnPoints(request.points, request.reason))
        return earn_answer

    async def record_purchase(
        request: pb.RecordPurchaseRequest, _context: Any
    ) -> pb.RecordPurchaseResponse:
        if mode == "mapped":
            found = Violations()
            command = purchase_mapping.purchase(request, found)
            found.raise_if_any()
            validate(command)
        return purchase_answer

    await bare_server.serve(
        port,
        {
            "EarnPoints": bare_server.unary(
                earn_points, pb.EarnPointsRequest, pb.EarnPointsResponse
            ),
            "RecordPurchase": bare_server.unary(
                record_purchase, pb.RecordPurchaseRequest, pb.RecordPurchaseResponse
            ),
        },
    )


async def _answers(target: str, account: str) -> tuple[bytes, bytes]:
    """The service's answers to one earn and one purchase of the loads (benchmarks/load.py)."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        earned = await stub.EarnPoints(earn_request(account))
        purchased = await stub.RecordPurchase(purchase_request(account))
    assert purchased.applied_rules, purchased
    return earned.SerializeToString(), purchased.SerializeToString()


def measure(rounds: int) -> dict[str, list[tuple[float, float]]]:
    """Per mode, (purchase/earn in calls/s, earn/purchase in the server's CPU per call), one
    pair per run: in each round, each mode's server in turn, the loads alternated twice."""
    with (
        fresh_database(bootstrap.database_url(), "bench_purchase_floor") as database_url,
        Service.running(database_url) as service,
    ):
        _, names = asyncio.run(
            seed.new_program_with_accounts(service.target, ACCOUNTS, earning_rules=True)
        )
        answers = asyncio.run(_answers(service.target, names[0]))
    path = accounts_file(names, "purchase_floor")
    found: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    for _ in range(rounds):
        for mode in MODES:
            with bare_server.running(
                "benchmarks.purchase_floor", mode, *(answer.hex() for answer in answers)
            ) as (target, pid):
                for kind in LOADS:
                    run_load(target, kind, callers=CALLERS, seconds=2, accounts_file=path)
                for _ in range(2):
                    rates, cpu = {}, {}
                    for kind in LOADS:
                        before = cpu_seconds(pid)
                        run = run_load(
                            target, kind, callers=CALLERS, seconds=SECONDS, accounts_file=path
                        )
                        assert not run["errors"], (mode, kind, run)
                        rates[kind] = run["per_second"]
                        cpu[kind] = (cpu_seconds(pid) - before) / run["calls"] * 1e6
                    found[mode].append(
                        (rates["purchase"] / rates["earn"], cpu["earn"] / cpu["purchase"])
                    )
                    print(
                        f"{mode}: earn {rates['earn']:,.0f}/s {cpu['earn']:.0f} us,"
                        f" purchase {rates['purchase']:,.0f}/s {cpu['purchase']:.0f} us",
                        flush=True,
                    )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.purchase_floor")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve")
    serve.add_argument("port", type=int)
    serve.add_argument("mode", choices=MODES)
    serve.add_argument("earned")
    serve.add_argument("purchased")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.command == "serve":
        answers = bytes.fromhex(args.earned), bytes.fromhex(args.purchased)
        asyncio.run(_serve(args.port, args.mode, *answers))
        return
    for mode, pairs in measure(args.rounds).items():
        rates = [rate for rate, _ in pairs]
        cpus = [cpu for _, cpu in pairs]
        print(
            f"bare RecordPurchase ({mode}) vs EarnPoints: {statistics.median(rates):.2f}x"
            f" in calls/s ({' / '.join(f'{ratio:.2f}' for ratio in rates)}),"
            f" {statistics.median(cpus):.2f}x in CPU per call"
            f" ({' / '.join(f'{ratio:.2f}' for ratio in cpus)})"
        )


if __name__ == "__main__":
    main()
