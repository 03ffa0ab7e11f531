"""Limits that protect the service, through the real server with real tokens: one caller
flooding writes, or over its rate, is refused RESOURCE_EXHAUSTED with a RetryInfo, while health
and another caller's reads still answer; and a request with several bad fields names them all.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import psycopg
import pytest
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.callers import token_hash
from service.config import Settings
from service.limits import Admission
from service.server import RunningServer, start_server
from tests.conftest import FakeClock, request_id, unique
from tests.e2e.errors import failure, rich_status
from tests.e2e.streams import wait_until

if TYPE_CHECKING:
    from loyalty.v1.ledger_pb2_grpc import LedgerServiceAsyncStub

FLOOD = "flood-token-0123456789"
POS = "pos-token-0123456789"
READER = "reader-token-0123456789"
SLOW = "slow-token-0123456789"
FLOOD_CALLS_IN_FLIGHT = 2
WRITES_IN_FLIGHT = 3
FLOOD_ATTEMPTS = 20
"""Calls beyond its share, one after another (each refused before the next is made)."""


def _caller(name: str, token: str, scopes: list[str], program: str, **limits: Any) -> str:
    lines = [
        "[[callers]]",
        f'name = "{name}"',
        "scopes = [" + ", ".join(f'"{scope}"' for scope in scopes) + "]",
        f'programs = ["{program}"]',
        *(f"{key} = {value}" for key, value in limits.items()),
        "[[callers.tokens]]",
        f'sha256 = "{token_hash(token)}"',
    ]
    return "\n".join(lines) + "\n"


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Limited:
    running: RunningServer
    channel: grpc.aio.Channel
    stub: "LedgerServiceAsyncStub"
    program_id: str
    account: str


@pytest.fixture
async def limited(database_url: str, clock: FakeClock) -> AsyncIterator[Limited]:
    program_id = unique("prog")
    callers = "\n".join(
        [
            _caller(
                "flood",
                FLOOD,
                ["read", "write", "admin"],
                program_id,
                max_concurrent_calls=FLOOD_CALLS_IN_FLIGHT,
            ),
            _caller("pos", POS, ["read", "write"], program_id),
            _caller("reader", READER, ["read", "audit"], program_id),
            # About one call a quarter of an hour, after the first two.
            _caller("slow", SLOW, ["read", "audit"], program_id, rate_per_second=0.001, burst=2),
        ]
    )
    running = await start_server(
        Settings(
            callers=callers,
            plaintext=True,
            listen_address="127.0.0.1:0",
            sweep_interval_seconds=0,
            run_projections=False,
            max_concurrent_writes=WRITES_IN_FLIGHT,
        ),
        database_url,
        now=clock,
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    stub = ledger_pb2_grpc.LedgerServiceStub(channel)
    await stub.CreateProgram(
        pb.CreateProgramRequest(
            request_id=request_id(),
            program_id=program_id,
            program=pb.Program(
                earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)]
            ),
        ),
        metadata=bearer(FLOOD),
    )
    enrolled = await stub.EnrollMember(
        pb.EnrollMemberRequest(
            request_id=request_id(), parent=f"programs/{program_id}", member_id=unique("m")
        ),
        metadata=bearer(POS),
    )
    yield Limited(running, channel, stub, program_id, enrolled.account.name)
    await channel.close()
    await running.stop(1)


def retry_delay_seconds(error: grpc.aio.AioRpcError) -> float | None:
    """The RetryInfo's delay, or None when the status carries no RetryInfo."""
    for detail in rich_status(error).details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.ToNanoseconds() / 1e9
    return None


def _earn(limited: Limited, token: str) -> "grpc.aio.UnaryUnaryCall[Any, Any]":
    return limited.stub.EarnPoints(
        pb.EarnPointsRequest(
            request_id=request_id(), account=limited.account, points=1, reason="flood"
        ),
        metadata=bearer(token),
        timeout=60,
    )


async def test_one_caller_flooding_writes_leaves_health_and_the_others_reads_answering(
    limited: Limited, database_url: str
) -> None:
    admission = limited.running.admission
    # The log is held by another session: every append waits, as behind a slow database,
    # while the state rows the reads use stay readable.
    locker = await psycopg.AsyncConnection.connect(database_url)
    async with locker:
        async with locker.transaction():
            await locker.execute("LOCK TABLE ledger.events IN EXCLUSIVE MODE")
            admitted = []
            for held in range(1, FLOOD_CALLS_IN_FLIGHT + 1):
                admitted.append(_earn(limited, FLOOD))
                await _in_flight(admission, held)
            # The caller's own share is full: the rest of its flood is refused at once.
            refused = [await _refusal(_earn(limited, FLOOD)) for _ in range(FLOOD_ATTEMPTS)]
            # Another writer takes the rest of the writes' pool; then the pool is full too.
            for held in range(FLOOD_CALLS_IN_FLIGHT + 1, WRITES_IN_FLIGHT + 1):
                admitted.append(_earn(limited, POS))
                await _in_flight(admission, held)
            pool_full = await _refusal(_earn(limited, POS))
            account = await limited.stub.GetAccount(
                pb.GetAccountRequest(name=limited.account), metadata=bearer(READER), timeout=5
            )
            health = await health_pb2_grpc.HealthStub(limited.channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=5
            )
        # The lock released, the writes admitted go through.
        for call in admitted:
            await call
    final = await limited.stub.GetAccount(
        pb.GetAccountRequest(name=limited.account), metadata=bearer(READER)
    )

    assert {failure(error)[:2] for error in refused} == {
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_MANY_CALLS_FOR_CALLER")
    }
    assert all((retry_delay_seconds(error) or 0) > 0 for error in refused)
    assert failure(pool_full)[:2] == (grpc.StatusCode.RESOURCE_EXHAUSTED, "SERVER_WRITES_BUSY")
    assert account.account.name == limited.account
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert final.account.balances.available == WRITES_IN_FLIGHT


async def _in_flight(admission: Admission, writes: int) -> None:
    await wait_until(
        lambda: admission.in_flight("write") == writes, 10, f"{writes} writes in flight"
    )


async def _refusal(call: "grpc.aio.UnaryUnaryCall[Any, Any]") -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call
    return refused.value


async def test_a_caller_over_its_rate_is_refused_with_the_delay_before_its_next_call(
    limited: Limited,
) -> None:
    name = pb.GetProgramRequest(name=f"programs/{limited.program_id}")
    for _ in range(2):  # its burst
        await limited.stub.GetProgram(name, metadata=bearer(SLOW))
    with pytest.raises(grpc.aio.AioRpcError) as over:
        await limited.stub.GetProgram(name, metadata=bearer(SLOW))
    other = await limited.stub.GetProgram(name, metadata=bearer(READER))

    assert failure(over.value)[:2] == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "CALLER_RATE_EXCEEDED",
    )
    delay = retry_delay_seconds(over.value)
    # One call per 1,000 s: the next token is most of that away.
    assert delay is not None and 900 < delay <= 1_000
    assert other.program.name == name.name


async def test_the_operations_service_counts_against_the_callers_rate_too(
    limited: Limited,
) -> None:
    operations = operations_pb2_grpc.OperationsStub(limited.channel)  # type: ignore[no-untyped-call]
    listing = operations_pb2.ListOperationsRequest(name=f"programs/{limited.program_id}")
    name = pb.GetProgramRequest(name=f"programs/{limited.program_id}")
    await operations.ListOperations(listing, metadata=bearer(SLOW))
    await limited.stub.GetProgram(name, metadata=bearer(SLOW))  # the burst spent
    with pytest.raises(grpc.aio.AioRpcError) as over:
        await operations.ListOperations(listing, metadata=bearer(SLOW))
    other = await operations.ListOperations(listing, metadata=bearer(READER))
    health = await health_pb2_grpc.HealthStub(limited.channel).Check(
        health_pb2.HealthCheckRequest(service=""), timeout=5
    )

    assert failure(over.value)[:2] == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "CALLER_RATE_EXCEEDED",
    )
    assert list(other.operations) == []
    assert health.status == health_pb2.HealthCheckResponse.SERVING


async def test_every_bad_field_of_a_request_is_named_in_one_bad_request(
    limited: Limited,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as names_and_fields:
        await limited.stub.EarnPoints(
            pb.EarnPointsRequest(
                request_id="has spaces",
                account=f"programs/{limited.program_id}/accounts/has spaces",
                points=0,
                reason="x" * 1_000,
            ),
            metadata=bearer(POS),
        )
    with pytest.raises(grpc.aio.AioRpcError) as id_and_fields:
        await limited.stub.EarnPoints(
            pb.EarnPointsRequest(request_id="", account=limited.account, points=-5, reason="bonus"),
            metadata=bearer(POS),
        )

    code, reason, fields = failure(names_and_fields.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(fields) == ["account", "points", "reason", "request_id"]
    assert reason == "SEVERAL_FIELDS_INVALID"
    assert sorted(failure(id_and_fields.value).fields) == ["points", "request_id"]
