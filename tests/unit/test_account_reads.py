"""GetAccount's gathered reads answer exactly what one read per call would, share round trips
when calls overlap, hand a failed read's error to each of its callers, and survive a caller
that gives up."""

import asyncio
from datetime import UTC, datetime

import pytest

from ledger.account_reads import BatchedAccountReads, Found
from ledger.domain.stages import Stage
from ledger.eventlog.errors import StoreUnavailable
from ledger.eventlog.records import StreamRow
from ledger.projections.stage_view import MemberStageRow, StreamKey

T0 = datetime(2026, 3, 1, tzinfo=UTC)
STORED: dict[StreamKey, Found] = {
    ("p", f"~{n}"): (
        StreamRow("p", f"~{n}", n, b"\0" * 32, {"n": n}, T0, T0),
        MemberStageRow(f"~{n}", Stage.COGNITIVE, T0) if n % 2 else None,
    )
    for n in range(1, 50)
}


class Store:
    """One read per call of `read`, answered from STORED after a pause, as a round trip."""

    def __init__(self, fail: bool = False) -> None:
        self.reads: list[list[StreamKey]] = []
        self.fail = fail

    async def read(self, keys: list[StreamKey]) -> dict[StreamKey, Found]:
        self.reads.append(keys)
        await asyncio.sleep(0.001)
        if self.fail:
            raise StoreUnavailable("the database is unavailable")
        return {key: STORED[key] for key in keys if key in STORED}


async def test_overlapping_calls_share_reads_and_get_what_their_own_read_would() -> None:
    store = Store()
    reads = BatchedAccountReads(store.read)
    keys = [("p", f"~{n}") for n in (*range(1, 60), 3, 3)]

    answers = await asyncio.gather(*(reads.get(key) for key in keys))

    assert answers == [STORED.get(key) for key in keys]
    assert len(store.reads) < len(keys) / 10
    assert sum(len(batch) for batch in store.reads) == len(set(keys))


async def test_a_lone_call_is_read_at_once_alone() -> None:
    store = Store()
    reads = BatchedAccountReads(store.read)

    assert await reads.get(("p", "~7")) == STORED[("p", "~7")]
    assert await reads.get(("p", "~404")) is None
    assert store.reads == [[("p", "~7")], [("p", "~404")]]


async def test_no_read_covers_more_keys_than_its_limit() -> None:
    store = Store()
    reads = BatchedAccountReads(store.read, max_keys=4)

    await asyncio.gather(*(reads.get(("p", f"~{n}")) for n in range(1, 20)))

    assert max(len(batch) for batch in store.reads) == 4


async def test_a_failed_read_fails_each_of_its_callers_and_the_next_read_goes_on() -> None:
    store = Store(fail=True)
    reads = BatchedAccountReads(store.read)

    results = await asyncio.gather(
        *(reads.get(("p", f"~{n}")) for n in range(1, 5)), return_exceptions=True
    )
    store.fail = False

    assert all(isinstance(result, StoreUnavailable) for result in results)
    assert await reads.get(("p", "~1")) == STORED[("p", "~1")]


async def test_a_caller_that_gives_up_leaves_the_others_answered() -> None:
    store = Store()
    reads = BatchedAccountReads(store.read)
    impatient = asyncio.ensure_future(reads.get(("p", "~1")))
    patient = asyncio.ensure_future(reads.get(("p", "~1")))
    await asyncio.sleep(0)

    impatient.cancel()

    assert await patient == STORED[("p", "~1")]
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_a_read_whose_callers_all_gave_up_is_stopped() -> None:
    started, stopped = asyncio.Event(), asyncio.Event()

    async def slow(keys: list[StreamKey]) -> dict[StreamKey, Found]:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()
        return {}

    reads = BatchedAccountReads(slow)
    caller = asyncio.ensure_future(reads.get(("p", "~1")))
    await started.wait()

    caller.cancel()

    await asyncio.wait_for(stopped.wait(), 5)
