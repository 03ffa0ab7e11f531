-- The heads just taken for a checkpoint, in leaf order, to compute the root over them.
SELECT program_id, stream_id, version, hash
FROM ledger.checkpoint_leaves
WHERE checkpoint_id = %(checkpoint_id)s
ORDER BY leaf_index
