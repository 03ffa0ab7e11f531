-- The stored state rows in the same order as audit_events, to merge with the replay.
SELECT program_id, stream_id, version, last_hash, points_available, points_pending,
    points_held, points_lifetime_earned, points_lifetime_redeemed, points_expired
FROM ledger.streams
WHERE (%(program_id)s::text IS NULL OR program_id = %(program_id)s::text)
    AND (%(parts)s::integer = 1
        OR (hashtext(program_id || '/' || stream_id) & 2147483647) %% %(parts)s::integer
            = %(part)s::integer)
ORDER BY program_id, stream_id
