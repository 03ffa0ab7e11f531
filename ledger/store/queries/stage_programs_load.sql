-- The stage settings of the programs a page touches, from the slot's table ({programs}).
SELECT program_id, lapsed_after_days, action_purchases, action_window_days, review_action_ids
FROM {programs}
WHERE program_id = ANY (%(program_ids)s::text[])
