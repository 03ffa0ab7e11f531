-- Every event in global order after a position. Transaction ids are assigned when a
-- transaction starts but commits happen in any order, so a reader stops below the oldest
-- transaction still running (pg_snapshot_xmin): everything before that is committed or
-- gone, and nothing can appear later behind the reader's position. Writers stay parallel.
SELECT program_id, stream_id, version, event_id::text, event_type, schema_version, data, metadata,
    recorded_at, points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired, hash, transaction_id::text, position
FROM ledger.events AS e
WHERE (transaction_id, position) > (%(after_transaction)s::xid8, %(after_position)s::bigint)
    AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
    AND (%(program_id)s::text IS NULL OR program_id = %(program_id)s::text)
-- Qualified: a bare transaction_id here would name the output column, the id as text, and
-- order 10 before 9 (and scan and sort the whole log instead of walking its index).
ORDER BY e.transaction_id, e.position
LIMIT %(limit)s
