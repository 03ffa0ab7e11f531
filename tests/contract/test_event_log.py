"""One contract for every event log: the PostgreSQL store and the in-memory log answer the
ledger the same way (the way eventsourcing runs one recorder suite per backend).

Each test runs against both. On PostgreSQL they share a database of this module's own (the
records they write are the port's, not the ledger's: no other test should meet them), and each
works in a program of its own and reads only what it wrote.
"""

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger import bootstrap
from ledger.domain import clock
from ledger.domain.account import Balances
from ledger.domain.errors import Conflict
from ledger.eventlog.errors import DuplicateRequest, StoreTimeout
from ledger.eventlog.memory import InMemoryEventLog
from ledger.eventlog.port import EventLog
from ledger.eventlog.records import (
    Commit,
    EventRecord,
    Position,
    RequestWrite,
    StreamWrite,
)
from ledger.ids import random_uuid
from tests.conftest import unique
from tests.integration.log_v1 import fresh_database

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _now() -> datetime:
    return T0


@pytest.fixture(scope="module")
def contract_database(server_url: str) -> Iterator[str]:
    with fresh_database(server_url, "loyalty_contract") as url:
        yield url


@pytest.fixture(params=["memory", "postgres"])
async def log(request: pytest.FixtureRequest) -> AsyncIterator[EventLog]:
    if request.param == "memory":
        yield InMemoryEventLog()
        return
    database_url: str = request.getfixturevalue("contract_database")
    async with bootstrap.postgres_ledger(
        database_url, _now, pool_min_size=1, pool_max_size=2
    ) as ledger:
        yield ledger.log


class Stream:
    """Writes commits to one stream the way the ledger does: versions one after another."""

    def __init__(self, program_id: str, stream_id: str) -> None:
        self.key = (program_id, stream_id)
        self.version = 0

    def event(
        self,
        event_type: str = "PointsEarned",
        *,
        at: datetime = T0,
        available: int = 0,
        **data: Any,
    ) -> EventRecord:
        self.version += 1
        return EventRecord(
            program_id=self.key[0],
            stream_id=self.key[1],
            version=self.version,
            event_id=random_uuid(),
            event_type=event_type,
            schema_version=1,
            data=data or {"points": self.version},
            metadata={"actor": "contract", "request_id": f"r-{self.version}"},
            recorded_at=at,
            balances=Balances(available=available),
            hash=self.version.to_bytes(32, "big"),
        )

    def write(
        self, *, at: datetime = T0, due: datetime | None = None, state: dict[str, Any] | None = None
    ) -> StreamWrite:
        return StreamWrite(
            self.key[0],
            self.key[1],
            self.version,
            self.version.to_bytes(32, "big"),
            state or {"version": self.version},
            Balances(available=self.version),
            clock.instant(due) if due else None,
            at,
        )


def answer(stream: Stream, request_id: str, response: dict[str, Any] | None = None) -> RequestWrite:
    return RequestWrite(
        stream.key[0],
        stream.key[1],
        request_id,
        bytes(32),
        response or {"answer": request_id},
        T0,
    )


async def _all_of(log: EventLog, program_id: str) -> list[EventRecord]:
    found: list[EventRecord] = []
    after = Position()
    while page := await log.read_all(after, 3, program_id):
        found += page
        after = Position.of(page[-1])
    return found


async def test_what_is_appended_loads_back_whole(log: EventLog) -> None:
    stream = Stream(unique("p"), "member-1")
    events = [stream.event(), stream.event()]
    await log.append(Commit(events, [stream.write()], [answer(stream, "r-1")]))

    loaded = await log.load([stream.key, (stream.key[0], "nobody")], [(*stream.key, "r-1")])

    row = loaded.streams[stream.key]
    assert (row.version, row.last_hash, row.state) == (2, (2).to_bytes(32, "big"), {"version": 2})
    assert list(loaded.streams) == [stream.key]
    assert loaded.requests[(*stream.key, "r-1")].response == {"answer": "r-1"}
    assert loaded.requests[(*stream.key, "r-1")].request_hash == bytes(32)
    stored = await _all_of(log, stream.key[0])
    assert [(e.version, e.event_id, e.data, e.hash) for e in stored] == [
        (e.version, e.event_id, e.data, e.hash) for e in events
    ]


async def test_a_commit_that_does_not_continue_its_stream_fails_whole(log: EventLog) -> None:
    program_id = unique("p")
    first, other = Stream(program_id, "member-1"), Stream(program_id, "member-2")
    await log.append(Commit([first.event()], [first.write()], []))
    stale = Stream(program_id, "member-1")  # a writer that read the stream before

    with pytest.raises(Conflict):
        await log.append(
            Commit(
                [other.event(), stale.event()],
                [other.write(), stale.write()],
                [answer(other, "r-lost")],
            )
        )

    loaded = await log.load([first.key, other.key], [(*other.key, "r-lost")])
    assert list(loaded.streams) == [first.key]
    assert loaded.requests == {}
    assert [e.stream_id for e in await _all_of(log, program_id)] == ["member-1"]


async def test_a_request_id_stored_before_fails_the_commit_whole(log: EventLog) -> None:
    stream = Stream(unique("p"), "member-1")
    await log.append(Commit([stream.event()], [stream.write()], [answer(stream, "r-1")]))

    with pytest.raises(DuplicateRequest):
        await log.append(
            Commit([stream.event()], [stream.write()], [answer(stream, "r-1", {"other": 1})])
        )

    loaded = await log.load([stream.key], [(*stream.key, "r-1")])
    assert loaded.streams[stream.key].version == 1
    assert loaded.requests[(*stream.key, "r-1")].response == {"answer": "r-1"}


async def test_the_global_order_is_the_order_of_commits_and_resumes_from_any_position(
    log: EventLog,
) -> None:
    program_id = unique("p")
    a, b = Stream(program_id, "a"), Stream(program_id, "b")
    await log.append(Commit([a.event(), b.event()], [a.write(), b.write()], []))
    await log.append(Commit([b.event()], [b.write()], []))
    await log.append(Commit([a.event(), a.event()], [a.write()], []))

    everything = await _all_of(log, program_id)

    assert [(e.stream_id, e.version) for e in everything] == [
        ("a", 1),
        ("b", 1),
        ("b", 2),
        ("a", 2),
        ("a", 3),
    ]
    positions = [Position.of(e) for e in everything]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    rest = await log.read_all(positions[1], 10, program_id)
    assert [Position.of(e) for e in rest] == positions[2:]
    assert await log.read_all(positions[-1], 10, program_id) == []
    others = await log.read_all(Position(), 1_000, unique("nobody"))
    assert others == []
    # The head is at or past the last event of this program (on a shared database other
    # tests' events may come later), and nothing of this program lies beyond it.
    head = await log.head()
    assert head >= positions[-1]
    assert await log.read_all(head, 1_000, program_id) == []
    # Nothing is held back here, so the newest committed event is the head, or one committed
    # since by another test.
    assert await log.newest_committed() >= head
    horizon = await log.read_horizon()
    assert horizon.hidden_events >= 0 and horizon.transactions_behind >= 0


async def test_entries_page_by_version_and_filter_by_type_and_time(log: EventLog) -> None:
    stream = Stream(unique("p"), "member-1")
    events = [
        stream.event("PointsEarned", at=T0),
        stream.event("PointsRedeemed", at=T0 + timedelta(hours=1)),
        stream.event("PointsEarned", at=T0 + timedelta(hours=2)),
        stream.event("PointsEarned", at=T0 + timedelta(hours=3)),
    ]
    await log.append(Commit(events, [stream.write()], []))

    async def versions(**query: Any) -> list[int]:
        found = await log.list_entries(stream.key, **query)
        return [e.version for e in found]

    assert await versions(after_version=0, limit=2) == [1, 2]
    assert await versions(after_version=2, limit=10) == [3, 4]
    assert await versions(after_version=0, limit=10, event_types=["PointsRedeemed"]) == [2]
    window = {"start_time": T0 + timedelta(hours=1), "end_time": T0 + timedelta(hours=3)}
    assert await versions(after_version=0, limit=10, **window) == [2, 3]
    assert await versions(after_version=0, limit=10, event_types=["Nothing"]) == []


async def test_the_balance_as_of_a_time_is_the_one_stored_on_the_last_event_then(
    log: EventLog,
) -> None:
    stream = Stream(unique("p"), "member-1")
    events = [
        stream.event(at=T0, available=10),
        stream.event(at=T0 + timedelta(days=1), available=25),
    ]
    await log.append(Commit(events, [stream.write()], []))

    assert await log.balance_as_of(stream.key, T0 - timedelta(seconds=1)) is None
    assert await log.balance_as_of(stream.key, T0) == (1, Balances(available=10))
    assert await log.balance_as_of(stream.key, T0 + timedelta(hours=23)) == (
        1,
        Balances(available=10),
    )
    assert await log.balance_as_of(stream.key, T0 + timedelta(days=9)) == (
        2,
        Balances(available=25),
    )


async def test_a_stream_row_keeps_its_first_write_time_and_moves_its_last(log: EventLog) -> None:
    stream = Stream(unique("p"), "member-1")
    later = T0 + timedelta(days=3)
    await log.append(Commit([stream.event()], [stream.write(at=T0)], []))
    await log.append(Commit([stream.event()], [stream.write(at=later, state={"n": 2})], []))

    row = await log.get_stream(stream.key)

    assert row is not None
    assert (row.version, row.state, row.created_at, row.updated_at) == (2, {"n": 2}, T0, later)
    assert await log.get_stream((stream.key[0], "nobody")) is None


async def test_streams_come_due_oldest_first_until_their_next_write_clears_them(
    log: EventLog,
) -> None:
    program_id = unique("p")
    soon, later, never = (
        Stream(program_id, "soon"),
        Stream(program_id, "later"),
        Stream(program_id, "never"),
    )
    await log.append(
        Commit(
            [soon.event(), later.event(), never.event()],
            [
                soon.write(due=T0 + timedelta(hours=1)),
                later.write(due=T0 + timedelta(hours=2)),
                never.write(),
            ],
            [],
        )
    )

    async def due(at: datetime) -> list[str]:
        keys = await log.due_streams(at, 1_000)
        return [key[1] for key in keys if key[0] == program_id]

    assert await due(T0) == []
    assert await due(T0 + timedelta(hours=3)) == ["soon", "later"]
    await log.append(Commit([soon.event()], [soon.write()], []))
    assert await due(T0 + timedelta(hours=3)) == ["later"]


async def test_an_orders_events_load_in_version_order_and_no_other_orders(log: EventLog) -> None:
    stream = Stream(unique("p"), "member-1")
    events = [
        stream.event("PurchaseRecorded", order_id="o-1", points=10),
        stream.event("PurchaseRecorded", order_id="o-2", points=20),
        stream.event("PointsEarned", points=5),
        stream.event("PurchaseRefunded", order_id="o-1", points=3),
    ]
    await log.append(Commit(events, [stream.write()], []))
    o1, o9 = (stream.key, "o-1"), (stream.key, "o-9")

    loaded = await log.load([], [], [o1, o9])

    assert [(e.version, e.event_type) for e in loaded.orders[o1]] == [
        (1, "PurchaseRecorded"),
        (4, "PurchaseRefunded"),
    ]
    assert loaded.orders[o9] == []


async def test_a_second_record_of_an_order_fails_the_commit_whole(log: EventLog) -> None:
    """The ledger takes a purchase's order as new without reading it; the log is what
    refuses a second PurchaseRecorded of one order, in a later commit or the same one."""
    program_id = unique("p")
    stream, other = Stream(program_id, "member-1"), Stream(program_id, "member-2")
    await log.append(
        Commit([stream.event("PurchaseRecorded", order_id="o-1")], [stream.write()], [])
    )

    with pytest.raises(Conflict):
        await log.append(
            Commit(
                [other.event(), stream.event("PurchaseRecorded", order_id="o-1")],
                [other.write(), stream.write()],
                [answer(stream, "r-again")],
            )
        )
    twice = Stream(program_id, "member-3")
    with pytest.raises(Conflict):
        await log.append(
            Commit(
                [
                    twice.event("PurchaseRecorded", order_id="o-1"),
                    twice.event("PurchaseRecorded", order_id="o-1"),
                ],
                [twice.write()],
                [],
            )
        )

    assert [(e.stream_id, e.version) for e in await _all_of(log, program_id)] == [("member-1", 1)]
    # Other events of the order, and the same order id in another stream, are not refused.
    refund = Stream(program_id, "member-1")
    refund.version = 1
    elsewhere = Stream(program_id, "member-2")
    await log.append(
        Commit(
            [
                refund.event("PurchaseRefunded", order_id="o-1"),
                elsewhere.event("PurchaseRecorded", order_id="o-1"),
            ],
            [refund.write(), elsewhere.write()],
            [],
        )
    )
    assert len(await _all_of(log, program_id)) == 3


async def test_what_a_caller_holds_is_a_copy_of_what_is_stored(log: EventLog) -> None:
    stream = Stream(unique("p"), "member-1")
    state = {"lots": [1, 2]}
    await log.append(Commit([stream.event()], [stream.write(state=state)], []))
    state["lots"].append(3)

    first = await log.get_stream(stream.key)
    assert first is not None and first.state == {"lots": [1, 2]}
    first.state["lots"].append(4)
    again = await log.get_stream(stream.key)
    assert again is not None and again.state == {"lots": [1, 2]}


async def test_a_call_whose_deadline_has_passed_fails_with_a_timeout(log: EventLog) -> None:
    stream = Stream(unique("p"), "member-1")

    with pytest.raises(StoreTimeout):
        await log.get_stream(stream.key, deadline=time.monotonic() - 1)
    with pytest.raises(StoreTimeout):
        await log.append(
            Commit([stream.event()], [stream.write()], []), deadline=time.monotonic() - 1
        )
    await log.ping()


async def test_a_migrated_log_has_every_migration_its_code_needs(log: EventLog) -> None:
    status = await log.schema_status()

    assert status.current
    assert (status.missing, status.unknown) == ([], [])
    with pytest.raises(StoreTimeout):
        await log.schema_status(deadline=time.monotonic() - 1)


# --- members: the erasable link from member ids to keys ----------------------------------------


async def test_a_member_id_links_once_and_looks_up_both_ways(log: EventLog) -> None:
    program_id = unique("p")

    first = await log.link_members(program_id, {"jane@example.com": "~key-a", "bob": "~key-b"})
    again = await log.link_members(program_id, {"jane@example.com": "~key-c"})

    assert first == {"jane@example.com": "~key-a", "bob": "~key-b"}
    assert again == {"jane@example.com": "~key-a"}, "a linked id keeps its first key"
    assert await log.member_keys(program_id, ["bob", "nobody"]) == {"bob": "~key-b"}
    assert await log.member_keys(unique("p"), ["bob"]) == {}
    assert await log.member_ids([(program_id, "~key-a"), (program_id, "~key-z")]) == {
        (program_id, "~key-a"): "jane@example.com"
    }


async def test_a_key_taken_by_another_id_is_not_given_twice(log: EventLog) -> None:
    program_id = unique("p")
    await log.link_members(program_id, {"first": "~same"})

    assert await log.link_members(program_id, {"second": "~same"}) == {}
    assert await log.member_keys(program_id, ["second"]) == {}


async def test_an_erasure_deletes_the_link_and_the_answers_of_its_stream_only(
    log: EventLog,
) -> None:
    program_id = unique("p")
    await log.link_members(program_id, {"jane": "~jane", "bob": "~bob"})
    jane, bob = Stream(program_id, "~jane"), Stream(program_id, "~bob")
    await log.append(
        Commit(
            [jane.event(), bob.event()],
            [jane.write(), bob.write()],
            [answer(jane, "r-jane"), answer(bob, "r-bob")],
        )
    )

    await log.append(Commit([jane.event("MemberForgotten")], [jane.write()], [], (jane.key,)))

    assert await log.member_keys(program_id, ["jane", "bob"]) == {"bob": "~bob"}
    loaded = await log.load([jane.key], [(*jane.key, "r-jane"), (*bob.key, "r-bob")])
    assert list(loaded.requests) == [(*bob.key, "r-bob")]
    assert loaded.streams[jane.key].version == 2, "the stream itself stays"


async def test_an_erasure_whose_append_conflicts_erases_nothing(log: EventLog) -> None:
    program_id = unique("p")
    await log.link_members(program_id, {"jane": "~jane"})
    jane = Stream(program_id, "~jane")
    await log.append(Commit([jane.event()], [jane.write()], [answer(jane, "r-1")]))
    stale = Stream(program_id, "~jane")

    with pytest.raises(Conflict):
        await log.append(Commit([stale.event("MemberForgotten")], [stale.write()], [], (jane.key,)))

    assert await log.member_keys(program_id, ["jane"]) == {"jane": "~jane"}
    loaded = await log.load([], [(*jane.key, "r-1")])
    assert list(loaded.requests) == [(*jane.key, "r-1")]


async def test_stored_answers_expire_once_old_enough_a_bounded_number_at_a_time(
    log: EventLog,
) -> None:
    stream = Stream(unique("p"), "~member")
    written = [
        RequestWrite(*stream.key, f"r-{day}", bytes(32), {"day": day}, T0 + timedelta(days=day))
        for day in range(4)
    ]
    await log.append(Commit([stream.event()], [stream.write()], written))
    keys = [(*stream.key, f"r-{day}") for day in range(4)]
    # Other tests' answers (on PostgreSQL) are far older or newer than these: T0 is 2026-03-01
    # and the bounds are a day apart.
    cut = T0 + timedelta(days=2, hours=1)

    first = await log.expire_answers(cut, 1)
    after_first = set((await log.load([], keys)).requests)
    await log.expire_answers(cut, 1_000)

    assert first == 1 and (*stream.key, "r-3") in after_first
    assert set((await log.load([], keys)).requests) == {(*stream.key, "r-3")}


async def test_a_link_no_stream_followed_is_a_stray_once_old_enough(log: EventLog) -> None:
    program_id = unique("p")
    await log.link_members(program_id, {"enrolled": "~enrolled", "stray": "~stray"})
    enrolled = Stream(program_id, "~enrolled")
    await log.append(Commit([enrolled.event()], [enrolled.write()], []))
    now = datetime.now(UTC)

    assert await log.unlink_strays(now - timedelta(hours=1), now - timedelta(days=7), 100) == 0
    deleted = await log.unlink_strays(now + timedelta(minutes=1), now - timedelta(hours=1), 100)

    assert deleted >= 1
    assert await log.member_keys(program_id, ["enrolled", "stray"]) == {"enrolled": "~enrolled"}
