-- Moves the slot's checkpoint past a folded page (its row held by stage_checkpoint_hold.sql).
UPDATE ledger.projection_checkpoints
SET transaction_id = %(last_transaction)s::xid8,
    position = %(last_position)s::bigint,
    events_applied = events_applied + %(events)s,
    last_event_recorded_at = %(last_recorded_at)s,
    runner = %(runner)s,
    updated_at = now()
WHERE projection = %(projection)s AND slot = %(slot)s
