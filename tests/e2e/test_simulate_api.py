"""SimulateProgramChange through a real channel: a long-running operation (AIP-151) polled with
the standard google.longrunning.Operations service of the same server, whose response is what
`loyalty-ledger what-if` reports for the same proposal and period."""

import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import grpc
import pytest
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import duration_pb2, field_mask_pb2
from google.rpc import code_pb2

from ledger.audit.what_if import what_if
from ledger.domain.settings import EarnRate
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service import simulations
from service.auth import OPERATION_SCOPES, RPC_SCOPES
from service.callers import SCOPES
from service.config import Settings
from service.mapping import timestamp
from service.server import start_server
from service.what_if_cli import as_json
from tests.bearer import callers_toml
from tests.conftest import Api, FakeClock, unique
from tests.e2e.errors import failure
from tests.e2e.test_cli_client import Terminal
from tests.integration.test_what_if import END, SETTINGS, START, what_if_log

MAX_WAITS = 20
"""WaitOperation calls before a test gives up on an operation finishing."""


def _operations(channel: grpc.aio.Channel) -> Any:
    return operations_pb2_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]


def _request(program_id: str, **fields: Any) -> pb.SimulateProgramChangeRequest:
    return pb.SimulateProgramChangeRequest(
        program=f"programs/{program_id}",
        period_start_time=timestamp(START),
        period_end_time=timestamp(END),
        **fields,
    )


async def _finished(
    operations: Any, operation: operations_pb2.Operation, metadata: Any = ()
) -> operations_pb2.Operation:
    for _ in range(MAX_WAITS):
        if operation.done:
            return operation
        operation = await operations.WaitOperation(
            operations_pb2.WaitOperationRequest(
                name=operation.name, timeout=duration_pb2.Duration(seconds=30)
            ),
            metadata=metadata,
        )
    raise AssertionError(f"{operation.name} did not finish")


def _response(operation: operations_pb2.Operation) -> pb.SimulateProgramChangeResponse:
    assert operation.done and operation.WhichOneof("result") == "response", operation.error
    response = pb.SimulateProgramChangeResponse()
    assert operation.response.Unpack(response)
    return response


def _by_kind(figures: pb.SimulatedFigures) -> dict[str, tuple[int, int]]:
    return {each.kind: (each.points_recorded, each.points_proposed) for each in figures.by_kind}


async def _current(api: Api, program_id: str) -> pb.Program:
    found = await api.stub.GetProgram(pb.GetProgramRequest(name=f"programs/{program_id}"))
    return found.program


async def test_a_simulation_runs_to_done_and_answers_what_the_command_reports(
    api: Api, database_url: str, clock: FakeClock
) -> None:
    program_id, _, members = await what_if_log(database_url, clock)
    operations = _operations(api.channel)
    doubled = pb.Program(earn_rates=[pb.EarnRate(currency_code="USD", points=2, per_major_units=1)])

    started = await api.stub.SimulateProgramChange(
        _request(
            program_id,
            proposed_program=doubled,
            update_mask=field_mask_pb2.FieldMask(paths=["earn_rates"]),
        )
    )
    assert started.name.startswith(f"programs/{program_id}/operations/")
    metadata = pb.SimulateProgramChangeMetadata()
    assert started.metadata.Unpack(metadata)
    assert metadata.program == f"programs/{program_id}"
    finished = await _finished(operations, started)
    response = _response(finished)

    # The command's figures for the same proposal and period.
    report = what_if(
        database_url, program_id, replace(SETTINGS, earn_rates=(EarnRate("USD", 2),)), START, END
    )
    printed = as_json(report, {})
    assert response.events_rerun == printed["events_rerun"]
    assert response.total.points_recorded == printed["total"]["points_recorded"]
    assert response.total.points_proposed == printed["total"]["points_proposed"]
    assert response.total.difference == printed["total"]["difference"] > 0
    assert _by_kind(response.total) == {
        kind: (each["recorded"], each["proposed"])
        for kind, each in printed["total"]["by_kind"].items()
    }
    assert {
        member.member_key: (member.figures.points_recorded, member.figures.points_proposed)
        for member in response.members
    } == {
        member["member_key"]: (member["points_recorded"], member["points_proposed"])
        for member in printed["members"]
    }
    # Every member is named by its account, looked up in the member links.
    assert {member.account for member in response.members} == {
        f"programs/{program_id}/accounts/{member}" for member in members
    }
    [liability] = response.liability_difference
    assert liability.currency_code == "USD"
    assert Decimal(liability.units) + Decimal(liability.nanos) / 10**9 == Decimal(
        printed["total"]["liability_difference"]["USD"]
    )
    # Done: the metadata says so, and the operation is listed under its program.
    assert finished.metadata.Unpack(metadata)
    assert metadata.progress_percent == 100 and metadata.HasField("finish_time")
    listed = await operations.ListOperations(
        operations_pb2.ListOperationsRequest(name=f"programs/{program_id}")
    )
    assert [each.name for each in listed.operations] == [started.name]


async def test_the_recorded_revision_differs_for_no_member_and_a_doubled_rate_doubles_purchases(
    api: Api, database_url: str, clock: FakeClock
) -> None:
    program_id, log, _ = await what_if_log(database_url, clock)
    operations = _operations(api.channel)
    current = await _current(api, program_id)

    same_settings = await api.stub.SimulateProgramChange(
        _request(program_id, proposed_program=current)
    )
    same_revision = await api.stub.SimulateProgramChange(_request(program_id, revision=1))
    doubled = pb.Program()
    doubled.CopyFrom(current)
    doubled.earn_rates[0].points = 2
    double = await api.stub.SimulateProgramChange(_request(program_id, proposed_program=doubled))

    for started in (same_settings, same_revision):
        response = _response(await _finished(operations, started))
        assert response.members
        assert all(member.figures.difference == 0 for member in response.members)
        assert all(
            recorded == proposed
            for member in response.members
            for recorded, proposed in _by_kind(member.figures).values()
        )
        assert response.total.difference == 0
    response = _response(await _finished(operations, double))
    assert all(
        _by_kind(member.figures)["purchase"][1] == 2 * _by_kind(member.figures)["purchase"][0]
        for member in response.members
    )
    purchases = sum(log.purchase_points.values())
    assert _by_kind(response.total)["purchase"] == (purchases, 2 * purchases)


@pytest.fixture
def held_replays(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Replays wait for the event before they start, so a test can act while they run."""
    release = threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        release.wait(60)
        return what_if(*args, **kwargs)

    monkeypatch.setattr("service.simulations.what_if", held)
    return release


async def test_a_cancelled_simulation_ends_cancelled_and_a_deleted_one_is_gone(
    api: Api, database_url: str, clock: FakeClock, held_replays: threading.Event
) -> None:
    program_id, _, _ = await what_if_log(database_url, clock)
    operations = _operations(api.channel)
    first = await api.stub.SimulateProgramChange(_request(program_id, revision=1))
    second = await api.stub.SimulateProgramChange(_request(program_id, revision=1))

    running = await operations.GetOperation(operations_pb2.GetOperationRequest(name=first.name))
    assert not running.done
    # The replay waits in its own thread: the server answers other calls meanwhile.
    assert (await _current(api, program_id)).name == f"programs/{program_id}"
    await operations.CancelOperation(operations_pb2.CancelOperationRequest(name=first.name))
    await operations.DeleteOperation(operations_pb2.DeleteOperationRequest(name=second.name))
    held_replays.set()

    cancelled = await operations.GetOperation(operations_pb2.GetOperationRequest(name=first.name))
    assert cancelled.done and cancelled.error.code == code_pb2.CANCELLED
    metadata = pb.SimulateProgramChangeMetadata()
    assert cancelled.metadata.Unpack(metadata) and metadata.cancel_requested
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await operations.GetOperation(operations_pb2.GetOperationRequest(name=second.name))
    assert failure(gone.value)[:2] == (grpc.StatusCode.NOT_FOUND, "OPERATION_NOT_FOUND")
    # A cancelled operation stays cancelled once its replay has stopped.
    again = await _finished(operations, cancelled)
    assert again.error.code == code_pb2.CANCELLED


async def test_an_unknown_operation_is_not_found(api: Api) -> None:
    operations = _operations(api.channel)
    name = f"programs/{unique('prog')}/operations/nothing"

    for call, request in (
        (operations.GetOperation, operations_pb2.GetOperationRequest(name=name)),
        (operations.CancelOperation, operations_pb2.CancelOperationRequest(name=name)),
        (operations.WaitOperation, operations_pb2.WaitOperationRequest(name=name)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await call(request)
        assert failure(unknown.value) == (
            grpc.StatusCode.NOT_FOUND,
            "OPERATION_NOT_FOUND",
            [],
        )


async def test_bad_input_is_refused_at_the_call_naming_the_field(
    api: Api, database_url: str, clock: FakeClock
) -> None:
    program_id, _, _ = await what_if_log(database_url, clock)
    negative = pb.Program(
        earn_rates=[pb.EarnRate(currency_code="USD", points=-1, per_major_units=1)]
    )
    cases: list[tuple[pb.SimulateProgramChangeRequest, tuple[grpc.StatusCode, str, list[str]]]]
    cases = [
        (
            pb.SimulateProgramChangeRequest(program=f"programs/{program_id}", revision=1),
            (
                grpc.StatusCode.INVALID_ARGUMENT,
                "FIELD_REQUIRED",
                ["period_start_time", "period_end_time"],
            ),
        ),
        (
            pb.SimulateProgramChangeRequest(
                program=f"programs/{program_id}",
                revision=1,
                period_start_time=timestamp(END),
                period_end_time=timestamp(START),
            ),
            (grpc.StatusCode.INVALID_ARGUMENT, "PERIOD_END_NOT_AFTER_START", ["period_end_time"]),
        ),
        (
            _request(program_id),
            (grpc.StatusCode.INVALID_ARGUMENT, "FIELD_REQUIRED", ["proposed_program"]),
        ),
        (
            _request(program_id, revision=1, proposed_program=negative),
            (grpc.StatusCode.INVALID_ARGUMENT, "PROPOSAL_AMBIGUOUS", ["revision"]),
        ),
        (
            _request(program_id, proposed_program=negative),
            (
                grpc.StatusCode.INVALID_ARGUMENT,
                "PROGRAM_SETTING_INVALID",
                ["proposed_program.earn_rates[0].points"],
            ),
        ),
        (
            _request(
                program_id,
                proposed_program=negative,
                update_mask=field_mask_pb2.FieldMask(paths=["earn_ratez"]),
            ),
            (grpc.StatusCode.INVALID_ARGUMENT, "UPDATE_MASK_INVALID", ["update_mask.paths[0]"]),
        ),
        (
            _request(program_id, revision=2),
            (grpc.StatusCode.NOT_FOUND, "REVISION_NOT_FOUND", []),
        ),
        (
            _request(unique("prog"), revision=1),
            (grpc.StatusCode.NOT_FOUND, "PROGRAM_NOT_FOUND", []),
        ),
    ]
    for request, expected in cases:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await api.stub.SimulateProgramChange(request)
        assert failure(refused.value) == expected, request
    # Nothing was started.
    listed = await _operations(api.channel).ListOperations(
        operations_pb2.ListOperationsRequest(name=f"programs/{program_id}")
    )
    assert not listed.operations


AUDITOR_A = "auditor-a-token-0123456789"
AUDITOR_B = "auditor-b-token-0123456789"
READER_A = "reader-a-token-0123456789"


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture
async def secured_channel(
    database_url: str, clock: FakeClock
) -> AsyncIterator[Callable[[str, str], grpc.aio.Channel]]:
    servers: list[Any] = []
    channels: list[grpc.aio.Channel] = []

    async def open_for(program_a: str, program_b: str) -> grpc.aio.Channel:
        callers = callers_toml(
            ("auditor-a", AUDITOR_A, ["audit"], [program_a]),
            ("auditor-b", AUDITOR_B, ["audit"], [program_b]),
            ("reader-a", READER_A, ["read"], [program_a]),
        )
        running = await start_server(
            Settings(
                listen_address="127.0.0.1:0",
                sweep_interval_seconds=0,
                plaintext=True,
                callers=callers,
            ),
            database_url,
            now=clock,
        )
        servers.append(running)
        channels.append(grpc.aio.insecure_channel(f"127.0.0.1:{running.port}"))
        return channels[-1]

    yield open_for  # type: ignore[misc]
    for channel in channels:
        await channel.close()
    for running in servers:
        await running.stop(1)


async def test_only_an_auditor_of_the_program_starts_sees_and_cancels_its_operations(
    database_url: str, clock: FakeClock, secured_channel: Any
) -> None:
    program_id, _, _ = await what_if_log(database_url, clock)
    other = unique("prog")
    channel = await secured_channel(program_id, other)
    stub = ledger_pb2_grpc.LedgerServiceStub(channel)
    operations = _operations(channel)

    with pytest.raises(grpc.aio.AioRpcError) as reader:
        await stub.SimulateProgramChange(
            _request(program_id, revision=1), metadata=bearer(READER_A)
        )
    assert failure(reader.value)[:2] == (grpc.StatusCode.PERMISSION_DENIED, "SCOPE_MISSING")
    with pytest.raises(grpc.aio.AioRpcError) as stranger:
        await stub.SimulateProgramChange(
            _request(program_id, revision=1), metadata=bearer(AUDITOR_B)
        )
    assert failure(stranger.value)[:2] == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PROGRAM_NOT_ALLOWED",
    )
    started = await stub.SimulateProgramChange(
        _request(program_id, revision=1), metadata=bearer(AUDITOR_A)
    )
    done = await _finished(operations, started, bearer(AUDITOR_A))
    assert _response(done).total.difference == 0

    for call, request in (
        (operations.GetOperation, operations_pb2.GetOperationRequest(name=started.name)),
        (operations.CancelOperation, operations_pb2.CancelOperationRequest(name=started.name)),
        (operations.DeleteOperation, operations_pb2.DeleteOperationRequest(name=started.name)),
        (
            operations.ListOperations,
            operations_pb2.ListOperationsRequest(name=f"programs/{program_id}"),
        ),
        (operations.ListOperations, operations_pb2.ListOperationsRequest(name="")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await call(request, metadata=bearer(AUDITOR_B))
        assert failure(denied.value)[:2] == (
            grpc.StatusCode.PERMISSION_DENIED,
            "PROGRAM_NOT_ALLOWED",
        )
    theirs = await operations.ListOperations(
        operations_pb2.ListOperationsRequest(name=f"programs/{other}"), metadata=bearer(AUDITOR_B)
    )
    assert not theirs.operations
    mine = await operations.ListOperations(
        operations_pb2.ListOperationsRequest(name=f"programs/{program_id}"),
        metadata=bearer(AUDITOR_A),
    )
    assert [each.name for each in mine.operations] == [started.name]


async def test_operations_page_and_expire_a_day_after_they_finish(
    api: Api, database_url: str, clock: FakeClock
) -> None:
    program_id, _, _ = await what_if_log(database_url, clock)
    operations = _operations(api.channel)
    names = []
    for _ in range(3):
        started = await api.stub.SimulateProgramChange(_request(program_id, revision=1))
        names.append((await _finished(operations, started)).name)

    first = await operations.ListOperations(
        operations_pb2.ListOperationsRequest(name=f"programs/{program_id}", page_size=2)
    )
    rest = await operations.ListOperations(
        operations_pb2.ListOperationsRequest(
            name=f"programs/{program_id}", page_size=2, page_token=first.next_page_token
        )
    )
    assert [each.name for each in (*first.operations, *rest.operations)] == names
    assert not rest.next_page_token
    clock.advance(seconds=simulations.OPERATION_RETENTION.total_seconds() + 1)
    with pytest.raises(grpc.aio.AioRpcError) as expired:
        await operations.GetOperation(operations_pb2.GetOperationRequest(name=names[0]))
    assert failure(expired.value)[:2] == (grpc.StatusCode.NOT_FOUND, "OPERATION_NOT_FOUND")


async def test_the_terminal_client_starts_a_simulation_waits_for_it_and_lists_it(
    api: Api, database_url: str, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    program_id, _, _ = await what_if_log(database_url, clock)
    terminal = Terminal(api, capsys)

    done = await terminal.run(
        operations_pb2.Operation,
        "simulate", program_id, "--from", "2026-03-02T00:00:00Z", "--to", "2026-03-05T00:00Z",
        "--revision", "1", "--wait",
    )  # fmt: skip
    listed = await terminal.run(operations_pb2.ListOperationsResponse, "operations", program_id)
    refused = await terminal.fails(
        "simulate", program_id, "--from", "2026-03-05T00:00:00Z", "--to", "2026-03-02T00:00Z",
        "--revision", "1",
    )  # fmt: skip

    assert _response(done).total.difference == 0
    assert _response(done).events_rerun == 6
    assert [each.name for each in listed.operations] == [done.name]
    assert refused["reason"] == "PERIOD_END_NOT_AFTER_START"


def test_every_rpc_of_the_operations_service_needs_the_audit_scope() -> None:
    service = operations_pb2.DESCRIPTOR.services_by_name["Operations"]

    assert set(service.methods_by_name) == set(OPERATION_SCOPES)
    assert set(OPERATION_SCOPES.values()) == {"audit"} == {RPC_SCOPES["SimulateProgramChange"]}
    assert "audit" in SCOPES
