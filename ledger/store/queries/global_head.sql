-- The last event readers may see: the newest one below the oldest running transaction
-- (see read_all.sql). A follower that starts here misses nothing later: every transaction
-- that can still commit has an id at or above that horizon, so it sorts after this event.
SELECT transaction_id::text, position
FROM ledger.events AS e
WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
-- Qualified: a bare transaction_id would order by the output column (text), as read_all.sql says.
ORDER BY e.transaction_id DESC, e.position DESC
LIMIT 1
