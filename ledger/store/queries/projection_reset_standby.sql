-- A rebuild starts its standby slot over from position 0 (its rows are emptied by a TRUNCATE
-- in the same transaction).
UPDATE ledger.projection_checkpoints
SET transaction_id = '0', position = 0, events_applied = 0, last_event_recorded_at = NULL,
    runner = %(runner)s, updated_at = now()
WHERE projection = %(projection)s AND NOT live
RETURNING slot
