-- One stream's events in version order, for replay and ledger listings.
SELECT program_id, stream_id, version, event_id::text, event_type, schema_version, data, metadata,
    recorded_at, points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired, hash, transaction_id::text, position
FROM ledger.events
WHERE program_id = %(program_id)s AND stream_id = %(stream_id)s
    AND version > %(after_version)s
ORDER BY version
LIMIT %(limit)s
