"""An account's snapshot is bounded whatever the member's history: orders are read from their
own events when a command names one, not kept in the state row written with every command."""

import asyncio
import json

from ledger import bootstrap
from ledger.application import Ledger
from ledger.domain.commands import CreateProgram, Enroll, RecordPurchase, RefundPurchase
from ledger.domain.decisions import Target
from ledger.domain.kinds import account_key
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.eventlog.memory import InMemoryEventLog
from ledger.requests import Request
from tests.conftest import FakeClock

PROGRAM = "shop"
SETTINGS = ProgramSettings(earn_rates=(EarnRate("USD", 1),), points_expiry_days=365)
MANY = 10_000
FEW = 10
POINTS = 100_000
"""Both members earn as many points in all, so their balances are spelled alike."""


async def _member(ledger: Ledger, member_id: str, orders: int) -> None:
    target = Target(PROGRAM, member_id)
    await ledger.execute(Request(target, Enroll(PROGRAM, member_id), f"enroll-{orders}"))
    amount_minor = POINTS // orders * 100  # in cents, at 1 point per dollar
    for first in range(0, orders, 500):
        await asyncio.gather(
            *(
                ledger.execute(
                    Request(
                        target,
                        RecordPurchase(f"order-{index}", amount_minor, "USD", 2),
                        f"purchase-{orders}-{index}",
                    )
                )
                for index in range(first, min(first + 500, orders))
            )
        )


async def _snapshot_bytes(log: InMemoryEventLog, member_id: str) -> int:
    key = (await log.member_keys(PROGRAM, [member_id]))[member_id]
    row = await log.get_stream(account_key(PROGRAM, key))
    assert row is not None
    return len(json.dumps(row.state, separators=(",", ":")).encode())


async def test_the_snapshot_of_a_member_with_10000_orders_is_no_larger_than_with_10(
    clock: FakeClock,
) -> None:
    log = InMemoryEventLog()
    async with bootstrap.memory_ledger(clock, log=log) as ledger:
        await ledger.execute(Request(Target(PROGRAM), CreateProgram(PROGRAM, SETTINGS), "p"))
        await _member(ledger, "member-a", FEW)
        await _member(ledger, "member-b", MANY)
        # The oldest order is still there to refund, read from its own events.
        refunded = await ledger.execute(
            Request(Target(PROGRAM, "member-b"), RefundPurchase("order-0", 1_000, "USD"), "r")
        )

        few, many = await _snapshot_bytes(log, "member-a"), await _snapshot_bytes(log, "member-b")
        view = await ledger.get_account(PROGRAM, "member-b", "name")

    assert view.version == 1 + MANY + 1
    assert refunded.accounts["member-b"].balances.available == POINTS - 10
    assert many <= few + len("-10"), (many, few)
