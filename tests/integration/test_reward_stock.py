"""A limited reward's stock under concurrent redemptions, through the real store: many members
redeem the last units at once, through two ledger processes, and exactly as many succeed as
there are units; the audit replays the stock stream and finds nothing wrong."""

import asyncio

from ledger.audit.replay import replay
from ledger.domain.catalogue import Benefit, BenefitKind, Reward
from ledger.domain.commands import CancelReservation, RedeemReward, ReservePoints
from ledger.domain.decisions import Target
from ledger.domain.errors import FailedPrecondition
from ledger.requests import Request
from tests.conftest import FakeClock, request_id
from tests.integration.ledgers import count_events, new_member, new_program, running_ledger

UNITS = 3
MEMBERS = 24


async def test_members_racing_for_the_last_units_get_exactly_that_many(
    database_url: str, clock: FakeClock
) -> None:
    mug = Reward("mug", "A mug", 10, Benefit(BenefitKind.FREE_PRODUCT, sku="MUG"), stock=UNITS)
    async with (
        running_ledger(database_url, clock) as first,
        running_ledger(database_url, clock) as second,
    ):
        program_id = await new_program(first, rewards=(mug,))
        members = [await new_member(first, program_id, points=10) for _ in range(MEMBERS)]

        async def redeem(index: int, member_id: str) -> str | None:
            ledger = first if index % 2 else second
            try:
                await ledger.execute(
                    Request(Target(program_id, member_id), RedeemReward("mug"), request_id())
                )
            except FailedPrecondition as refused:
                return refused.reason
            return None

        reasons = await asyncio.gather(*(redeem(i, m) for i, m in enumerate(members)))

    assert reasons.count(None) == UNITS
    assert reasons.count("REWARD_OUT_OF_STOCK") == MEMBERS - UNITS
    assert count_events(database_url, program_id, "RewardRedeemed") == UNITS
    assert count_events(database_url, program_id, "RewardUnitIssued") == UNITS
    audit = replay(database_url, program_id)
    assert audit.ok, audit.discrepancies


async def test_a_canceled_hold_gives_its_unit_to_the_next_member(
    database_url: str, clock: FakeClock
) -> None:
    mug = Reward("mug", "A mug", 10, Benefit(BenefitKind.FREE_PRODUCT, sku="MUG"), stock=1)
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger, rewards=(mug,))
        holder, other = [await new_member(ledger, program_id, points=10) for _ in range(2)]
        await ledger.execute(
            Request(
                Target(program_id, holder), ReservePoints("r-1", 0, reward_id="mug"), request_id()
            )
        )
        try:
            await ledger.execute(
                Request(Target(program_id, other), RedeemReward("mug"), request_id())
            )
        except FailedPrecondition as refused:
            assert refused.reason == "REWARD_OUT_OF_STOCK"
        else:
            raise AssertionError("the held unit was given away")

        # A ledger that never saw the hold decides the cancel: it reads the stock on demand.
        async with running_ledger(database_url, clock) as fresh:
            await fresh.execute(
                Request(Target(program_id, holder), CancelReservation("r-1"), request_id())
            )
        outcome = await ledger.execute(
            Request(Target(program_id, other), RedeemReward("mug"), request_id())
        )
        holder_account = await ledger.get_account(program_id, holder, "name")

    assert outcome.appended == 2
    assert holder_account.balances.available == 10
    audit = replay(database_url, program_id)
    assert audit.ok, audit.discrepancies
