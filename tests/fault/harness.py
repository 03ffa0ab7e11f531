"""What the fault tests share: clients that retry like storefronts do, and the final checks.

A client owns one account and sends its requests one after another, each with a fresh
request_id that it keeps for every retry of that request. Because it is the only writer of
its account, it knows what every acknowledged response must show (available points and
stream version) and what the account must hold at the end. After the faults, `verify_ledger`
checks what a user would notice: every acknowledged request stored exactly once, nothing
stored twice or unasked, the balances the clients computed equal GetAccount's, and the
audit replay of the whole log agrees with the stored state.
"""

import asyncio
import functools
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ledger.audit.replay import replay
from ledger.domain.account import Balances
from loyalty.v1 import ledger_pb2 as pb

if TYPE_CHECKING:
    from loyalty.v1.ledger_pb2_grpc import LedgerServiceAsyncStub

T = TypeVar("T")

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
"""What a caller retries with the same request_id (connection errors arrive as UNAVAILABLE)."""
ATTEMPT_TIMEOUT_SECONDS = 8.0
"""Deadline of one attempt: longer than the service's wait for a database connection, so a
write during an outage is answered (UNAVAILABLE) rather than cut by the client."""
MAX_ATTEMPTS = 60
REQUEST_BUDGET_SECONDS = 45.0
"""A request is given up (and the test fails) after this many attempts or seconds."""
BACKOFF_FIRST_SECONDS = 0.02
BACKOFF_MAX_SECONDS = 0.5

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

CHANNEL_OPTIONS = [
    # Reconnect quickly once the server is back (gRPC's default back-off grows to minutes).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]


def open_channel(target: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)


@dataclass
class Tally:
    """Every attempt's outcome, by status code name ("OK" for success)."""

    codes: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    retries: int = 0

    def summary(self) -> str:
        return " ".join(f"{code}={count}" for code, count in sorted(self.codes.items()))


class GaveUp(Exception):
    """A request was not acknowledged within its bounds."""


@dataclass
class Acknowledged(Generic[T]):
    response: T
    attempts: int
    first_failure: float | None
    """Wall-clock time (epoch seconds) the first failed attempt failed, if any failed."""


async def call_with_retries(tally: Tally, send: Callable[[], Awaitable[T]]) -> Acknowledged[T]:
    """Sends until acknowledged, retrying only RETRYABLE codes, within the bounds above."""
    started = time.monotonic()
    first_failure: float | None = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        tally.attempts += 1
        try:
            response = await send()
        except grpc.aio.AioRpcError as error:
            code = error.code()
            tally.codes[code.name] += 1
            if first_failure is None:
                first_failure = time.time()
            out_of_budget = time.monotonic() - started > REQUEST_BUDGET_SECONDS
            if code not in RETRYABLE or attempt == MAX_ATTEMPTS or out_of_budget:
                raise GaveUp(f"attempt {attempt}: {code.name} {error.details()}") from error
            tally.retries += 1
            pause = min(BACKOFF_FIRST_SECONDS * 2**attempt, BACKOFF_MAX_SECONDS)
            await asyncio.sleep(pause * random.uniform(0.5, 1.0))
            continue
        tally.codes["OK"] += 1
        return Acknowledged(response, attempt, first_failure)
    raise AssertionError("unreachable: the last attempt returns or raises")


def new_request_id() -> str:
    return str(uuid.uuid4())


@dataclass
class AccountClient:
    """The only writer of one account; knows what each response and the end state must be."""

    program_id: str
    member_id: str
    rng: random.Random
    version: int
    available: int = 0
    earned: int = 0
    redeemed: int = 0
    sent: int = 0
    retried_requests: int = 0
    acked: list[str] = field(default_factory=list)
    first_failures: dict[str, float] = field(default_factory=dict)
    """Request id -> when its first attempt failed, for requests that needed a retry."""
    mismatches: list[str] = field(default_factory=list)

    @property
    def account(self) -> str:
        return f"programs/{self.program_id}/accounts/{self.member_id}"

    async def run(
        self,
        stub: "LedgerServiceAsyncStub",
        tally: Tally,
        requests: int,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        for _ in range(requests):
            if pace is not None:
                await pace()
            await self.send_one(stub, tally)

    async def send_one(self, stub: "LedgerServiceAsyncStub", tally: Tally) -> None:
        request_id = new_request_id()
        self.sent += 1
        if self.available >= 10 and self.rng.random() < 0.4:
            points = self.rng.randint(1, min(self.available, 60))
            redeem = pb.RedeemPointsRequest(
                request_id=request_id, account=self.account, points=points, reference="till"
            )
            redeemed = await call_with_retries(
                tally, lambda: stub.RedeemPoints(redeem, timeout=ATTEMPT_TIMEOUT_SECONDS)
            )
            account, first_failure = redeemed.response.account, redeemed.first_failure
            self.available -= points
            self.redeemed += points
        else:
            points = self.rng.randint(1, 100)
            earn = pb.EarnPointsRequest(
                request_id=request_id, account=self.account, points=points, reason="bonus"
            )
            earned = await call_with_retries(
                tally, lambda: stub.EarnPoints(earn, timeout=ATTEMPT_TIMEOUT_SECONDS)
            )
            account, first_failure = earned.response.account, earned.first_failure
            self.available += points
            self.earned += points
        self.version += 1
        self.acked.append(request_id)
        if first_failure is not None:
            self.retried_requests += 1
            self.first_failures[request_id] = first_failure
        shown = (account.balances.available, account.version)
        if shown != (self.available, self.version):
            self.mismatches.append(
                f"{request_id}: response shows (available, version) {shown},"
                f" expected {(self.available, self.version)}"
            )


@dataclass
class Setup:
    program_id: str
    clients: list[AccountClient]
    acked: list[str]
    """Request ids of the program's creation and the enrolments (acknowledged too)."""


async def create_program_and_members(
    stub: "LedgerServiceAsyncStub", tally: Tally, members: int, seed: int
) -> Setup:
    program_id = f"fault-{uuid.uuid4().hex[:10]}"
    create = pb.CreateProgramRequest(
        request_id=new_request_id(),
        program_id=program_id,
        program=pb.Program(
            display_name="fault injection",
            earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)],
        ),
    )
    await call_with_retries(tally, lambda: stub.CreateProgram(create, timeout=10))
    acked = [create.request_id]
    clients = []
    for index in range(members):
        enroll = pb.EnrollMemberRequest(
            request_id=new_request_id(),
            parent=f"programs/{program_id}",
            member_id=f"member-{index:03d}",
        )
        enrolled = (
            await call_with_retries(tally, functools.partial(stub.EnrollMember, enroll, timeout=10))
        ).response
        acked.append(enroll.request_id)
        clients.append(
            AccountClient(
                program_id,
                enroll.member_id,
                random.Random(f"{seed}/{index}"),
                version=enrolled.account.version,
                available=enrolled.account.balances.available,
                earned=enrolled.account.balances.lifetime_earned,
            )
        )
    return Setup(program_id, clients, acked)


def acked_count(clients: Sequence[AccountClient]) -> int:
    return sum(len(client.acked) for client in clients)


def burst_reached(clients: Sequence[AccountClient], acknowledged: float) -> Callable[[], bool]:
    """True once the clients have that many requests acknowledged between them."""
    return lambda: acked_count(clients) >= acknowledged


async def wait_until(condition: Callable[[], bool], within_seconds: float, what: str) -> None:
    """Polls every 5 ms; fails the test after `within_seconds`."""
    deadline = time.monotonic() + within_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_seconds} s waiting for {what}")
        await asyncio.sleep(0.005)


async def health_status(channel: grpc.aio.Channel) -> int | None:
    """The overall health (service ""), or None if the server does not answer."""
    try:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=1.0
        )
    except grpc.aio.AioRpcError:
        return None
    return int(response.status)


async def wait_for_health(channel: grpc.aio.Channel, status: int, within_seconds: float) -> float:
    """Seconds until health reports `status`; fails after `within_seconds`."""
    started = time.monotonic()
    while (await health_status(channel)) != status:
        if time.monotonic() - started > within_seconds:
            name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
            raise AssertionError(f"health did not report {name} within {within_seconds} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def finish(tasks: Sequence["asyncio.Task[None]"], within_seconds: float) -> None:
    """Waits for the client tasks (bounded), then raises the first failure, if any."""
    done, pending = await asyncio.wait(tasks, timeout=within_seconds)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    assert not pending, f"{len(pending)} clients still running after {within_seconds} s"
    for task in done:
        task.result()


async def cancel(tasks: Sequence["asyncio.Task[None]"]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- the checks ---------------------------------------------------------------------------


def _events_per_request(url: str, program_id: str) -> Counter[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT metadata->>'request_id', count(*) FROM ledger.events"
            " WHERE program_id = %s GROUP BY 1",
            [program_id],
        ).fetchall()
    return Counter({str(request_id): int(count) for request_id, count in rows})


def _recorded_at(url: str, program_id: str, request_ids: list[str]) -> dict[str, float]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT metadata->>'request_id', recorded_at FROM ledger.events"
            " WHERE program_id = %s AND metadata->>'request_id' = ANY(%s)",
            [program_id, request_ids],
        ).fetchall()
    return {str(request_id): recorded_at.timestamp() for request_id, recorded_at in rows}


def _stored_balances(url: str, program_id: str) -> dict[tuple[str, str], Balances]:
    """The state rows' balances by stream key (program id, member key)."""
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT program_id, stream_id, points_available, points_pending, points_held,"
            " points_lifetime_earned, points_lifetime_redeemed, points_expired"
            " FROM ledger.streams WHERE program_id = %s AND stream_id <> '$program'",
            [program_id],
        ).fetchall()
    return {(row[0], row[1]): Balances(*row[2:8]) for row in rows}


def _member_keys(url: str, program_id: str) -> dict[str, str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT member_id, member_key FROM ledger.members WHERE program_id = %s",
            [program_id],
        ).fetchall()
    return {str(row[0]): str(row[1]) for row in rows}


@dataclass
class Verified:
    events: int
    requests_acked: int
    committed_before_failure: int
    """Retried requests whose stored event was decided before their first attempt failed:
    the write committed but its reply was lost, and the retry got the original answer."""


async def verify_ledger(
    url: str,
    stub: "LedgerServiceAsyncStub",
    tally: Tally,
    setup: Setup,
    extra_acked: Sequence[str] = (),
) -> Verified:
    """Fails the test on any lost, doubled or unasked write and any balance disagreement."""
    clients = setup.clients
    mismatches = [line for client in clients for line in client.mismatches]
    assert not mismatches, f"responses disagreed with the clients' own books: {mismatches[:5]}"

    counts = await asyncio.to_thread(_events_per_request, url, setup.program_id)
    acked = [*setup.acked, *extra_acked, *(rid for client in clients for rid in client.acked)]
    assert len(set(acked)) == len(acked)
    doubled = {rid: count for rid, count in counts.items() if count > 1}
    assert not doubled, f"requests stored more than once: {list(doubled.items())[:5]}"
    lost = [rid for rid in acked if counts.get(rid) != 1]
    assert not lost, f"{len(lost)} acknowledged requests not stored: {lost[:5]}"
    unasked = set(counts) - set(acked)
    assert not unasked, f"events stored for requests nobody had acknowledged: {sorted(unasked)[:5]}"

    stored = await asyncio.to_thread(_stored_balances, url, setup.program_id)
    keys = await asyncio.to_thread(_member_keys, url, setup.program_id)
    for client in clients:
        read = await call_with_retries(
            tally,
            functools.partial(
                stub.GetAccount, pb.GetAccountRequest(name=client.account), timeout=10
            ),
        )
        account = read.response.account
        balances = account.balances
        shown = (
            balances.available,
            balances.lifetime_earned,
            balances.lifetime_redeemed,
            account.version,
        )
        expected = (client.available, client.earned, client.redeemed, client.version)
        assert shown == expected, f"{client.account}: GetAccount {shown}, clients' {expected}"
        state = stored[(setup.program_id, keys[client.member_id])]
        assert (state.available, state.lifetime_earned, state.lifetime_redeemed) == shown[:3]

    audit = await asyncio.to_thread(replay, url, setup.program_id, keep_balances=True)
    assert audit.ok, f"replay found {audit.discrepancy_count}: {audit.discrepancies[:5]}"
    assert audit.final_balances == stored, "replayed balances differ from the stored state"
    assert audit.events == sum(counts.values())
    first_failures = {rid: at for client in clients for rid, at in client.first_failures.items()}
    recorded = await asyncio.to_thread(_recorded_at, url, setup.program_id, list(first_failures))
    committed_before_failure = sum(
        1 for rid, failed_at in first_failures.items() if recorded[rid] < failed_at
    )
    return Verified(audit.events, len(acked), committed_before_failure)
