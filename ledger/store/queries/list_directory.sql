-- A page of a program's accounts from the member directory (its live slot), in member id
-- order after a member id, filtered. Every filter is a pair of inclusive bounds, NULL when
-- unset: the caller's filter arrives as these parameters, never as SQL text.
-- The directory names accounts by key; the ids come from the members' links, so a member
-- forgotten (no link) is listed no more. The links are read in member id order from their
-- primary key, and each one's row is looked up by key in the live slot (the two branches
-- below are ledger.member_directory spelled out, so that the key reaches each slot's primary
-- key as an index probe per link: joined to the view, the key stayed outside it and each
-- link scanned the whole program). A page costs the links it passes over.
-- Each account's loyalty stage comes from the stage view's live slot, looked up by key the
-- same way (NULL until that view has applied the account).
SELECT m.member_id, d.member_key, d.version, d.enroll_time, d.last_activity_time,
    d.points_available, d.points_pending, d.points_held, d.points_lifetime_earned,
    d.points_lifetime_redeemed, d.points_expired, s.stage, s.stage_time, d.tier
FROM ledger.members AS m
CROSS JOIN LATERAL (
    SELECT a.*
    FROM ledger.member_directory_a AS a
    WHERE a.program_id = m.program_id AND a.member_key = m.member_key
        AND (SELECT c.slot FROM ledger.projection_checkpoints AS c
             WHERE c.projection = 'member_directory' AND c.live) = 'a'
    UNION ALL
    SELECT b.*
    FROM ledger.member_directory_b AS b
    WHERE b.program_id = m.program_id AND b.member_key = m.member_key
        AND (SELECT c.slot FROM ledger.projection_checkpoints AS c
             WHERE c.projection = 'member_directory' AND c.live) = 'b'
) AS d
LEFT JOIN LATERAL (
    SELECT sa.stage, sa.stage_time
    FROM ledger.member_stages_a AS sa
    WHERE sa.program_id = m.program_id AND sa.member_key = m.member_key
        AND (SELECT c.slot FROM ledger.projection_checkpoints AS c
             WHERE c.projection = 'member_stages' AND c.live) = 'a'
    UNION ALL
    SELECT sb.stage, sb.stage_time
    FROM ledger.member_stages_b AS sb
    WHERE sb.program_id = m.program_id AND sb.member_key = m.member_key
        AND (SELECT c.slot FROM ledger.projection_checkpoints AS c
             WHERE c.projection = 'member_stages' AND c.live) = 'b'
) AS s ON true
WHERE m.program_id = %(program_id)s
    AND m.member_id > %(after_member_id)s
    AND (%(min_available)s::bigint IS NULL OR d.points_available >= %(min_available)s::bigint)
    AND (%(max_available)s::bigint IS NULL OR d.points_available <= %(max_available)s::bigint)
    AND (%(min_pending)s::bigint IS NULL OR d.points_pending >= %(min_pending)s::bigint)
    AND (%(max_pending)s::bigint IS NULL OR d.points_pending <= %(max_pending)s::bigint)
    AND (%(min_held)s::bigint IS NULL OR d.points_held >= %(min_held)s::bigint)
    AND (%(max_held)s::bigint IS NULL OR d.points_held <= %(max_held)s::bigint)
    AND (%(min_lifetime_earned)s::bigint IS NULL OR d.points_lifetime_earned >= %(min_lifetime_earned)s::bigint)
    AND (%(max_lifetime_earned)s::bigint IS NULL OR d.points_lifetime_earned <= %(max_lifetime_earned)s::bigint)
    AND (%(min_lifetime_redeemed)s::bigint IS NULL OR d.points_lifetime_redeemed >= %(min_lifetime_redeemed)s::bigint)
    AND (%(max_lifetime_redeemed)s::bigint IS NULL OR d.points_lifetime_redeemed <= %(max_lifetime_redeemed)s::bigint)
    AND (%(min_expired)s::bigint IS NULL OR d.points_expired >= %(min_expired)s::bigint)
    AND (%(max_expired)s::bigint IS NULL OR d.points_expired <= %(max_expired)s::bigint)
    AND (%(min_version)s::bigint IS NULL OR d.version >= %(min_version)s::bigint)
    AND (%(max_version)s::bigint IS NULL OR d.version <= %(max_version)s::bigint)
    AND (%(min_enroll_time)s::timestamptz IS NULL OR d.enroll_time >= %(min_enroll_time)s::timestamptz)
    AND (%(max_enroll_time)s::timestamptz IS NULL OR d.enroll_time <= %(max_enroll_time)s::timestamptz)
    AND (%(min_last_activity_time)s::timestamptz IS NULL OR d.last_activity_time >= %(min_last_activity_time)s::timestamptz)
    AND (%(max_last_activity_time)s::timestamptz IS NULL OR d.last_activity_time <= %(max_last_activity_time)s::timestamptz)
    AND (%(stage)s::text IS NULL OR s.stage = %(stage)s::text)
    -- "" asks for the members below the lowest tier: those never in one, too.
    AND (%(tier)s::text IS NULL OR coalesce(d.tier, '') = %(tier)s::text)
ORDER BY m.member_id
LIMIT %(limit)s
