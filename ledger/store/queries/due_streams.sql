-- Streams with something due by a time, for the sweep; oldest due first.
SELECT program_id, stream_id
FROM ledger.streams
WHERE next_due_at <= %(now)s
ORDER BY next_due_at
LIMIT %(limit)s
