-- A page of the loyalty stage view (ledger/store/stage_pages.py): the next events in the
-- global order after the slot's checkpoint, below the horizon (read_all.sql says why) and up
-- to an upper bound the caller may set. Every event moves the checkpoint; only the data of
-- the types the stage rules read is fetched.
SELECT program_id, stream_id, event_id::text, event_type, schema_version,
    CASE WHEN event_type = ANY (%(read_types)s::text[]) THEN data END AS data,
    recorded_at, transaction_id::text, position
FROM ledger.events AS e
WHERE (transaction_id, position) > (%(after_transaction)s::xid8, %(after_position)s::bigint)
    AND (transaction_id, position) <= (%(upto_transaction)s::xid8, %(upto_position)s::bigint)
    AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
-- Qualified: a bare transaction_id would order by the output column (text), as read_all.sql says.
ORDER BY e.transaction_id, e.position
LIMIT %(limit)s
