-- One account's stage row after a page, written whole into the slot's table ({stages}).
INSERT INTO {stages} AS s (
    program_id, member_key, stage, stage_time, purchases, recent_purchase_times, redeemed,
    affective, last_activity_time, lapse_due_time
)
VALUES (
    %(program_id)s, %(member_key)s, %(stage)s, %(stage_time)s, %(purchases)s,
    %(recent_purchase_times)s::timestamptz[], %(redeemed)s, %(affective)s,
    %(last_activity_time)s, %(lapse_due_time)s
)
ON CONFLICT (program_id, member_key) DO UPDATE SET
    stage = excluded.stage,
    stage_time = excluded.stage_time,
    purchases = excluded.purchases,
    recent_purchase_times = excluded.recent_purchase_times,
    redeemed = excluded.redeemed,
    affective = excluded.affective,
    last_activity_time = excluded.last_activity_time,
    lapse_due_time = excluded.lapse_due_time
