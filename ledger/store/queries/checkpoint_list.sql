-- Every checkpoint, oldest first, its instant spelled as the signed statement spells it.
SELECT checkpoint_id, period_start, to_char(made_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    tree_size, root, key_id, signature
FROM ledger.checkpoints
ORDER BY checkpoint_id
