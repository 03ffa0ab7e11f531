"""Putting programs, accounts and history into a ledger through its own API."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import grpc

from benchmarks.load import BENCH_ACTION_ID
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc

if TYPE_CHECKING:
    from loyalty.v1.ledger_pb2_grpc import LedgerServiceAsyncStub

IMPORT_BATCH = 1_000
HISTORY_START = datetime(2026, 1, 1, tzinfo=UTC)


def _history(accounts: list[str], count: int, offset: int) -> list[pb.HistoricalEvent]:
    events = []
    for index in range(count):
        occurred = HISTORY_START + timedelta(seconds=offset + index)
        when = pb.HistoricalEvent().occur_time
        when.FromDatetime(occurred)
        events.append(
            pb.HistoricalEvent(
                account=accounts[(offset + index) % len(accounts)],
                points_delta=10,
                occur_time=when,
                external_id=f"ext-{offset + index}",
                kind="purchase",
            )
        )
    return events


EARNING_RULES: dict[str, Any] = {
    "multipliers": [
        pb.EarnMultiplier(rule_id="double_sku", percent=200, sku="sku-1"),
        pb.EarnMultiplier(rule_id="shoes", percent=150, category="shoes"),
    ],
    "exclusions": [
        pb.EarnExclusion(rule_id="no_shipping", line_kind=pb.ORDER_LINE_KIND_SHIPPING),
        pb.EarnExclusion(rule_id="no_tax", line_kind=pb.ORDER_LINE_KIND_TAX),
    ],
    "minimum_order_amounts": [pb.Money(currency_code="USD", units=5)],
    "points_rounding": pb.POINTS_ROUNDING_NEAREST,
}
"""Rules the purchase benchmark's lines meet (benchmarks/load.py PURCHASE_LINES)."""


async def create_program(stub: "LedgerServiceAsyncStub", *, earning_rules: bool = False) -> str:
    program_id = f"bench-{uuid.uuid4().hex[:8]}"
    await stub.CreateProgram(
        pb.CreateProgramRequest(
            request_id=str(uuid.uuid4()),
            program_id=program_id,
            program=pb.Program(
                earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)],
                **(EARNING_RULES if earning_rules else {}),
                # Caps the load never reaches, so every RecordAction checks them and gives
                # points, as most real ones do.
                actions=[
                    pb.RewardedAction(
                        action_id=BENCH_ACTION_ID,
                        points=1,
                        caps=[
                            pb.ActionCap(period=pb.CAP_PERIOD_DAY, max_times=1_000_000),
                            pb.ActionCap(period=pb.CAP_PERIOD_MONTH, max_points=1_000_000_000),
                        ],
                    )
                ],
            ),
        ),
        timeout=30,
    )
    return program_id


def account_names(program_id: str, count: int, prefix: str = "member") -> list[str]:
    return [f"programs/{program_id}/accounts/{prefix}-{index}" for index in range(count)]


IMPORT_ATTEMPTS = 5
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


async def import_history(
    target: str,
    program_id: str,
    accounts: list[str],
    events: int,
    *,
    concurrency: int = 4,
    offset: int = 0,
) -> None:
    """`events` historical events spread round-robin over `accounts`, 1,000 a request."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        gate = asyncio.Semaphore(concurrency)

        async def send(start: int) -> None:
            request = pb.ImportHistoryRequest(
                request_id=str(uuid.uuid4()),
                parent=f"programs/{program_id}",
                events=_history(accounts, min(IMPORT_BATCH, events - start), offset + start),
            )
            async with gate:
                # A request the service turned away while busy (its pool's wait ran out) is
                # sent again under the same request id, so it is never applied twice.
                for attempt in range(IMPORT_ATTEMPTS):
                    try:
                        await stub.ImportHistory(request, timeout=120)
                        return
                    except grpc.aio.AioRpcError as error:
                        if error.code() not in RETRYABLE or attempt == IMPORT_ATTEMPTS - 1:
                            raise
                    await asyncio.sleep(2**attempt)

        await asyncio.gather(*(send(start) for start in range(0, events, IMPORT_BATCH)))


async def new_program_with_accounts(
    target: str, count: int, *, earning_rules: bool = False
) -> tuple[str, list[str]]:
    async with grpc.aio.insecure_channel(target) as channel:
        program_id = await create_program(
            ledger_pb2_grpc.LedgerServiceStub(channel), earning_rules=earning_rules
        )
    accounts = account_names(program_id, count)
    await import_history(target, program_id, accounts, count)
    return program_id, accounts


FILL_CHUNK = 200_000
_FILL = """
INSERT INTO ledger.events (
    program_id, stream_id, version, event_id, event_type, schema_version, data, metadata,
    recorded_at, points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired, hash
)
SELECT %(program_id)s, 'history-' || (g / 100), g %% 100 + 1, gen_random_uuid(), 'PointsEarned', 1,
    jsonb_build_object('points', 1, 'reason', 'history', 'expires_on', NULL,
        'program_revision', 1),
    jsonb_build_object('request_id', 'fill-' || g, 'actor', 'bench', 'trace_id', '',
        'command', 'EarnPoints'),
    now(), g %% 100 + 1, 0, 0, g %% 100 + 1, 0, 0, sha256(int8send(g))
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
"""


GROW_GROUP_ACCOUNTS = 100


async def grow_log(
    target: str,
    database_url: str,
    program_id: str,
    accounts: list[str],
    *,
    at_least: int,
    by_at_least: int = 0,
) -> int:
    """Imports history through the API over `accounts` (100 of them a request) until the log
    holds `at_least` events, and at least `by_at_least` more than it did. Unlike
    `fill_log`'s rows these are chained and hashed as every write is, so the audit replays
    them; and they lengthen streams the log has, so the log grows in events, not in
    streams. Returns how many it imported."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        cursor = await connection.execute("SELECT count(*) FROM ledger.events")
        row = await cursor.fetchone()
    wanted = max(at_least - (row[0] if row else 0), by_at_least, 0)
    groups = [
        accounts[start : start + GROW_GROUP_ACCOUNTS]
        for start in range(0, len(accounts), GROW_GROUP_ACCOUNTS)
    ]
    share, extra = divmod(wanted, len(groups))
    for index, group in enumerate(groups):
        # Each group's events get times and external ids of their own (offset).
        count = share + 1 if index < extra else share
        await import_history(target, program_id, group, count, offset=index * (share + 1))
    return wanted


def fill_log(database_url: str, events: int) -> str:
    """Adds `events` synthetic events (100 a stream) under a program of their own, straight
    in SQL: only their number matters here, and the API would take minutes to write them.
    Their hashes are not a chain, so replay benchmarks run before this."""
    import psycopg

    program_id = f"history-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as connection:
        for first in range(0, events, FILL_CHUNK):
            last = min(first + FILL_CHUNK, events) - 1
            connection.execute(_FILL, {"program_id": program_id, "first": first, "last": last})
    return program_id


def settle(database_url: str) -> None:
    """Lets the database finish what a bulk load leaves behind (statistics, dead tuples,
    dirty pages) before latency is measured."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE ledger.events")
        connection.execute("VACUUM ANALYZE ledger.streams")
        connection.execute("CHECKPOINT")
