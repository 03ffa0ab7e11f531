"""GetAccount's reads, gathered: the calls that arrive while one read is in flight are answered
together by the next, one round trip for all of them.

A storefront asks for the member's account on every page, from many callers at once. Each
call read alone costs a round trip and a query's worth of driver work; gathered, the calls
that queue behind a read in flight share the next one (no waiting is added: a call that finds
no read in flight starts one at once). Each call's read still starts after the call arrived,
so it sees every write acknowledged before the call was made. A read whose callers all gave
up (their deadlines passed) is cancelled, so no query outlives its callers.
BatchedAccountReads answers exactly what one read per call would
(tests/unit/test_account_reads.py holds it to that).
"""

import asyncio
from collections.abc import Awaitable, Callable

from ledger.eventlog.records import StreamRow
from ledger.projections.stage_view import MAX_ACCOUNTS_PER_READ, MemberStageRow, StreamKey

Found = tuple[StreamRow, MemberStageRow | None]
Read = Callable[[list[StreamKey]], Awaitable[dict[StreamKey, Found]]]


class BatchedAccountReads:
    def __init__(self, read: Read, max_keys: int = MAX_ACCOUNTS_PER_READ) -> None:
        assert 1 <= max_keys <= MAX_ACCOUNTS_PER_READ
        self._read = read
        self._max_keys = max_keys
        self._waiting: dict[StreamKey, list[asyncio.Future[Found | None]]] = {}
        self._reading: asyncio.Task[None] | None = None
        self._batch: dict[StreamKey, list[asyncio.Future[Found | None]]] = {}
        self._in_flight: asyncio.Future[dict[StreamKey, Found]] | None = None
        self.reads = 0
        """Round trips made (for tests and figures)."""

    async def get(self, key: StreamKey) -> Found | None:
        """The account's state row and stage row, None when there is no such stream."""
        future: asyncio.Future[Found | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._reading is None:
            self._reading = asyncio.create_task(self._read_while_waiting())
        try:
            return await future
        finally:
            if future.cancelled():
                self._abandoned()

    def _abandoned(self) -> None:
        """A caller gave up: if every caller of the read in flight has, the read stops."""
        callers = (future for futures in self._batch.values() for future in futures)
        if self._in_flight is not None and all(future.done() for future in callers):
            self._in_flight.cancel()

    async def _read_while_waiting(self) -> None:
        batch: dict[StreamKey, list[asyncio.Future[Found | None]]] = {}
        try:
            while self._waiting:
                keys = list(self._waiting)[: self._max_keys]
                batch = {key: self._waiting.pop(key) for key in keys}
                self.reads += 1
                self._batch = batch
                self._in_flight = asyncio.ensure_future(self._read(keys))
                try:
                    found = await self._in_flight
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise  # this task is cancelled (shutdown), not only the read
                    continue  # every caller of the read gave up
                except Exception as error:  # every waiter gets the read's own error
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(error)
                    continue
                for key, futures in batch.items():
                    for future in futures:
                        if not future.done():  # a caller that gave up has cancelled it
                            future.set_result(found.get(key))
        finally:
            self._reading = None
            self._in_flight = None
            self._batch = {}
            # Only when this task is cancelled (shutdown) can callers still wait: release them.
            for futures in [*self._waiting.values(), *batch.values()]:
                for future in futures:
                    future.cancel()
            self._waiting.clear()
