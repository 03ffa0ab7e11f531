"""The tests-only event_counts projection (event_counts.sql, event_counts_apply.sql): per
stream and per runner, how many events that runner applied."""

from ledger.projections.catalog import Projection

EVENT_COUNTS = Projection(
    name="event_counts",
    apply_package="tests.projections",
    apply_path="event_counts_apply.sql",
    description="tests only: events per stream and runner",
)
