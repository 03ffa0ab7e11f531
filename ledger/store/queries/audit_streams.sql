-- The stored state rows of the same key range, in the same order as audit_events, to merge
-- with the replay.
SELECT program_id, stream_id, version, last_hash, points_available, points_pending,
    points_held, points_lifetime_earned, points_lifetime_redeemed, points_expired
FROM ledger.streams
WHERE (%(program_id)s::text IS NULL OR program_id = %(program_id)s::text)
    AND (%(from_program)s::text IS NULL
        OR (program_id, stream_id) >= (%(from_program)s::text, %(from_stream)s::text))
    AND (%(to_program)s::text IS NULL
        OR (program_id, stream_id) < (%(to_program)s::text, %(to_stream)s::text))
ORDER BY program_id, stream_id
