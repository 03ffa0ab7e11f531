"""A member with a long purchase history, made through the API: what the renovation's bounded
snapshot is about (a member's state row must not grow with their orders)."""

import asyncio
import uuid
from typing import TYPE_CHECKING

import grpc
import psycopg

from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc

if TYPE_CHECKING:
    from loyalty.v1.ledger_pb2_grpc import LedgerServiceAsyncStub

POINTS = 100_000
"""Points the long and the short history earn in all, so their balances are spelled alike and
only the number of orders differs."""
CONCURRENCY = 64


async def members_with_purchases(target: str, orders: tuple[int, ...]) -> list[str]:
    """A program whose purchase points are available at once (no return window), and one member
    per entry of `orders` with that many purchases earning POINTS in all; their names."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        program_id = f"history-{uuid.uuid4().hex[:8]}"
        await stub.CreateProgram(
            pb.CreateProgramRequest(
                request_id=str(uuid.uuid4()),
                program_id=program_id,
                program=pb.Program(
                    earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)],
                    points_expiry_days=365,
                ),
            ),
            timeout=30,
        )
        names = []
        for index, count in enumerate(orders):
            response = await stub.EnrollMember(
                pb.EnrollMemberRequest(
                    request_id=str(uuid.uuid4()),
                    parent=f"programs/{program_id}",
                    member_id=f"history-{index}-{count:07d}",  # ids of one length
                ),
                timeout=30,
            )
            names.append(response.account.name)
            await _purchases(stub, response.account.name, count)
    return names


async def _purchases(stub: "LedgerServiceAsyncStub", account: str, count: int) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)
    amount = pb.Money(currency_code="USD", units=POINTS // count)

    async def purchase(order: int) -> None:
        async with gate:
            await stub.RecordPurchase(
                pb.RecordPurchaseRequest(
                    request_id=str(uuid.uuid4()),
                    account=account,
                    order_id=f"order-{order}",
                    amount=amount,
                ),
                timeout=60,
            )

    await asyncio.gather(*(purchase(order) for order in range(count)))


def snapshot_bytes(database_url: str, account: str) -> int:
    """Size of the account's state row snapshot, as PostgreSQL prints it."""
    _, program_id, _, member_id = account.split("/")
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT octet_length(s.state::text) FROM ledger.streams AS s"
            " JOIN ledger.members AS m"
            " ON m.program_id = s.program_id AND m.member_key = s.stream_id"
            " WHERE m.program_id = %s AND m.member_id = %s",
            [program_id, member_id],
        ).fetchone()
    assert row is not None
    return int(row[0])
