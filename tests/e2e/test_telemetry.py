"""What an operator sees of a call: its span, its access line, its metrics.

A call's trace id is the same in its span, in every log line it wrote and in the metadata
of the events it appended, so an operator can go from any one to the others; the
group-commit append that served it is a span of its own, linked to the call's.
"""

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import psycopg
import pytest
import structlog
from grpc_health.v1 import health_pb2
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.config import Settings
from service.logs import JsonLines, configure_logging
from service.server import CannotListen, RunningServer, start_server
from service.telemetry import Telemetry, telemetry_of
from tests.bearer import callers_toml
from tests.conftest import (
    SERVING_WITHIN_SECONDS,
    FakeClock,
    health_status,
    request_id,
    unique,
    wait_for_health,
)
from tests.scrapes import sample, scrape

if TYPE_CHECKING:
    from loyalty.v1.ledger_pb2_grpc import LedgerServiceAsyncStub

TOKEN = "storefront-token-" + "7" * 24
CALLER = "storefront"
ACCESS_FIELDS = {
    "method",
    "caller",
    "program",
    "status",
    "latency_ms",
    "request_id",
    "trace_id",
    "span_id",
}


@dataclass
class Observed:
    running: RunningServer
    stub: "LedgerServiceAsyncStub"
    channel: grpc.aio.Channel
    spans: InMemorySpanExporter
    telemetry: Telemetry

    def finished_spans(self) -> tuple[ReadableSpan, ...]:
        self.telemetry.force_flush()
        return self.spans.get_finished_spans()


@pytest.fixture
def logged_at_info() -> Iterator[None]:
    """Logging as `serve` configures it (JSON lines on stdout), as the test captures it."""
    configure_logging("INFO", cache_loggers=False)
    yield
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, JsonLines):
            root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def _settings(**more: Any) -> Settings:
    return Settings(
        **{
            "auth": "tokens",
            "callers": callers_toml((CALLER, TOKEN, ["read", "write", "admin"], ["*"])),
            "plaintext": True,
            "listen_address": "127.0.0.1:0",
            "sweep_interval_seconds": 0,
            "run_projections": False,
            **more,
        }
    )


@pytest.fixture
async def observed(
    database_url: str, clock: FakeClock, logged_at_info: None
) -> AsyncIterator[Observed]:
    spans = InMemorySpanExporter()
    telemetry = telemetry_of(_settings(), span_exporters=[spans])
    running = await start_server(_settings(), database_url, now=clock, telemetry=telemetry)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    await wait_for_health(channel, health_pb2.HealthCheckResponse.SERVING)
    stub: LedgerServiceAsyncStub = ledger_pb2_grpc.LedgerServiceStub(channel)
    yield Observed(running, stub, channel, spans, telemetry)
    await channel.close()
    await running.stop(1)


AUTH = (("authorization", f"Bearer {TOKEN}"),)


async def _program_and_account(stub: "LedgerServiceAsyncStub") -> tuple[str, str]:
    program_id = unique("prog")
    await stub.CreateProgram(
        pb.CreateProgramRequest(
            request_id=request_id(),
            program_id=program_id,
            program=pb.Program(
                earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)]
            ),
        ),
        metadata=AUTH,
    )
    enrolled = await stub.EnrollMember(
        pb.EnrollMemberRequest(
            request_id=request_id(), parent=f"programs/{program_id}", member_id=unique("member")
        ),
        metadata=AUTH,
    )
    return program_id, enrolled.account.name


def _lines(captured: str) -> list[dict[str, Any]]:
    """Every line printed, each of which must be a JSON object."""
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def _stored_trace_ids(database_url: str, program_id: str, earn_request_id: str) -> set[str]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT metadata ->> 'trace_id' FROM ledger.events"
            " WHERE program_id = %s AND metadata ->> 'request_id' = %s",
            (program_id, earn_request_id),
        ).fetchall()
    return {row[0] for row in rows}


async def test_one_call_has_one_trace_id_in_its_span_its_log_lines_and_its_events(
    observed: Observed, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    program_id, account = await _program_and_account(observed.stub)
    capsys.readouterr()
    earn_id = request_id()
    await observed.stub.EarnPoints(
        pb.EarnPointsRequest(request_id=earn_id, account=account, points=5, reason="bonus"),
        metadata=AUTH,
    )
    access = [line for line in _lines(capsys.readouterr().out) if line["event"] == "rpc"]
    assert len(access) == 1
    line = access[0]
    (span,) = [s for s in observed.finished_spans() if s.name.endswith("/EarnPoints")]
    assert span.kind is SpanKind.SERVER
    trace_id = format(span.context.trace_id, "032x")
    assert line["trace_id"] == trace_id
    assert line["span_id"] == format(span.context.span_id, "016x")
    assert _stored_trace_ids(database_url, program_id, earn_id) == {trace_id}
    # The append that served it: a span of its own, linked to the call's, with its queries.
    appends = [
        s
        for s in observed.finished_spans()
        if s.name == "ledger.append_batch"
        and any(link.context.span_id == span.context.span_id for link in s.links)
    ]
    assert len(appends) == 1
    queries = [
        s
        for s in observed.finished_spans()
        if s.kind is SpanKind.CLIENT
        and s.parent is not None
        and s.parent.span_id == appends[0].context.span_id
    ]
    assert queries, "the append's queries are spans under it"


async def test_the_access_line_names_method_caller_program_status_latency_and_ids(
    observed: Observed, capsys: pytest.CaptureFixture[str]
) -> None:
    program_id, account = await _program_and_account(observed.stub)
    capsys.readouterr()
    earn_id = request_id()
    await observed.stub.EarnPoints(
        pb.EarnPointsRequest(request_id=earn_id, account=account, points=5, reason="bonus"),
        metadata=AUTH,
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await observed.stub.EarnPoints(
            pb.EarnPointsRequest(request_id=request_id(), account=account, points=-1, reason="x"),
            metadata=AUTH,
        )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    printed = capsys.readouterr().out
    accepted, denied = [line for line in _lines(printed) if line["event"] == "rpc"]
    assert accepted.keys() >= ACCESS_FIELDS
    assert accepted["method"] == "loyalty.v1.LedgerService/EarnPoints"
    assert accepted["caller"] == CALLER
    assert accepted["program"] == program_id
    assert accepted["status"] == "OK"
    assert accepted["latency_ms"] > 0
    assert accepted["request_id"] == earn_id
    assert denied["status"] == "INVALID_ARGUMENT"
    assert TOKEN not in printed
    member_id = account.rpartition("/")[2]
    assert member_id not in printed


async def test_a_call_without_a_known_token_is_logged_unauthenticated_without_its_token(
    observed: Observed, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    with pytest.raises(grpc.aio.AioRpcError):
        await observed.stub.GetProgram(
            pb.GetProgramRequest(name="programs/shop"),
            metadata=(("authorization", "Bearer not-a-known-token"),),
        )
    printed = capsys.readouterr().out
    (line,) = [line for line in _lines(printed) if line["event"] == "rpc"]
    assert line["status"] == "UNAUTHENTICATED"
    assert line["caller"] is None
    assert "not-a-known-token" not in printed


async def test_health_checks_are_not_traced(observed: Observed) -> None:
    before = len(observed.finished_spans())
    for _ in range(3):
        assert await health_status(observed.channel) == health_pb2.HealthCheckResponse.SERVING
    spans = observed.finished_spans()[before:]
    assert not [s for s in spans if "Health" in s.name]


async def test_with_telemetry_off_no_exporter_is_made(
    database_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    made: list[object] = []
    original = OTLPSpanExporter.__init__

    def record(self: OTLPSpanExporter, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(OTLPSpanExporter, "__init__", record)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    settings = Settings.from_env(
        {"LEDGER_AUTH": "none", "LEDGER_PLAINTEXT": "1", "LEDGER_LISTEN_ADDRESS": "127.0.0.1:0"}
    )
    telemetry = telemetry_of(settings)
    assert not telemetry.tracing
    assert not telemetry.measuring
    running = await start_server(settings, database_url, now=clock, telemetry=telemetry)
    try:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
        await wait_for_health(channel, health_pb2.HealthCheckResponse.SERVING)
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        await stub.CreateProgram(
            pb.CreateProgramRequest(
                request_id=request_id(), program_id=unique("prog"), program=pb.Program()
            )
        )
        await channel.close()
    finally:
        await running.stop(1)
    assert made == []
    # The same settings naming the exporter do make it: the check above can fail.
    named = telemetry_of(Settings.from_env({"OTEL_TRACES_EXPORTER": "otlp"}))
    assert named.tracing
    assert len(made) == 1
    named.shutdown()


async def _scrape_until(port: int, shown: str) -> str:
    """Scrapes until `shown` is among the metrics (a projection runner reports its lag once
    it leads, a moment after the server starts); fails after SERVING_WITHIN_SECONDS."""
    deadline = time.monotonic() + SERVING_WITHIN_SECONDS
    while True:
        scraped = await asyncio.to_thread(scrape, port)
        if shown in scraped or time.monotonic() > deadline:
            return scraped
        await asyncio.sleep(0.05)


DOCUMENTED_METRICS = (
    "rpc_server_call_duration_seconds_bucket",
    "ledger_events_appended_total",
    "ledger_batches_total",
    "ledger_batch_requests_bucket",
    "ledger_conflicts_total",
    "ledger_idempotent_replays_total",
    "ledger_store_errors_total",
    "ledger_db_pool_connections",
    "ledger_db_pool_max",
    "ledger_db_pool_waiting",
    "rpc_server_open_streams",
    "ledger_projection_lag_events",
    "ledger_projection_lag_seconds",
    "ledger_feed_subscribers",
    "ledger_feed_events_published_total",
    "ledger_feed_reads_total",
    "ledger_feed_rounds_total",
    "ledger_feed_overflows_total",
    "ledger_feed_errors_total",
    "ledger_read_horizon_held_seconds",
    "ledger_read_horizon_hidden_events",
    "ledger_read_horizon_transactions_behind",
    "process_cpu_seconds_total",
    "target_info",
)


async def test_the_prometheus_endpoint_serves_the_documented_metrics(
    database_url: str, clock: FakeClock
) -> None:
    settings = _settings(
        prometheus_address="127.0.0.1:0", run_projections=True, read_horizon_check_seconds=0.2
    )
    running = await start_server(settings, database_url, now=clock)
    try:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
        await wait_for_health(channel, health_pb2.HealthCheckResponse.SERVING)
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        _, account = await _program_and_account(stub)
        earn_id = request_id()
        earn = pb.EarnPointsRequest(request_id=earn_id, account=account, points=5, reason="x")
        await stub.EarnPoints(earn, metadata=AUTH)
        await stub.EarnPoints(earn, metadata=AUTH)  # a retry: answered again
        follow = stub.StreamEvents(pb.StreamEventsRequest(), metadata=AUTH)
        await follow.read()
        port = running.telemetry.prometheus_port
        assert port is not None
        await _scrape_until(port, "ledger_read_horizon_hidden_events")
        scraped = await _scrape_until(port, "ledger_projection_lag_seconds")
        follow.cancel()
        await channel.close()
    finally:
        await running.stop(1)
    missing = [name for name in DOCUMENTED_METRICS if name not in scraped]
    assert missing == []
    assert 'rpc_method="EarnPoints"' in scraped
    assert 'rpc_grpc_status_code="OK"' in scraped
    assert _value(scraped, "ledger_idempotent_replays_total") >= 1
    assert _value(scraped, "rpc_server_open_streams", 'rpc_method="StreamEvents"') == 1
    # The follower from position 0 read the log behind the feed's window by itself.
    assert _value(scraped, "ledger_feed_reads_total", 'kind="catch_up"') >= 1


def _value(scraped: str, name: str, label: str = "") -> float:
    value = sample(scraped, name, label)
    assert value is not None, f"{name} {label} not scraped"
    return value


async def test_a_prometheus_port_in_use_stops_the_start_naming_the_address(
    database_url: str, clock: FakeClock
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(CannotListen) as refused:
            await start_server(_settings(prometheus_address=address), database_url, now=clock)

    assert address in str(refused.value)
