"""GetAccount's floor on this machine: what one gathered database read per call costs a gRPC
server with nothing else of the ledger in it.

A bare gRPC server (the health service, and a GetAccount that answers an empty account) runs
in one of two modes, each in a process of its own, against the same database as `make bench`'s
GetAccount figure (accounts seeded and earned on, the stage view built):

- "empty": GetAccount answers at once, so it should match health (about 1x);
- "read": GetAccount first reads the account's state row and stage row as the service does (its
  pool, its query, the gathering of ledger/account_reads.py) and then answers, using nothing it
  read: no member key look-up, snapshot decode, housekeeping, view, limits or error mapping.

The service's GetAccount does that read and all of the rest, so the "read" ratio bounds its
figure from above. docs/PERFORMANCE.md, "GetAccount's floor", has the readings.

python -m benchmarks.account_floor [--rounds N]          (the figure)
python -m benchmarks.account_floor serve PORT URL MODE    (one bare server; the figure runs it)
"""

import argparse
import asyncio
import statistics

import grpc
import psycopg

from benchmarks import bare_server, seed
from benchmarks.accounts import build_stage_view
from benchmarks.harness import Service, accounts_file, fresh_database, run_load
from ledger import bootstrap
from ledger.account_reads import BatchedAccountReads
from ledger.store.pool import make_pool
from ledger.store.stage_reader import PostgresStageReader
from loyalty.v1 import ledger_pb2 as pb

MODES = ("empty", "read")
CALLERS = 64
SECONDS = 6.0
ACCOUNTS = 2_000
KEYS = "SELECT program_id, member_id, member_key FROM ledger.members"


async def _serve(port: int, database_url: str, mode: str) -> None:
    assert mode in MODES, mode
    pool = make_pool(database_url)
    await pool.open(wait=True)
    with psycopg.connect(database_url) as connection:
        # Each call reads the account its name gives, as the service does (its own member
        # key cache answers these without a round trip once warm).
        keys = {
            f"programs/{program_id}/accounts/{member_id}": (program_id, member_key)
            for program_id, member_id, member_key in connection.execute(KEYS)
        }
    reads = BatchedAccountReads(PostgresStageReader(pool).accounts_with_stages)

    async def get_account(
        request: pb.GetAccountRequest, _context: grpc.aio.ServicerContext[object, object]
    ) -> pb.GetAccountResponse:
        if mode == "read" and await reads.get(keys[request.name]) is None:
            raise LookupError(request.name)
        return pb.GetAccountResponse()

    try:
        await bare_server.serve(
            port,
            {
                "GetAccount": bare_server.unary(
                    get_account, pb.GetAccountRequest, pb.GetAccountResponse
                )
            },
        )
    finally:
        await pool.close()


def measure(rounds: int) -> dict[str, list[float]]:
    """Per mode, GetAccount's calls/s over health's, one ratio per run: in each round, each
    mode's server in turn, health and GetAccount alternated twice on it after a warm-up."""
    ratios: dict[str, list[float]] = {mode: [] for mode in MODES}
    with fresh_database(bootstrap.database_url(), "bench_floor") as database_url:
        with Service.running(database_url) as service:
            _, names = asyncio.run(seed.new_program_with_accounts(service.target, ACCOUNTS))
            path = accounts_file(names, "floor")
            run_load(service.target, "earn", callers=CALLERS, seconds=4, accounts_file=path)
        build_stage_view(database_url)
        for _ in range(rounds):
            for mode in MODES:
                with bare_server.running("benchmarks.account_floor", database_url, mode) as (
                    target,
                    _,
                ):
                    for kind in ("health", "get_each"):
                        run_load(target, kind, callers=CALLERS, seconds=2, accounts_file=path)
                    for _ in range(2):
                        rates = {
                            kind: run_load(
                                target, kind, callers=CALLERS, seconds=SECONDS, accounts_file=path
                            )
                            for kind in ("health", "get_each")
                        }
                        assert not any(run["errors"] for run in rates.values()), rates
                        ratios[mode].append(
                            rates["get_each"]["per_second"] / rates["health"]["per_second"]
                        )
                        print(
                            f"{mode}: health {rates['health']['per_second']:,.0f},"
                            f" GetAccount {rates['get_each']['per_second']:,.0f} calls/s",
                            flush=True,
                        )
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.account_floor")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve")
    serve.add_argument("port", type=int)
    serve.add_argument("database_url")
    serve.add_argument("mode", choices=MODES)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.command == "serve":
        asyncio.run(_serve(args.port, args.database_url, args.mode))
        return
    for mode, ratios in measure(args.rounds).items():
        print(
            f"bare GetAccount ({mode}) vs health: {statistics.median(ratios):.2f}x"
            f" ({' / '.join(f'{ratio:.2f}' for ratio in ratios)})"
        )


if __name__ == "__main__":
    main()
