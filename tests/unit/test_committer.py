"""The group committer's own logic (ledger/application.py): its cache, its retries after
losing a race, its "unsure" refusals and its unknown outcomes, through the in-memory log: no
database, so each path is driven exactly where it branches."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from ledger import application, bootstrap
from ledger.application import Ledger
from ledger.domain.commands import (
    CommitReservation,
    CreateProgram,
    EarnPoints,
    Enroll,
    RecordPurchase,
    RefundPurchase,
    ReservePoints,
    UpdateProgram,
)
from ledger.domain.decisions import Target
from ledger.domain.errors import AlreadyExists, Conflict, NotFound
from ledger.domain.results import PurchaseResult, RefundResult
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.eventlog.errors import StoreTimeout, StoreUnavailable
from ledger.eventlog.memory import InMemoryEventLog
from ledger.eventlog.records import Commit, Position
from ledger.requests import Request
from tests.conftest import FakeClock

PROGRAM = "shop"
MEMBER = Target(PROGRAM, "member-1")
RATES = (EarnRate("USD", 1),)


class FaultyLog(InMemoryEventLog):
    """The in-memory log, with the failures a network and other writers bring."""

    def __init__(self) -> None:
        super().__init__()
        self.lose_reply_of_next_append = False
        self.fail_next_append = False
        self.always_conflict = False
        self.append_attempts = 0

    async def append(self, commit: Commit, *, deadline: float | None = None) -> None:
        self.append_attempts += 1
        if self.always_conflict:
            raise Conflict("another writer appended to the stream first")
        if self.fail_next_append:
            self.fail_next_append = False
            raise StoreUnavailable("the connection dropped before the commit")
        await super().append(commit, deadline=deadline)
        if self.lose_reply_of_next_append:
            self.lose_reply_of_next_append = False
            raise StoreUnavailable("the connection dropped after the commit")


@pytest.fixture
def log() -> FaultyLog:
    return FaultyLog()


@pytest.fixture
async def ledger(log: FaultyLog, clock: FakeClock) -> AsyncIterator[Ledger]:
    async with bootstrap.memory_ledger(clock, log=log) as instance:
        await _setup(instance)
        yield instance


async def _setup(ledger: Ledger) -> None:
    settings = ProgramSettings(earn_rates=RATES, return_window_days=14)
    await ledger.execute(Request(Target(PROGRAM), CreateProgram(PROGRAM, settings), "setup-1"))
    await ledger.execute(Request(MEMBER, Enroll(PROGRAM, "member-1"), "setup-2"))


async def _events(log: InMemoryEventLog) -> list[str]:
    return [
        e.event_type for e in await log.read_all(Position(), 1_000) if e.stream_id != "$program"
    ]


async def test_a_stream_known_from_the_last_batch_is_not_read_again(
    ledger: Ledger, log: FaultyLog
) -> None:
    loads = log.loads

    for index in range(5):
        await ledger.execute(Request(MEMBER, EarnPoints(10, "bonus"), f"earn-{index}"))

    assert log.loads == loads
    view = await ledger.get_account(PROGRAM, "member-1", "name")
    assert view.balances.available == 50


async def test_an_order_looked_up_once_is_known_to_later_batches(
    ledger: Ledger, log: FaultyLog
) -> None:
    await ledger.execute(Request(MEMBER, RecordPurchase("o-1", 10_000, "USD", 2), "buy"))
    loads = log.loads

    outcome = await ledger.execute(Request(MEMBER, RefundPurchase("o-1", 5_000, "USD"), "back"))

    assert outcome.result == RefundResult(points_clawed_back=50, points_not_recovered=0)
    assert log.loads == loads


async def test_a_purchase_of_a_new_order_on_a_known_account_reads_nothing(
    ledger: Ledger, log: FaultyLog
) -> None:
    await ledger.execute(Request(MEMBER, EarnPoints(10, "bonus"), "warm"))
    loads = log.loads

    for index in range(3):
        outcome = await ledger.execute(
            Request(MEMBER, RecordPurchase(f"o-{index}", 1_000, "USD", 2), f"buy-{index}")
        )
        assert isinstance(outcome.result, PurchaseResult)
        assert (outcome.result.points, outcome.result.pending) == (10, True)

    assert log.loads == loads
    assert await _events(log) == ["MemberEnrolled", "PointsEarned"] + ["PurchaseRecorded"] * 3


async def test_an_order_the_cache_let_go_of_is_read_when_the_log_refuses_it_again(
    ledger: Ledger, log: FaultyLog
) -> None:
    """This process knows the account but no longer the order (the cache keeps the latest
    orders of a stream only): it takes the order as new, the log refuses a second record of
    it, and the command is decided again with the order read."""
    for index in range(application.MAX_CACHED_ORDERS_PER_STREAM + 1):
        await ledger.execute(
            Request(MEMBER, RecordPurchase(f"o-{index}", 1_000, "USD", 2), f"buy-{index}")
        )
    events = await _events(log)

    with pytest.raises(AlreadyExists):
        await ledger.execute(Request(MEMBER, RecordPurchase("o-0", 1_000, "USD", 2), "again"))

    assert await _events(log) == events
    assert ledger.stats.conflicts == 1
    view = await ledger.get_account(PROGRAM, "member-1", "name")
    assert view.balances.pending == 10 * len(events[1:])


async def test_a_stale_cache_loses_the_race_and_the_command_is_decided_again_on_fresh_state(
    ledger: Ledger, log: FaultyLog, clock: FakeClock
) -> None:
    await ledger.execute(Request(MEMBER, EarnPoints(10, "bonus"), "first"))  # cached here
    async with bootstrap.memory_ledger(clock, log=log) as other_process:
        await other_process.execute(Request(MEMBER, EarnPoints(5, "bonus"), "elsewhere"))

    outcome = await ledger.execute(Request(MEMBER, EarnPoints(1, "bonus"), "stale"))

    assert ledger.stats.conflicts == 1
    assert outcome.accounts["member-1"].balances.available == 16
    assert await _events(log) == ["MemberEnrolled"] + ["PointsEarned"] * 3


async def test_a_refusal_on_the_fast_path_is_a_retry_of_a_request_that_succeeded(
    ledger: Ledger, log: FaultyLog
) -> None:
    """The caller timed out and retries: its commit has consumed the hold since, so deciding
    it again would refuse it. The committer reads the stored answers before refusing."""
    await ledger.execute(Request(MEMBER, EarnPoints(100, "bonus"), "earn"))
    await ledger.execute(Request(MEMBER, ReservePoints("h-1", 40, 600), "hold"))
    commit = Request(MEMBER, CommitReservation("h-1", 30), "commit")
    first = await ledger.execute(commit)
    events = await _events(log)

    again = await ledger.execute(commit)

    assert again == first
    assert again.appended == 0
    assert await _events(log) == events


async def test_another_process_with_a_stale_cache_answers_a_retry_with_the_stored_answer(
    ledger: Ledger, log: FaultyLog, clock: FakeClock
) -> None:
    async with bootstrap.memory_ledger(clock, log=log) as other_process:
        await other_process.execute(Request(MEMBER, EarnPoints(100, "bonus"), "earn"))
        await ledger.execute(Request(MEMBER, ReservePoints("h-1", 40, 600), "hold"))
        commit = Request(MEMBER, CommitReservation("h-1"), "commit")
        first = await ledger.execute(commit)

        again = await other_process.execute(commit)  # its cache has never seen the hold

    assert again == first
    assert await _events(log) == [
        "MemberEnrolled",
        "PointsEarned",
        "PointsReserved",
        "ReservationCommitted",
    ]


async def test_an_append_whose_reply_was_lost_is_not_applied_twice_when_retried(
    ledger: Ledger, log: FaultyLog
) -> None:
    earn = Request(MEMBER, EarnPoints(10, "bonus"), "earn")
    log.lose_reply_of_next_append = True

    with pytest.raises(StoreUnavailable):
        await ledger.execute(earn)
    answer = await ledger.execute(earn)

    assert answer.accounts["member-1"].balances.available == 10
    assert answer.appended == 0
    assert await _events(log) == ["MemberEnrolled", "PointsEarned"]


async def test_an_append_that_failed_before_committing_is_applied_once_when_retried(
    ledger: Ledger, log: FaultyLog
) -> None:
    earn = Request(MEMBER, EarnPoints(10, "bonus"), "earn")
    log.fail_next_append = True

    with pytest.raises(StoreUnavailable):
        await ledger.execute(earn)
    answer = await ledger.execute(earn)

    assert answer.appended == 1
    assert await _events(log) == ["MemberEnrolled", "PointsEarned"]


async def test_a_stream_that_keeps_changing_gives_up_after_a_bounded_number_of_attempts(
    ledger: Ledger, log: FaultyLog
) -> None:
    log.always_conflict = True
    attempts = log.append_attempts

    with pytest.raises(Conflict):
        await ledger.execute(Request(MEMBER, EarnPoints(10, "bonus"), "earn"))

    assert log.append_attempts - attempts == application.MAX_ATTEMPTS


async def test_a_program_changed_by_another_process_applies_here_once_its_copy_is_old(
    ledger: Ledger, log: FaultyLog, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ledger.execute(Request(MEMBER, RecordPurchase("o-1", 10_000, "USD", 2), "buy-1"))
    doubled = ProgramSettings(earn_rates=(EarnRate("USD", 2),), return_window_days=14)
    async with bootstrap.memory_ledger(clock, log=log) as other_process:
        await other_process.execute(Request(Target(PROGRAM), UpdateProgram(doubled), "update"))

    within = await ledger.execute(Request(MEMBER, RecordPurchase("o-2", 10_000, "USD", 2), "b-2"))
    monkeypatch.setattr(application, "SHARED_CACHE_SECONDS", 0.0)
    after = await ledger.execute(Request(MEMBER, RecordPurchase("o-3", 10_000, "USD", 2), "b-3"))

    assert isinstance(within.result, PurchaseResult) and isinstance(after.result, PurchaseResult)
    assert (within.result.points, within.result.program_revision) == (100, 1)
    assert (after.result.points, after.result.program_revision) == (200, 2)


async def test_a_command_whose_caller_stopped_waiting_is_not_decided(
    ledger: Ledger, log: FaultyLog
) -> None:
    gone = Request(MEMBER, EarnPoints(10, "bonus"), "late", deadline=time.monotonic() - 0.001)

    with pytest.raises(StoreTimeout):
        await ledger.execute(gone)

    assert await _events(log) == ["MemberEnrolled"]


async def test_concurrent_commands_on_one_stream_share_batches_and_all_count(
    ledger: Ledger, log: FaultyLog
) -> None:
    appends = log.appends

    await asyncio.gather(
        *(ledger.execute(Request(MEMBER, EarnPoints(1, "bonus"), f"e-{i}")) for i in range(50))
    )

    view = await ledger.get_account(PROGRAM, "member-1", "name")
    assert view.balances.available == 50
    assert log.appends - appends < 50


async def test_an_unknown_account_is_not_found_and_appends_nothing(ledger: Ledger) -> None:
    with pytest.raises(NotFound):
        await ledger.execute(Request(Target(PROGRAM, "nobody"), EarnPoints(1, "bonus"), "x"))
