-- The stage rows of the accounts a page touches, from the slot's table ({stages}).
SELECT s.program_id, s.member_key, s.stage, s.stage_time, s.purchases,
    s.recent_purchase_times, s.redeemed, s.affective, s.last_activity_time
FROM unnest(%(program_ids)s::text[], %(member_keys)s::text[]) AS k (program_id, member_key)
JOIN {stages} AS s ON s.program_id = k.program_id AND s.member_key = k.member_key
