"""What the store tells OpenTelemetry: a span per query, and how its connection pool is used."""

from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.metrics import CallbackOptions, Observation
from psycopg_pool import AsyncConnectionPool


def trace_queries(tracer_provider: trace.TracerProvider) -> Callable[[], None]:
    """Every query on a connection opened from now on, in this process, is a span (a child
    of the current span; see service/telemetry.py for those outside any traced work).
    Returns what undoes it. The statement is recorded, never its parameters (member ids,
    request ids)."""
    instrumentor = PsycopgInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, capture_parameters=False)

    def undo() -> None:
        instrumentor.uninstrument()

    return undo


def observe_pool(pool: AsyncConnectionPool[Any], meter_provider: metrics.MeterProvider) -> None:
    """The pool's connections (idle, in use, the most allowed) and the calls waiting for
    one, read when metrics are collected: nothing is counted on the way of a query."""
    meter = meter_provider.get_meter("ledger.store")

    def connections(_options: CallbackOptions) -> Iterable[Observation]:
        stats = pool.get_stats()
        idle = stats.get("pool_available", 0)
        yield Observation(idle, {"state": "idle"})
        yield Observation(stats.get("pool_size", 0) - idle, {"state": "used"})

    def limit(_options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(pool.max_size)

    def waiting(_options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(pool.get_stats().get("requests_waiting", 0))

    meter.create_observable_up_down_counter(
        "ledger.db.pool.connections",
        [connections],
        unit="{connection}",
        description="Connections of the pool, by state (idle, used)",
    )
    meter.create_observable_up_down_counter(
        "ledger.db.pool.max",
        [limit],
        unit="{connection}",
        description="The most connections the pool may open",
    )
    meter.create_observable_up_down_counter(
        "ledger.db.pool.waiting",
        [waiting],
        unit="{request}",
        description="Calls waiting for a connection now",
    )
