-- The program streams' events (every program's, or one's): their revisions, which the finance
-- report reads before the replay for each program's time zone and point values. A few events
-- per program, in the columns and order of audit_events.sql.
SELECT program_id, stream_id, version, event_id::text, event_type, schema_version,
    data::text, metadata::text,
    to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired, hash
FROM ledger.events
WHERE stream_id = %(stream_id)s::text
    AND (%(program_id)s::text IS NULL OR program_id = %(program_id)s::text)
ORDER BY program_id, stream_id, version
