-- Committed events after a page of the stage view: some wait beyond the horizon, behind an
-- older transaction still running (projection_page.sql says why the runner then looks again
-- soon), or were committed since the page was read. Asked after reading the clock: when there
-- are none, every event recorded before that instant has been applied, so lapses due by then
-- can be recorded without missing an event of the member's before them.
SELECT EXISTS (
    SELECT FROM ledger.events
    WHERE (transaction_id, position) > (%(after_transaction)s::xid8, %(after_position)s::bigint)
)
