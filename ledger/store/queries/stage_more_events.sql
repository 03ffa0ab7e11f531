-- Committed events after a page of the stage view: some wait beyond the horizon, behind an
-- older transaction still running (projection_page.sql says why the runner then looks again
-- soon), or were committed since the page was read. Asked after reading the clock: when there
-- are none, every event recorded before that instant has been applied, so lapses due by then
-- can be recorded without missing an event of the member's before them.
-- The newest committed event, one step of the global order's index (projection_page.sql
-- says why not an EXISTS).
SELECT coalesce((
    SELECT (transaction_id, position) > (%(after_transaction)s::xid8, %(after_position)s::bigint)
    FROM ledger.events
    ORDER BY transaction_id DESC, position DESC
    LIMIT 1
), false)
