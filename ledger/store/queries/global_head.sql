-- The last event readers may see: the newest one below the oldest running transaction
-- (see read_all.sql). A follower that starts here misses nothing later: every transaction
-- that can still commit has an id at or above that horizon, so it sorts after this event.
SELECT transaction_id::text, position
FROM ledger.events
WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id DESC, position DESC
LIMIT 1
