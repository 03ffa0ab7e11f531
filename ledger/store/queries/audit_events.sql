-- Every event of every stream (or one program's), stream by stream in version order, for
-- replay. Read through a server-side cursor so memory stays flat however long the log is.
SELECT program_id, stream_id, version, event_id, event_type, schema_version, data, metadata,
    recorded_at, points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired, hash, transaction_id::text, position
FROM ledger.events
WHERE %(program_id)s::text IS NULL OR program_id = %(program_id)s::text
ORDER BY program_id, stream_id, version
