-- Second half of a swap (projection_swap.sql): the rebuilt slot goes live.
UPDATE ledger.projection_checkpoints SET live = true, updated_at = now()
WHERE projection = %(projection)s AND slot = %(new_live)s AND NOT live
