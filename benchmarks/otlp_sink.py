"""An OTLP/gRPC endpoint that takes spans and metrics and keeps only their count: where the
telemetry figure's service exports to. The exporter does all its real work (encoding,
batching, a gRPC call per batch over loopback), and nothing behind it adds to the cores the
service shares."""

import contextlib
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


@dataclass
class Received:
    spans: int = 0
    metric_exports: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, received: Received) -> None:
        self._received = received

    def Export(  # noqa: N802 (the OTLP service's name)
        self, request: Any, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        count = sum(
            len(scope.spans)
            for resource in request.resource_spans
            for scope in resource.scope_spans
        )
        with self._received.lock:
            self._received.spans += count
        return trace_service_pb2.ExportTraceServiceResponse()


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, received: Received) -> None:
        self._received = received

    def Export(  # noqa: N802
        self, request: Any, context: Any
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        with self._received.lock:
            self._received.metric_exports += 1
        return metrics_service_pb2.ExportMetricsServiceResponse()


@contextlib.contextmanager
def otlp_sink() -> Iterator[tuple[str, Received]]:
    """The sink's endpoint (http://127.0.0.1:PORT) and what it has received so far."""
    received = Received()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(received), server)  # type: ignore[no-untyped-call]
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(received), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.stop(0).wait()
