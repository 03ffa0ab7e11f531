"""The ledger's own metrics, read from its counters when metrics are collected (a scrape, or
an export every OTEL_METRIC_EXPORT_INTERVAL): nothing is counted twice on the write path.
The calls' metrics are service/rpc_telemetry.py's, the pool's ledger/store/telemetry.py's.
The names, as Prometheus shows them, are listed in the README ("Metrics")."""

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from ledger.application import LedgerStats
from ledger.eventlog.horizon import ReadHorizon
from ledger.feed import EventFeed, FeedStats
from ledger.projections.runner import RunnerStats
from service.horizon import LastHorizon

Stats = TypeVar("Stats", LedgerStats, FeedStats)

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
    stats: Stats, read: Callable[[Stats], int]
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(read(stats))

    return observe


def observe_projections(
    meter_provider: metrics.MeterProvider, runners: Mapping[str, RunnerStats]
) -> None:
    """The lag of each projection this process leads, as of its runner's last report
    (ledger/projections/runner.py LAG_REPORT_SECONDS): a standby reports none. And whether it
    leads each projection it runs: summed over every process, 1 for each projection."""
    meter = meter_provider.get_meter("ledger.projections")

    def leading(_options: CallbackOptions) -> Iterable[Observation]:
        for name, stats in list(runners.items()):
            yield Observation(int(stats.leading), {"projection": name})

    meter.create_observable_gauge(
        "ledger.projection.leading",
        [leading],
        description="1 where this process's runner holds the projection's lock and applies"
        " its pages, 0 where it stands by",
    )

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


_FEED_COUNTERS: tuple[tuple[str, str, str, Callable[[FeedStats], int]], ...] = (
    (
        "ledger.feed.events.published",
        "{event}",
        "Events the StreamEvents feed read from the log and handed to its live followers",
        lambda stats: stats.events_published,
    ),
    (
        "ledger.feed.overflows",
        "{subscriber}",
        "Live followers dropped from the fan-out for a full queue (each catches up by itself)",
        lambda stats: stats.overflows,
    ),
    (
        "ledger.feed.errors",
        "{error}",
        "Reads of the tail that failed (its live followers ended with the error)",
        lambda stats: stats.tail_errors,
    ),
)
_FEED_LABELLED: tuple[tuple[str, str, str, str, Callable[[FeedStats], dict[str, int]]], ...] = (
    (
        "ledger.feed.reads",
        "{read}",
        "Queries of the global order the feed made, by kind",
        "kind",
        lambda stats: {
            "tail": stats.tail_reads,
            "head": stats.head_reads,
            "newest": stats.newest_reads,
            "catch_up": stats.catch_up_reads,
        },
    ),
    (
        "ledger.feed.rounds",
        "{round}",
        "Reads of the tail begun, by what began them: an append's notification, the feed's own"
        " look again at events held back behind the read horizon, or the poll",
        "woken_by",
        lambda stats: {
            "notification": stats.notified_rounds,
            "held_back": stats.held_back_rounds,
            "poll": stats.polled_rounds,
        },
    ),
)


def observe_feed(meter_provider: metrics.MeterProvider, feed: EventFeed) -> None:
    """The shared StreamEvents feed's counters (ledger/feed.py) and its live followers."""
    meter = meter_provider.get_meter("ledger.feed")
    for name, unit, description, read in _FEED_COUNTERS:
        meter.create_observable_counter(
            name, [_counter(feed.stats, read)], unit=unit, description=description
        )
    for name, unit, description, label, read_all in _FEED_LABELLED:
        meter.create_observable_counter(
            name, [_labelled(feed.stats, label, read_all)], unit=unit, description=description
        )

    def subscribers(_options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(feed.live_subscribers)

    meter.create_observable_gauge(
        "ledger.feed.subscribers",
        [subscribers],
        unit="{subscriber}",
        description="StreamEvents calls following the feed live now (not those catching up)",
    )


def _labelled(
    stats: FeedStats, label: str, read: Callable[[FeedStats], dict[str, int]]
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        for value, count in read(stats).items():
            yield Observation(count, {label: value})

    return observe


def observe_read_horizon(meter_provider: metrics.MeterProvider, last: LastHorizon) -> None:
    """The read horizon as of the server's last check (LEDGER_READ_HORIZON_CHECK_SECONDS):
    none before the first."""
    meter = meter_provider.get_meter("ledger.read_horizon")
    gauges: tuple[tuple[str, str, str, Callable[[ReadHorizon], float]], ...] = (
        (
            "ledger.read_horizon.held",
            "s",
            "How long the oldest transaction holding readers of the log back has been open"
            " (0 when none, or when this role may not see it)",
            lambda report: report.held_seconds,
        ),
        (
            "ledger.read_horizon.hidden_events",
            "{event}",
            "Committed events readers of the log cannot see yet (counted up to 100,000)",
            lambda report: report.hidden_events,
        ),
        (
            "ledger.read_horizon.transactions_behind",
            "{transaction}",
            "Transaction ids assigned since the oldest one still running",
            lambda report: report.transactions_behind,
        ),
    )
    for name, unit, description, read in gauges:
        meter.create_observable_gauge(
            name, [_last_report(last, read)], unit=unit, description=description
        )


def _last_report(
    last: LastHorizon, read: Callable[[ReadHorizon], float]
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        if last.report is not None:
            yield Observation(read(last.report))

    return observe
