-- One stream's state row.
SELECT program_id, stream_id, version, last_hash, state, created_at, updated_at
FROM ledger.streams
WHERE program_id = %(program_id)s AND stream_id = %(stream_id)s
