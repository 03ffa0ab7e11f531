"""StreamEvents subscribers as other services run them: a call read in a task of its own."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import grpc

from loyalty.v1 import ledger_pb2 as pb

if TYPE_CHECKING:
    from ledger.application import Ledger
    from loyalty.v1.ledger_pb2_grpc import LedgerServiceAsyncStub


class Subscriber:
    """Reads one StreamEvents call into `received` until it ends, fails or is stopped."""

    def __init__(
        self,
        stub: "LedgerServiceAsyncStub",
        request: pb.StreamEventsRequest,
        metadata: tuple[tuple[str, str], ...] | None = None,
    ) -> None:
        self.received: list[pb.StreamEventsResponse] = []
        self.error: grpc.aio.AioRpcError | None = None
        self.ended = asyncio.Event()
        self._call = stub.StreamEvents(request, metadata=metadata)
        self._task = asyncio.create_task(self._read())

    @property
    def event_ids(self) -> list[str]:
        return [response.entry.event_id for response in self.received]

    async def _read(self) -> None:
        try:
            async for response in self._call:
                self.received.append(response)
        except grpc.aio.AioRpcError as error:
            self.error = error
        finally:
            self.ended.set()

    async def wait_for(self, count: int, within_seconds: float) -> None:
        deadline = time.monotonic() + within_seconds
        while len(self.received) < count and not self.ended.is_set():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.received)} of {count} events after {within_seconds} s"
                )
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@asynccontextmanager
async def subscribers(
    stub: "LedgerServiceAsyncStub",
    request: pb.StreamEventsRequest,
    count: int,
    metadata: tuple[tuple[str, str], ...] | None = None,
) -> AsyncIterator[list[Subscriber]]:
    started = [Subscriber(stub, request, metadata) for _ in range(count)]
    try:
        yield started
    finally:
        for subscriber in started:
            await subscriber.stop()


async def stream_all(
    stub: "LedgerServiceAsyncStub", program: str = "", after_position: str = ""
) -> list[pb.StreamEventsResponse]:
    """Everything readers can see now (catch_up_only)."""
    call = stub.StreamEvents(
        pb.StreamEventsRequest(program=program, after_position=after_position, catch_up_only=True)
    )
    return [response async for response in call]


async def settled(ledger: "Ledger", within_seconds: float = 10.0) -> None:
    """Waits until readers of the global order can see every committed event.

    An acknowledged write stays out of their sight while a transaction that began before it
    still runs (README, "Read horizon"), such as a projection runner's page woken by the
    write before it; a catch-up read taken as "everything so far" waits for this first.
    """
    deadline = time.monotonic() + within_seconds
    while (horizon := await ledger.read_horizon()).hidden_events:
        if time.monotonic() > deadline:
            raise AssertionError(f"events still hidden after {within_seconds} s: {horizon}")
        await asyncio.sleep(0.02)


async def wait_until(condition: Callable[[], bool], within_seconds: float, what: str) -> None:
    deadline = time.monotonic() + within_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_seconds} s: {what}")
        await asyncio.sleep(0.01)
