"""OpenTelemetry for the service: the tracer and meter providers its settings ask for.

Configured by the standard OTEL_* variables (service/config.py reads and checks them): the
exporters named in OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER read their own variables
(OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_BSP_*, OTEL_METRIC_EXPORT_INTERVAL...). With none named,
and no Prometheus address, the providers are OpenTelemetry's no-op ones: no SDK object, no
exporter, no thread, and nothing recorded on the way of a call.
"""

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import structlog
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

from service.config import Settings

log = structlog.get_logger(__name__)

SERVICE_VERSION_KEY = "service.version"


def _sampler(name: str, ratio: float) -> Sampler:
    """OTEL_TRACES_SAMPLER and its argument, as the SDK reads them."""
    samplers: dict[str, Callable[[], Sampler]] = {
        "always_on": lambda: ALWAYS_ON,
        "always_off": lambda: ALWAYS_OFF,
        "traceidratio": lambda: TraceIdRatioBased(ratio),
        "parentbased_always_on": lambda: ParentBased(ALWAYS_ON),
        "parentbased_always_off": lambda: ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": lambda: ParentBased(TraceIdRatioBased(ratio)),
    }
    return samplers[name]()


class LedgerSampler(Sampler):
    """The configured sampler, with two rules of the service's own:

    - a query outside any traced work (the health watcher's ping every second, the event
      feed's polls, the projection runners' pages) starts no trace of its own: a trace a
      second of those would drown the calls' traces;
    - a group-commit append, which serves many calls and so has no parent but a link to each,
      is sampled when one of the calls it served is, so every sampled call shows its append.
    """

    def __init__(self, configured: Sampler) -> None:
        self._configured = configured

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if not parent.is_valid:
            if kind is SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            if links:
                sampled = any(link.context.trace_flags.sampled for link in links)
                return SamplingResult(
                    Decision.RECORD_AND_SAMPLE if sampled else Decision.DROP, attributes
                )
        return self._configured.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"LedgerSampler{{{self._configured.get_description()}}}"


def _load(group: str, name: str) -> Any:
    """An exporter installed under `name` (config.py checked that it is), made with no
    arguments: it reads its own OTEL_EXPORTER_* variables."""
    (entry,) = entry_points(group=group, name=name)
    return entry.load()()


@dataclass
class Telemetry:
    """The providers every part of the service takes its tracer and meter from."""

    tracer_provider: trace.TracerProvider = field(default_factory=trace.NoOpTracerProvider)
    meter_provider: metrics.MeterProvider = field(default_factory=metrics.NoOpMeterProvider)
    prometheus_port: int | None = None
    """The port the Prometheus endpoint listens on (the one chosen, for port 0)."""
    _closers: list[Callable[[], object]] = field(default_factory=list)

    @property
    def tracing(self) -> bool:
        return isinstance(self.tracer_provider, TracerProvider)

    @property
    def measuring(self) -> bool:
        return isinstance(self.meter_provider, MeterProvider)

    def force_flush(self) -> None:
        """Exports what is waiting (tests, and before exit)."""
        if isinstance(self.tracer_provider, TracerProvider):
            self.tracer_provider.force_flush()
        if isinstance(self.meter_provider, MeterProvider):
            self.meter_provider.force_flush()

    def shutdown(self) -> None:
        """Exports what is waiting and stops the exporters and the Prometheus endpoint."""
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):  # one exporter's failure must not stop the rest
                close()
        self._closers.clear()


def telemetry_of(
    settings: Settings,
    *,
    span_exporters: Sequence[SpanExporter] | None = None,
    metric_readers: Sequence[MetricReader] = (),
) -> Telemetry:
    """The providers `settings` ask for; `span_exporters` and `metric_readers` (tests) are
    used besides (readers) or instead of (exporters) those the settings name."""
    from importlib.metadata import version

    resource = Resource.create(
        {"service.name": settings.service_name, SERVICE_VERSION_KEY: version("loyalty-ledger")}
    )
    telemetry = Telemetry()
    # The endpoint first: a port in use fails the start before any exporter thread runs.
    readers = list(metric_readers)
    if settings.prometheus_address is not None:
        reader, port, close = _prometheus(settings.prometheus_address)
        readers.append(reader)
        telemetry.prometheus_port = port
        telemetry._closers.append(close)
    for name in settings.metrics_exporters:
        made = _load("opentelemetry_metrics_exporter", name)
        if isinstance(made, MetricExporter):
            made = PeriodicExportingMetricReader(made)
        readers.append(made)
    exporters = (
        list(span_exporters)
        if span_exporters is not None
        else [_load("opentelemetry_traces_exporter", name) for name in settings.traces_exporters]
    )
    if exporters:
        tracer_provider = TracerProvider(
            sampler=LedgerSampler(_sampler(settings.traces_sampler, settings.traces_sampler_ratio)),
            resource=resource,
        )
        for exporter in exporters:
            tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
        telemetry.tracer_provider = tracer_provider
        telemetry._closers.append(tracer_provider.shutdown)
    if readers:
        meter_provider = MeterProvider(metric_readers=readers, resource=resource)
        telemetry.meter_provider = meter_provider
        telemetry._closers.append(meter_provider.shutdown)
    return telemetry


def _prometheus(address: str) -> tuple[MetricReader, int, Callable[[], None]]:
    """A scrape endpoint (GET /metrics) on `address`, in a thread of its own, with this
    process's CPU, memory and garbage collector figures besides the service's."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import CollectorRegistry, GCCollector, ProcessCollector
    from prometheus_client.exposition import start_http_server

    host, _, port = address.rpartition(":")
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    reader = PrometheusMetricReader(registry=registry)
    server, thread = start_http_server(int(port), host.strip("[]"), registry=registry)
    chosen = int(server.server_address[1])
    log.info("prometheus_serving", address=f"{host}:{chosen}", path="/metrics")

    def close() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return reader, chosen, close
