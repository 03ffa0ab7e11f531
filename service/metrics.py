"""The ledger's own metrics, read from its counters when metrics are collected (a scrape, or
an export every OTEL_METRIC_EXPORT_INTERVAL): nothing is counted twice on the write path.
The calls' metrics are service/rpc_telemetry.py's, the pool's ledger/store/telemetry.py's.
The names, as Prometheus shows them, are listed in the README ("Metrics")."""

from collections.abc import Callable, Iterable, Mapping

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from ledger.application import LedgerStats
from ledger.projections.runner import RunnerStats

_LEDGER_COUNTERS: tuple[tuple[str, str, str, Callable[[LedgerStats], int]], ...] = (
    (
        "ledger.events.appended",
        "{event}",
        "Events appended to the log",
        lambda stats: stats.events_appended,
    ),
    ("ledger.batches", "{batch}", "Group commits (batches decided)", lambda stats: stats.batches),
    (
        "ledger.conflicts",
        "{conflict}",
        "Appends that lost a race for a stream to another process, then decided again",
        lambda stats: stats.conflicts,
    ),
    (
        "ledger.idempotent_replays",
        "{request}",
        "Requests answered again with their stored answer (a retry of the same request_id)",
        lambda stats: stats.replays,
    ),
    (
        "ledger.store.errors",
        "{error}",
        "Appends that failed on the database (unavailable, timed out)",
        lambda stats: stats.store_errors,
    ),
)


def observe_ledger(meter_provider: metrics.MeterProvider, stats: LedgerStats) -> None:
    meter = meter_provider.get_meter("ledger")
    for name, unit, description, read in _LEDGER_COUNTERS:
        meter.create_observable_counter(
            name, [_counter(stats, read)], unit=unit, description=description
        )


def _counter(
    stats: LedgerStats, read: Callable[[LedgerStats], int]
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(read(stats))

    return observe


def observe_projections(
    meter_provider: metrics.MeterProvider, runners: Mapping[str, RunnerStats]
) -> None:
    """The lag of each projection this process leads, as of its runner's last report
    (ledger/projections/runner.py LAG_REPORT_SECONDS): a standby reports none."""
    meter = meter_provider.get_meter("ledger.projections")

    def events(_options: CallbackOptions) -> Iterable[Observation]:
        for name, stats in list(runners.items()):
            if stats.leading:
                yield Observation(stats.events_behind, {"projection": name})

    def seconds(_options: CallbackOptions) -> Iterable[Observation]:
        for name, stats in list(runners.items()):
            if stats.leading:
                yield Observation(stats.seconds_behind, {"projection": name})

    meter.create_observable_gauge(
        "ledger.projection.lag.events",
        [events],
        unit="{event}",
        description="Events in the log not yet applied to the projection (runners leading here)",
    )
    meter.create_observable_gauge(
        "ledger.projection.lag",
        [seconds],
        unit="s",
        description="Age of the newest applied event behind the newest in the log",
    )
