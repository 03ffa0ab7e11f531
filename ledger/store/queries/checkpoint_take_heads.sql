-- Every stream's head, from its state row (one row per stream, written in the same statement
-- as its events; the audit holds each to its events), in leaf order, in one statement: one
-- snapshot of the whole log.
INSERT INTO ledger.checkpoint_leaves (checkpoint_id, leaf_index, program_id, stream_id, version, hash)
SELECT %(checkpoint_id)s, row_number() OVER (ORDER BY program_id, stream_id) - 1,
    program_id, stream_id, version, last_hash
FROM ledger.streams
