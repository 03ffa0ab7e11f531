-- A page of a program's accounts from the member directory (its live slot), in member id
-- order after a member id, filtered. Every filter is a pair of inclusive bounds, NULL when
-- unset: the caller's filter arrives as these parameters, never as SQL text.
SELECT member_id, version, enroll_time, last_activity_time, points_available, points_pending,
    points_held, points_lifetime_earned, points_lifetime_redeemed, points_expired
FROM ledger.member_directory
WHERE program_id = %(program_id)s
    AND member_id > %(after_member_id)s
    AND (%(min_available)s::bigint IS NULL OR points_available >= %(min_available)s::bigint)
    AND (%(max_available)s::bigint IS NULL OR points_available <= %(max_available)s::bigint)
    AND (%(min_pending)s::bigint IS NULL OR points_pending >= %(min_pending)s::bigint)
    AND (%(max_pending)s::bigint IS NULL OR points_pending <= %(max_pending)s::bigint)
    AND (%(min_held)s::bigint IS NULL OR points_held >= %(min_held)s::bigint)
    AND (%(max_held)s::bigint IS NULL OR points_held <= %(max_held)s::bigint)
    AND (%(min_lifetime_earned)s::bigint IS NULL OR points_lifetime_earned >= %(min_lifetime_earned)s::bigint)
    AND (%(max_lifetime_earned)s::bigint IS NULL OR points_lifetime_earned <= %(max_lifetime_earned)s::bigint)
    AND (%(min_lifetime_redeemed)s::bigint IS NULL OR points_lifetime_redeemed >= %(min_lifetime_redeemed)s::bigint)
    AND (%(max_lifetime_redeemed)s::bigint IS NULL OR points_lifetime_redeemed <= %(max_lifetime_redeemed)s::bigint)
    AND (%(min_expired)s::bigint IS NULL OR points_expired >= %(min_expired)s::bigint)
    AND (%(max_expired)s::bigint IS NULL OR points_expired <= %(max_expired)s::bigint)
    AND (%(min_version)s::bigint IS NULL OR version >= %(min_version)s::bigint)
    AND (%(max_version)s::bigint IS NULL OR version <= %(max_version)s::bigint)
    AND (%(min_enroll_time)s::timestamptz IS NULL OR enroll_time >= %(min_enroll_time)s::timestamptz)
    AND (%(max_enroll_time)s::timestamptz IS NULL OR enroll_time <= %(max_enroll_time)s::timestamptz)
    AND (%(min_last_activity_time)s::timestamptz IS NULL OR last_activity_time >= %(min_last_activity_time)s::timestamptz)
    AND (%(max_last_activity_time)s::timestamptz IS NULL OR last_activity_time <= %(max_last_activity_time)s::timestamptz)
ORDER BY member_id
LIMIT %(limit)s
