-- Makes the standby live and the live one the standby, under the locks taken by
-- projection_lock_slots.sql. Two statements in one transaction, the old live row first:
-- the unique index allows one live row at a time and is checked row by row.
UPDATE ledger.projection_checkpoints SET live = false, updated_at = now()
WHERE projection = %(projection)s AND slot = %(old_live)s AND live
