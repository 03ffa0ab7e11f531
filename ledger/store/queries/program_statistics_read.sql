-- A program's figures for one period from the live slot of the program statistics: its rows
-- (one per currency, '' for its points), the points outstanding at the end of its last day
-- (the newest day row up to then), the members per tier now, and how far the slot has got.
-- One statement, so all of it comes from the one slot its snapshot calls live; always one
-- row at least.
WITH live AS MATERIALIZED (
    SELECT c.slot, c.last_event_recorded_at
    FROM ledger.projection_checkpoints AS c
    WHERE c.projection = 'program_statistics' AND c.live
),
figures AS (
    SELECT a.currency_code, a.customers, a.new_customers, a.repeat_customers, a.orders,
        a.gross_revenue_minor, a.refunds, a.refunded_minor, a.points_issued,
        a.points_redeemed, a.points_expired, a.promoters, a.passives, a.detractors,
        a.ces_sum, a.ces_count, a.csat_sum, a.csat_count, a.referrals_started,
        a.referrals_credited
    FROM ledger.program_statistics_a AS a
    WHERE (SELECT slot FROM live) = 'a' AND a.program_id = %(program_id)s
        AND a.period_kind = %(period_kind)s AND a.period_start = %(first_day)s
    UNION ALL
    SELECT b.currency_code, b.customers, b.new_customers, b.repeat_customers, b.orders,
        b.gross_revenue_minor, b.refunds, b.refunded_minor, b.points_issued,
        b.points_redeemed, b.points_expired, b.promoters, b.passives, b.detractors,
        b.ces_sum, b.ces_count, b.csat_sum, b.csat_count, b.referrals_started,
        b.referrals_credited
    FROM ledger.program_statistics_b AS b
    WHERE (SELECT slot FROM live) = 'b' AND b.program_id = %(program_id)s
        AND b.period_kind = %(period_kind)s AND b.period_start = %(first_day)s
),
outstanding AS (
    (
        SELECT a.points_outstanding
        FROM ledger.program_statistics_a AS a
        WHERE (SELECT slot FROM live) = 'a' AND a.program_id = %(program_id)s
            AND a.currency_code = '' AND a.period_kind = 'd'
            AND a.period_start <= %(last_day)s
        ORDER BY a.period_start DESC
        LIMIT 1
    )
    UNION ALL
    (
        SELECT b.points_outstanding
        FROM ledger.program_statistics_b AS b
        WHERE (SELECT slot FROM live) = 'b' AND b.program_id = %(program_id)s
            AND b.currency_code = '' AND b.period_kind = 'd'
            AND b.period_start <= %(last_day)s
        ORDER BY b.period_start DESC
        LIMIT 1
    )
),
-- Members per tier now (not of the period): one row per tier the program has named.
tiers AS (
    SELECT a.tier, a.members
    FROM ledger.program_statistics_tiers_a AS a
    WHERE (SELECT slot FROM live) = 'a' AND a.program_id = %(program_id)s AND a.members > 0
    UNION ALL
    SELECT b.tier, b.members
    FROM ledger.program_statistics_tiers_b AS b
    WHERE (SELECT slot FROM live) = 'b' AND b.program_id = %(program_id)s AND b.members > 0
)
SELECT f.currency_code, f.customers, f.new_customers, f.repeat_customers, f.orders,
    f.gross_revenue_minor, f.refunds, f.refunded_minor, f.points_issued, f.points_redeemed,
    f.points_expired,
    (SELECT o.points_outstanding FROM outstanding AS o LIMIT 1),
    (SELECT l.last_event_recorded_at FROM live AS l),
    (SELECT coalesce(jsonb_object_agg(t.tier, t.members), '{}') FROM tiers AS t),
    f.promoters, f.passives, f.detractors, f.ces_sum, f.ces_count, f.csat_sum, f.csat_count,
    f.referrals_started, f.referrals_credited
FROM (SELECT) AS one
LEFT JOIN figures AS f ON true
ORDER BY f.currency_code
