-- Every event of the streams in one key range (or of one program's), stream by stream in
-- version order, for replay. Read through a cursor a batch at a time: memory stays flat
-- however long the log is.
-- The texts come as the canonical text (ledger/codec/chain.py) needs them: jsonb as printed,
-- recorded_at already spelled as instants are in events.
SELECT program_id, stream_id, version, event_id::text, event_type, schema_version,
    data::text, metadata::text,
    to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired, hash
FROM ledger.events
WHERE (%(program_id)s::text IS NULL OR program_id = %(program_id)s::text)
    -- A parallel replay gives each worker a range of stream keys (audit_ranges.sql).
    AND (%(from_program)s::text IS NULL
        OR (program_id, stream_id) >= (%(from_program)s::text, %(from_stream)s::text))
    AND (%(to_program)s::text IS NULL
        OR (program_id, stream_id) < (%(to_program)s::text, %(to_stream)s::text))
ORDER BY program_id, stream_id, version
