-- The lapse sweep of the stage view: members whose lapse fell due by `now` (with nothing
-- since, or their due time would have moved) become lapsed at the moment it fell due,
-- recorded in the slot's history at the slot's checkpoint, after any event's changes there
-- (ordinals from a sequence, above every event's). ledger/domain/stages.py lapsed_by() is
-- the rule; this is it for many members in one statement.
WITH due AS (
    SELECT program_id, member_key, stage, lapse_due_time
    FROM {stages}
    WHERE lapse_due_time <= %(now)s
    ORDER BY lapse_due_time
    LIMIT %(limit)s
    FOR UPDATE
),
lapsed AS (
    UPDATE {stages} AS s
    SET stage = 'lapsed', stage_time = d.lapse_due_time, lapse_due_time = NULL
    FROM due AS d
    WHERE s.program_id = d.program_id AND s.member_key = d.member_key
    RETURNING d.program_id, d.member_key, d.stage AS from_stage, d.lapse_due_time
)
INSERT INTO {changes} (
    program_id, member_key, at_transaction, at_position, ordinal, change_time, from_stage,
    to_stage, cause_event_id, cause_event_type
)
SELECT program_id, member_key, %(at_transaction)s::xid8, %(at_position)s::bigint,
    %(ordinal_base)s::bigint + nextval('ledger.member_stage_lapse_ordinals'),
    lapse_due_time, from_stage, 'lapsed', NULL, ''
FROM lapsed
