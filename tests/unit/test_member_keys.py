"""The ledger's translation of member ids into pseudonymous keys, without PostgreSQL."""

import json
from collections.abc import AsyncIterator, Collection
from datetime import timedelta

import pytest

from ledger import bootstrap
from ledger.application import ANSWER_RETENTION, Ledger
from ledger.domain.commands import (
    AdjustPoints,
    CreateProgram,
    EarnPoints,
    Enroll,
    ReservePoints,
    TransferPoints,
)
from ledger.domain.decisions import Target
from ledger.domain.errors import InvalidArgument, NotFound
from ledger.domain.patterns import MEMBER_KEY_PATTERN
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.eventlog.memory import InMemoryEventLog
from ledger.eventlog.records import Position
from ledger.requests import Request
from tests.conftest import FakeClock

PROGRAM = "shop"
JANE = "jane.doe@example.com"
BOB = "+33612345678"


class CountingLog(InMemoryEventLog):
    def __init__(self) -> None:
        super().__init__()
        self.key_lookups = 0

    async def member_keys(
        self, program_id: str, member_ids: Collection[str], *, deadline: float | None = None
    ) -> dict[str, str]:
        self.key_lookups += 1
        return await super().member_keys(program_id, member_ids, deadline=deadline)


@pytest.fixture
def log() -> CountingLog:
    return CountingLog()


@pytest.fixture
async def ledger(log: CountingLog, clock: FakeClock) -> AsyncIterator[Ledger]:
    async with bootstrap.memory_ledger(clock, log=log) as instance:
        settings = ProgramSettings(earn_rates=(EarnRate("USD", 1),))
        await instance.execute(Request(Target(PROGRAM), CreateProgram(PROGRAM, settings), "p"))
        for member in (JANE, BOB):
            await instance.execute(
                Request(Target(PROGRAM, member), Enroll(PROGRAM, member), f"enroll-{len(member)}")
            )
        yield instance


def _stored_text(log: InMemoryEventLog) -> str:
    """Everything the log holds, as text."""
    parts = [repr(record) for record in log._all]
    parts += [repr(row) + json.dumps(row.state) for row in log._streams.values()]
    parts += [repr(row) + json.dumps(row.response) for row in log._requests.values()]
    return "\n".join(parts)


async def test_the_log_names_members_by_random_keys_and_answers_callers_by_their_ids(
    ledger: Ledger, log: CountingLog
) -> None:
    outcome = await ledger.execute(
        Request(Target(PROGRAM, JANE), EarnPoints(10, "bonus"), "earn-1")
    )
    moved = await ledger.execute(
        Request(Target(PROGRAM, JANE), TransferPoints(BOB, 4, "t-1"), "move-1")
    )

    assert outcome.accounts[JANE].member_id == JANE
    assert {view.member_id for view in moved.accounts.values()} == {JANE, BOB}
    streams = {record.stream_id for record in log._all} - {"$program"}
    assert len(streams) == 2 and all(MEMBER_KEY_PATTERN.fullmatch(s) for s in streams)
    text = _stored_text(log)
    assert JANE not in text and BOB not in text and "+3361" not in text


async def test_a_hot_account_costs_no_lookup_of_its_key(ledger: Ledger, log: CountingLog) -> None:
    await ledger.execute(Request(Target(PROGRAM, JANE), EarnPoints(1, "bonus"), "warm"))
    lookups, loads = log.key_lookups, log.loads

    for index in range(5):
        await ledger.execute(Request(Target(PROGRAM, JANE), EarnPoints(1, "bonus"), f"e-{index}"))

    assert (log.key_lookups, log.loads) == (lookups, loads)


async def test_a_forgotten_member_answers_nothing_and_forgetting_again_is_harmless(
    ledger: Ledger,
) -> None:
    assert await ledger.forget_member(PROGRAM, JANE, actor="admin:dpo")
    assert not await ledger.forget_member(PROGRAM, JANE)

    for call in (
        ledger.get_account(PROGRAM, JANE, "name"),
        ledger.list_entries(PROGRAM, JANE, after_version=0, limit=10),
        ledger.execute(Request(Target(PROGRAM, JANE), EarnPoints(1, "bonus"), "late")),
        ledger.execute(Request(Target(PROGRAM, BOB), TransferPoints(JANE, 1, "t"), "to-her")),
    ):
        with pytest.raises(NotFound):
            await call
    assert (await ledger.get_account(PROGRAM, BOB, "name")).member_id == BOB


async def test_the_erasure_is_recorded_with_its_reason_and_actor_and_no_id(
    ledger: Ledger, log: CountingLog
) -> None:
    await ledger.forget_member(PROGRAM, JANE, reason="member_request", actor="admin:dpo")

    [last] = [r for r in await log.read_all(Position(), 1_000) if r.event_type == "MemberForgotten"]
    assert last.data == {"reason": "member_request"}
    assert last.metadata["actor"] == "admin:dpo" and last.metadata["request_id"] == ""
    assert JANE not in _stored_text(log)
    assert await log.member_ids([last.stream]) == {}


async def test_an_id_shaped_like_a_key_is_refused_naming_the_field(ledger: Ledger) -> None:
    key_like = "~" + "a" * 26

    with pytest.raises(InvalidArgument) as refused:
        await ledger.execute(Request(Target(PROGRAM, key_like), Enroll(PROGRAM, key_like), "k"))

    assert [v.field for v in refused.value.violations] == ["member_id"]


async def test_stored_answers_expire_after_the_retention_and_not_before(
    ledger: Ledger, log: CountingLog, clock: FakeClock
) -> None:
    stored = len(log._requests)
    clock.advance(days=ANSWER_RETENTION.days - 1)

    assert await ledger.expire() == (0, 0)
    clock.advance(days=1, seconds=1)
    answers, _ = await ledger.expire()

    assert answers == stored and not log._requests
    assert timedelta(days=7) <= ANSWER_RETENTION, "long enough for any client's retries"


@pytest.mark.parametrize(
    ("request_id", "note", "field"),
    [(f"earn-{JANE}-1", "", "request_id"), ("adjust-1", f"called by {JANE}", "note")],
)
async def test_free_text_holding_the_member_id_is_refused_naming_the_field(
    ledger: Ledger, log: CountingLog, request_id: str, note: str, field: str
) -> None:
    appended = ledger.stats.events_appended

    with pytest.raises(InvalidArgument) as refused:
        await ledger.execute(
            Request(Target(PROGRAM, JANE), AdjustPoints(5, "goodwill", note, "agent"), request_id)
        )

    assert [v.field for v in refused.value.violations] == [field]
    assert ledger.stats.events_appended == appended
    assert JANE not in _stored_text(log)


async def test_a_forgotten_members_hold_still_lapses_and_its_points_still_expire(
    ledger: Ledger, log: CountingLog, clock: FakeClock
) -> None:
    jane = Target(PROGRAM, JANE)
    await ledger.execute(Request(jane, EarnPoints(40, "bonus"), "earn-j"))
    await ledger.execute(Request(jane, ReservePoints("till-1", 30, 60), "hold-j"))
    await ledger.forget_member(PROGRAM, JANE)
    clock.advance(minutes=2)

    appended = await ledger.sweep()

    assert appended == 1
    assert await log.due_streams(clock(), 10) == []
    [released] = [r for r in log._all if r.event_type == "ReservationReleased"]
    assert released.balances.available == 40 and released.balances.held == 0
