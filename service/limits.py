"""Limits that keep health and reads answering whatever one client does.

Calls are admitted in separate pools: reads (RPCs of the `read` scope), writes (every other
unary RPC) and streams (StreamEvents, limited by the feed and by service/auth.py's per-caller
cap). Health and reflection are in no pool, and the server's own concurrent-call limit is the
sum of the pools plus room for them, so no flood of writes or streams can take a probe's room.
Within the pools each authenticated caller has its own limits (README "Limits"): calls in
flight at once, and a rate (a token bucket: `rate_per_second` on average, `burst` at once).
Beyond any of them a call is refused at once, RESOURCE_EXHAUSTED with a RetryInfo, rather
than queued: a queue would make every caller wait for the one that floods.
"""

import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from ledger.domain.errors import LedgerError
from service.errors import LimitExceeded, to_status

DEFAULT_RATE_PER_SECOND = 10_000.0
"""A caller's calls per second on average, per server process, unless its entry says."""
DEFAULT_BURST = 20_000
"""Calls a caller may make at once after a quiet spell, unless its entry says."""
DEFAULT_MAX_CONCURRENT_CALLS = 200
"""A caller's unary calls in flight at once, per server process, unless its entry says."""
CONCURRENCY_RETRY_SECONDS = 0.05
"""A call refused for the calls in flight: a slot frees up as soon as one of them ends."""
HEALTH_ROOM = 100
"""Calls in flight beyond the pools, for health checks and reflection."""


@dataclass(frozen=True)
class CallerLimits:
    """One caller's limits, from its entry in the callers file."""

    rate_per_second: float = DEFAULT_RATE_PER_SECOND
    burst: int = DEFAULT_BURST
    max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS


@dataclass
class _Bucket:
    tokens: float
    filled_at: float


_CALLER: contextvars.ContextVar[tuple[str, CallerLimits]] = contextvars.ContextVar("caller")


def set_caller(name: str, limits: CallerLimits) -> None:
    """Called by authentication once it knows who calls (the limits then apply to them)."""
    _CALLER.set((name, limits))


class Admission:
    """The counters behind the limits: shared by every call of one server."""

    def __init__(
        self,
        max_reads: int,
        max_writes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._most = {"read": max_reads, "write": max_writes}
        self._in_flight = {"read": 0, "write": 0}
        self._by_caller: dict[str, int] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._clock = clock

    def enter(self, pool: str, caller: tuple[str, CallerLimits] | None) -> None:
        """Takes a place in `pool` (and in the caller's share); LimitExceeded when there is
        none. Every enter that returns is followed by one leave."""
        held = 0
        if caller is not None:
            name, limits = caller
            self._take_token(name, limits)
            held = self._by_caller.get(name, 0)
            # The caller's own limit first: told it is its own doing, it backs off.
            if held >= limits.max_concurrent_calls:
                raise LimitExceeded(
                    f"{name} has {limits.max_concurrent_calls} calls in flight, its most",
                    reason="TOO_MANY_CALLS_FOR_CALLER",
                    retry_after_seconds=CONCURRENCY_RETRY_SECONDS,
                    caller=name,
                )
        if self._in_flight[pool] >= self._most[pool]:
            raise LimitExceeded(
                f"the server has {self._most[pool]} {pool}s in flight, its most",
                reason="SERVER_READS_BUSY" if pool == "read" else "SERVER_WRITES_BUSY",
                retry_after_seconds=CONCURRENCY_RETRY_SECONDS,
            )
        if caller is not None:
            self._by_caller[caller[0]] = held + 1
        self._in_flight[pool] += 1

    def leave(self, pool: str, caller: tuple[str, CallerLimits] | None) -> None:
        self._in_flight[pool] -= 1
        if caller is not None:
            left = self._by_caller[caller[0]] - 1
            if left:
                self._by_caller[caller[0]] = left
            else:
                del self._by_caller[caller[0]]

    def in_flight(self, pool: str) -> int:
        """Calls of `pool` running now."""
        return self._in_flight[pool]

    def _take_token(self, name: str, limits: CallerLimits) -> None:
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket(float(limits.burst), now)
        else:
            bucket.tokens = min(
                float(limits.burst),
                bucket.tokens + (now - bucket.filled_at) * limits.rate_per_second,
            )
            bucket.filled_at = now
        if bucket.tokens < 1.0:
            raise LimitExceeded(
                f"{name} is over its rate of {limits.rate_per_second:g} calls per second",
                reason="CALLER_RATE_EXCEEDED",
                retry_after_seconds=(1.0 - bucket.tokens) / limits.rate_per_second,
                caller=name,
            )
        bucket.tokens -= 1.0


class Limits:
    """Runs each unary call of LedgerService and of the Operations service of its long-running
    operations inside its pool. The wrapper is the handler's own, made once at start-up
    (service/decoding.py), rather than a server interceptor, which every call of the server,
    health included, would pass through to find it. It runs inside authentication's wrapper,
    so the caller is known (with authentication off only the pools apply)."""

    def __init__(self, admission: Admission, read_methods: frozenset[str]) -> None:
        self._admission = admission
        self._read_methods = read_methods

    def around(
        self, method: str, behaviour: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        """`behaviour`, the unary handler of `method`, admitted to the method's pool."""
        pool = "read" if method in self._read_methods else "write"
        enter, leave = self._admission.enter, self._admission.leave

        async def admitted(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            caller = _CALLER.get(None)
            try:
                enter(pool, caller)
            except LedgerError as error:
                await context.abort_with_status(to_status(error))
                raise AssertionError("abort always raises") from None
            try:
                return await behaviour(request, context)
            finally:
                leave(pool, caller)

        return admitted
