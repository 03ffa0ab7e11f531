-- Both checkpoint rows of a projection, locked for a swap, in slot order (the one order
-- every locker of two rows uses). The live runner's next page waits on its row meanwhile.
SELECT slot, live, transaction_id::text, position
FROM ledger.projection_checkpoints
WHERE projection = %(projection)s
ORDER BY slot
FOR UPDATE
