-- An account's current state row.
SELECT version, state, created_at, updated_at
FROM ledger.streams
WHERE program_id = %(program_id)s AND stream_id = %(stream_id)s
