-- The member directory's part of a page (projection_page.sql): one upsert for the whole page.
-- Per account, the row of its highest version in the page gives the version and balances;
-- the page's version-1 event gives the enrolment time; its newest event not appended by the
-- housekeeping sweep moves the last activity time; its newest TierChanged sets the tier (its
-- `to_tier`; an account with none in the page keeps the tier it had). Program streams are
-- skipped.
-- A stream's versions follow the global order (each append is decided on the committed
-- version before it), and the checkpoint never hands a page over twice; the guard on
-- version is a second line behind both: an account never moves backwards.
INSERT INTO {view} AS d (
    program_id, member_key, version, enroll_time, last_activity_time,
    points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired, tier
)
-- One sort of the page serves the window and DISTINCT ON. No join: its plan would rest on a
-- row estimate for the page that PostgreSQL cannot make (it guesses 1 row for a range at the
-- top of the global order), and the nested loop it then picks is quadratic in the page.
SELECT DISTINCT ON (program_id, stream_id)
    program_id, stream_id, version,
    min(recorded_at) FILTER (WHERE version = 1) OVER account AS enroll_time,
    max(recorded_at) FILTER (
        WHERE coalesce(command, '') <> ALL (%(housekeeping_commands)s::text[])
    ) OVER account AS last_activity_time,
    points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired,
    (array_agg(data ->> 'to_tier') FILTER (
        WHERE event_type = %(tier_changed_type)s::text
    ) OVER newest)[1] AS tier
FROM page
WHERE NOT starts_with(stream_id, %(non_account_prefix)s::text)
WINDOW account AS (PARTITION BY program_id, stream_id),
    -- Newest first over the whole account: the same sort as DISTINCT ON's.
    newest AS (
        PARTITION BY program_id, stream_id ORDER BY version DESC
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    )
ORDER BY program_id, stream_id, version DESC
ON CONFLICT (program_id, member_key) DO UPDATE SET
    version = excluded.version,
    enroll_time = d.enroll_time,
    last_activity_time = greatest(d.last_activity_time, excluded.last_activity_time),
    points_available = excluded.points_available,
    points_pending = excluded.points_pending,
    points_held = excluded.points_held,
    points_lifetime_earned = excluded.points_lifetime_earned,
    points_lifetime_redeemed = excluded.points_lifetime_redeemed,
    points_expired = excluded.points_expired,
    tier = coalesce(excluded.tier, d.tier)
WHERE d.version < excluded.version
