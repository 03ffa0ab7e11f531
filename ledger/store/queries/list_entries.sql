-- A page of one account's entries, filtered by type and time, oldest first.
SELECT program_id, stream_id, version, event_id::text, event_type, schema_version, data, metadata,
    recorded_at, points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired, hash, transaction_id::text, position
FROM ledger.events
WHERE program_id = %(program_id)s AND stream_id = %(stream_id)s
    AND version > %(after_version)s
    AND (cardinality(%(event_types)s::text[]) = 0 OR event_type = ANY(%(event_types)s::text[]))
    AND (%(start_time)s::timestamptz IS NULL OR recorded_at >= %(start_time)s::timestamptz)
    AND (%(end_time)s::timestamptz IS NULL OR recorded_at < %(end_time)s::timestamptz)
ORDER BY version
LIMIT %(limit)s
