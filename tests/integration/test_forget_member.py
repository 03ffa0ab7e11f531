"""ForgetMember under concurrent writes and across processes: nothing is half-forgotten."""

import asyncio

import psycopg

from ledger.audit.replay import replay
from ledger.domain.commands import EarnPoints, Enroll
from ledger.domain.decisions import Target
from ledger.domain.errors import NotFound
from ledger.requests import Request
from tests.conftest import FakeClock, request_id, unique
from tests.integration.ledgers import linked_key, new_member, new_program, running_ledger

WRITES = 60


def _stream_events(database_url: str, program_id: str, member_key: str) -> list[str]:
    with psycopg.connect(database_url) as connection:
        return [
            row[0]
            for row in connection.execute(
                "SELECT event_type FROM ledger.events WHERE program_id = %s AND stream_id = %s"
                " ORDER BY version",
                [program_id, member_key],
            )
        ]


async def test_writes_racing_a_forget_land_before_it_or_are_not_found(
    database_url: str, clock: FakeClock
) -> None:
    async with (
        running_ledger(database_url, clock) as first,
        running_ledger(database_url, clock) as second,
    ):
        program_id = await new_program(first)
        member_id = await new_member(first, program_id)
        key = linked_key(database_url, program_id, member_id)
        assert key is not None and key.startswith("~") and member_id not in key
        # Both processes know the member's link, as hot accounts are.
        await second.get_account(program_id, member_id, "name")

        async def earn(index: int) -> bool:
            ledger = first if index % 2 else second
            await asyncio.sleep(0.002 * (index % 7))
            try:
                await ledger.execute(
                    Request(Target(program_id, member_id), EarnPoints(1, "bonus"), request_id())
                )
            except NotFound:
                return False
            return True

        async def forget() -> bool:
            await asyncio.sleep(0.01)
            return await second.forget_member(program_id, member_id)

        *earned, forgotten = await asyncio.gather(*(earn(i) for i in range(WRITES)), forget())

    events = _stream_events(database_url, program_id, key)
    assert forgotten
    assert events[-1] == "MemberForgotten"
    # Every acknowledged earn is in the log, before the forget; every other one was refused.
    assert events.count("PointsEarned") == earned.count(True)
    assert 0 < earned.count(True) < WRITES, "the race did not happen: tune the sleeps"
    assert linked_key(database_url, program_id, member_id) is None
    audit = replay(database_url, program_id)
    assert audit.ok, audit.discrepancies


async def test_a_process_holding_a_stale_link_answers_not_found_and_enrolls_the_id_anew(
    database_url: str, clock: FakeClock
) -> None:
    async with (
        running_ledger(database_url, clock) as first,
        running_ledger(database_url, clock) as second,
    ):
        program_id = await new_program(first)
        member_id = await new_member(first, program_id, points=10)
        old_key = linked_key(database_url, program_id, member_id)
        await first.get_account(program_id, member_id, "name")  # `first` caches the link

        assert await second.forget_member(program_id, member_id)
        assert not await second.forget_member(program_id, member_id)  # idempotent
        assert not await first.forget_member(program_id, member_id)

        try:
            await first.execute(
                Request(Target(program_id, member_id), EarnPoints(5, "bonus"), request_id())
            )
        except NotFound as error:
            assert error.reason == "ACCOUNT_NOT_FOUND"
        else:
            raise AssertionError("a write to a forgotten member was accepted")
        # The same id enrolls again as a new member: a new key, an empty account.
        enrolled = await first.execute(
            Request(Target(program_id, member_id), Enroll(program_id, member_id), request_id())
        )
        account = await second.get_account(program_id, member_id, "name")

    new_key = linked_key(database_url, program_id, member_id)
    assert new_key is not None and new_key != old_key
    assert enrolled.accounts[member_id].member_id == member_id
    assert account.balances.available == 0
    assert _stream_events(database_url, program_id, new_key) == ["MemberEnrolled"]


async def test_forgetting_an_id_never_enrolled_answers_false_and_writes_nothing(
    database_url: str, clock: FakeClock
) -> None:
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger)
        appended = ledger.stats.events_appended

        assert not await ledger.forget_member(program_id, unique("nobody"))

    assert ledger.stats.events_appended == appended
