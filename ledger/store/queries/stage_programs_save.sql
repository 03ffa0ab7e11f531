-- A program's stage settings as its latest event states them, into the slot ({programs});
-- when its lapse threshold changed, the lapse due times of its members follow ({stages}).
WITH saved AS (
    INSERT INTO {programs} AS p (
        program_id, lapsed_after_days, action_purchases, action_window_days, review_action_ids
    )
    VALUES (
        %(program_id)s, %(lapsed_after_days)s, %(action_purchases)s, %(action_window_days)s,
        %(review_action_ids)s::text[]
    )
    ON CONFLICT (program_id) DO UPDATE SET
        lapsed_after_days = excluded.lapsed_after_days,
        action_purchases = excluded.action_purchases,
        action_window_days = excluded.action_window_days,
        review_action_ids = excluded.review_action_ids
    RETURNING program_id
)
UPDATE {stages} AS s
SET lapse_due_time = s.last_activity_time + make_interval(days => %(lapsed_after_days)s)
FROM saved
WHERE s.program_id = saved.program_id
    AND s.lapse_due_time IS NOT NULL
    AND s.lapse_due_time
        <> s.last_activity_time + make_interval(days => %(lapsed_after_days)s)
