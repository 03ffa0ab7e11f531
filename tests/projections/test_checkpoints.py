"""The projection checkpoint's guarantees, against the real PostgreSQL: one session leads a
projection at a time, a page applied from a checkpoint that moved meanwhile (as a second
writer would) is rolled back whole, view rows and all, and the service's own role has every
grant a runner and a rebuild need."""

import asyncio
import io

from ledger.application import Ledger
from ledger.eventlog.records import Position
from ledger.projections.catalog import MEMBER_DIRECTORY
from ledger.projections.workers import rebuild_projection
from ledger.store.projection_sessions import PageStatements, PostgresRunnerSession, connect
from tests.integration.ledgers import new_member, new_program
from tests.projections.event_counts import EVENT_COUNTS
from tests.projections.helpers import event_counts_by_stream, live_status

APP_ROLE = "loyalty_ledger_app"


async def test_only_one_session_leads_a_projection_until_it_closes(event_counts: str) -> None:
    first = await PostgresRunnerSession.open(event_counts, EVENT_COUNTS, runner="first")
    second = await PostgresRunnerSession.open(event_counts, EVENT_COUNTS, runner="second")
    try:
        assert await first.try_lead()
        assert not await second.try_lead()
        assert await first.try_lead(), "the leader keeps leading"
        await first.close()
        # The server ends the closed session (and frees its lock) a moment later.
        for _ in range(100):
            if await second.try_lead():
                break
            await asyncio.sleep(0.05)
        assert await second.try_lead(), "a closed session's lock is freed"
    finally:
        await first.close()
        await second.close()


async def test_a_page_from_a_checkpoint_that_moved_is_rolled_back_whole(
    event_counts: str, ledger: Ledger
) -> None:
    program_id = await new_program(ledger)
    await new_member(ledger, program_id, points=10)
    leader = await PostgresRunnerSession.open(event_counts, EVENT_COUNTS, runner="leader")
    try:
        assert await leader.try_lead()
        while (await leader.apply_page(1_000)).events:
            pass
    finally:
        await leader.close()
    before = await live_status(event_counts, "event_counts")
    counted = event_counts_by_stream(event_counts)
    await new_member(ledger, program_id, points=10)  # something for the intruder to apply

    intruder = await connect(event_counts, None, "intruder")
    try:
        page = await PageStatements(EVENT_COUNTS, "intruder").apply(
            intruder, slot=before.slot, live=True, after=Position(), limit=1_000
        )
    finally:
        await intruder.close()

    assert page is None, "a page from a stale checkpoint must not commit"
    assert event_counts_by_stream(event_counts) == counted, "its view rows were rolled back"
    assert (await live_status(event_counts, "event_counts")).checkpoint == before.checkpoint


async def test_the_application_role_may_run_and_rebuild_the_member_directory(
    database_url: str, ledger: Ledger
) -> None:
    program_id = await new_program(ledger)
    await new_member(ledger, program_id, points=10)
    runner = await PostgresRunnerSession.open(
        database_url, MEMBER_DIRECTORY, runner="app", role=APP_ROLE
    )
    try:
        for _ in range(100):
            if await runner.try_lead():
                break
            await asyncio.sleep(0.05)
        while (await runner.apply_page(1_000)).events:
            pass
    finally:
        await runner.close()
    result = await rebuild_projection(database_url, MEMBER_DIRECTORY, io.StringIO(), role=APP_ROLE)
    assert result.events > 0
