-- Committed events at or past the horizon: they wait only for an older transaction to end
-- (projection_page.sql says why the runner then looks again soon).
SELECT EXISTS (
    SELECT FROM ledger.events
    WHERE (transaction_id, position) >= (pg_snapshot_xmin(pg_current_snapshot()), 0)
)
