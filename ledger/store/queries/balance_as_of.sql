-- The balances stored on the last event recorded at or before a time: one index look-up.
SELECT version, points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired
FROM ledger.events
WHERE program_id = %(program_id)s AND stream_id = %(stream_id)s
    AND recorded_at <= %(as_of)s
ORDER BY recorded_at DESC, version DESC
LIMIT 1
