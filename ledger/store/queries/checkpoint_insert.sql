INSERT INTO ledger.checkpoints
    (checkpoint_id, period_start, made_at, tree_size, root, key_id, signature)
VALUES (%(checkpoint_id)s, %(period_start)s, %(made_at)s, %(tree_size)s, %(root)s,
    %(key_id)s, %(signature)s)
