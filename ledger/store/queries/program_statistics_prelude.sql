-- The program statistics' steps before its apply step (program_statistics_apply.sql), inside
-- one page (projection_page.sql). ledger/projections/program_statistics.py defines every
-- figure; here is how a page of events moves them.
--
-- Each event is placed in the day of its recorded_at in its program's time zone (the zone of
-- the program's latest settings at that point of the global order), and so in five periods:
-- that day, its ISO week, month, quarter and year.
--
-- Counting distinct members per period without reading them back: the first order of a
-- member in a period (and currency) inserts a marker row, and only the markers this page
-- inserted (RETURNING) add to the period's customers. Repeat customers are counted the same
-- way from orders that are not the member's first in the currency.
--
-- Each table is written by exactly one step (a statement may not change a row twice), and
-- every step reads the tables as they were before the page: ordinals continue from the
-- buyers' order counts, the outstanding total from the program's row.
--
-- To add a counter (a figure counted from some events): a column in ledger.program_statistics
-- (a migration), a branch in `contributions` below giving it for the events that move it
-- (0 in the other branches' column lists), and its sum in the apply step.
ordered AS MATERIALIZED (
    SELECT p.*, row_number() OVER (ORDER BY p.transaction_id, p.position) AS n
    FROM page AS p
),
settings AS MATERIALIZED (
    SELECT o.program_id, o.n,
        CASE
            -- A zone PostgreSQL does not know (a tz database older than Python's) counts as
            -- UTC rather than failing every page from here on.
            WHEN coalesce(o.data -> 'settings' ->> 'time_zone', 'UTC')
                IN (SELECT name FROM pg_timezone_names)
            THEN coalesce(o.data -> 'settings' ->> 'time_zone', 'UTC')
            ELSE 'UTC'
        END AS time_zone
    FROM ordered AS o
    WHERE starts_with(o.stream_id, %(non_account_prefix)s::text)
        AND o.event_type IN ('ProgramCreated', 'ProgramUpdated')
),
zoned AS MATERIALIZED (
    SELECT o.program_id, o.stream_id, o.version, o.event_type, o.data, o.n,
        (o.recorded_at AT TIME ZONE coalesce(
            -- Settings in the page are rare: looked for only when there are some.
            CASE WHEN EXISTS (SELECT FROM settings) THEN (
                SELECT s.time_zone FROM settings AS s
                WHERE s.program_id = o.program_id AND s.n < o.n
                ORDER BY s.n DESC
                LIMIT 1
            ) END,
            z.time_zone,
            'UTC'
        ))::date AS day,
        o.points_lifetime_earned AS earned, o.points_lifetime_redeemed AS redeemed,
        o.points_expired AS expired,
        greatest(o.points_available + o.points_pending + o.points_held, 0) AS outstanding,
        lag(o.version) OVER stream IS NULL AS first_in_page
    FROM ordered AS o
    LEFT JOIN {programs} AS z ON z.program_id = o.program_id
    WHERE NOT starts_with(o.stream_id, %(non_account_prefix)s::text)
    WINDOW stream AS (PARTITION BY o.program_id, o.stream_id ORDER BY o.version)
),
-- Per account event, what it changed: the difference with the account's previous event (in
-- the page, or else in the log, by its primary key).
moved AS MATERIALIZED (
    SELECT z.program_id, z.stream_id, z.event_type, z.data, z.n, z.day,
        z.earned - coalesce(lag(z.earned) OVER stream, before.earned, 0) AS issued,
        z.redeemed - coalesce(lag(z.redeemed) OVER stream, before.redeemed, 0) AS redeemed,
        z.expired - coalesce(lag(z.expired) OVER stream, before.expired, 0) AS expired,
        z.outstanding - coalesce(lag(z.outstanding) OVER stream, before.outstanding, 0)
            AS outstanding
    FROM zoned AS z
    LEFT JOIN LATERAL (
        SELECT e.points_lifetime_earned AS earned, e.points_lifetime_redeemed AS redeemed,
            e.points_expired AS expired,
            greatest(e.points_available + e.points_pending + e.points_held, 0) AS outstanding
        FROM ledger.events AS e
        WHERE z.first_in_page AND z.version > 1
            AND e.program_id = z.program_id AND e.stream_id = z.stream_id
            AND e.version = z.version - 1
        -- Keeps the look-up a probe of the primary key per account (a subquery with a LIMIT
        -- is not flattened into a join, which could hash the whole log).
        LIMIT 1
    ) AS before ON true
    WINDOW stream AS (PARTITION BY z.program_id, z.stream_id ORDER BY z.n)
),
purchases AS MATERIALIZED (
    SELECT m.program_id, m.stream_id AS member_key, m.data ->> 'currency_code' AS currency_code,
        (m.data ->> 'amount_minor')::bigint AS amount_minor, m.day,
        coalesce(b.orders, 0) + row_number() OVER (
            PARTITION BY m.program_id, m.stream_id, m.data ->> 'currency_code' ORDER BY m.n
        ) AS ordinal
    FROM moved AS m
    LEFT JOIN {buyers} AS b
        ON b.program_id = m.program_id AND b.member_key = m.stream_id
        AND b.currency_code = m.data ->> 'currency_code'
    WHERE m.event_type = 'PurchaseRecorded'
),
-- A refund is in the currency of the order it refunds, read from that order's event.
refunds AS MATERIALIZED (
    SELECT m.program_id, o.currency_code, (m.data ->> 'amount_minor')::bigint AS amount_minor,
        m.day
    FROM moved AS m
    CROSS JOIN LATERAL (
        SELECT e.data ->> 'currency_code' AS currency_code
        FROM ledger.events AS e
        WHERE e.program_id = m.program_id AND e.stream_id = m.stream_id
            AND e.event_type = 'PurchaseRecorded'
            AND e.data ->> 'order_id' = m.data ->> 'order_id'
        LIMIT 1
    ) AS o
    WHERE m.event_type = 'PurchaseRefunded'
),
new_marks AS (
    INSERT INTO {marks} AS k (
        program_id, currency_code, period_kind, period_start, mark, member_key
    )
    SELECT DISTINCT p.program_id, p.currency_code, period.kind, period.start, mark.mark,
        p.member_key
    FROM purchases AS p
    CROSS JOIN LATERAL (
        VALUES ('d'::"char", p.day),
            ('w', date_trunc('week', p.day::timestamp)::date),
            ('m', date_trunc('month', p.day::timestamp)::date),
            ('q', date_trunc('quarter', p.day::timestamp)::date),
            ('y', date_trunc('year', p.day::timestamp)::date)
    ) AS period (kind, start)
    CROSS JOIN LATERAL (VALUES ('c'::"char"), ('r')) AS mark (mark)
    WHERE mark.mark = 'c' OR p.ordinal > 1
    ON CONFLICT DO NOTHING
    RETURNING k.program_id, k.currency_code, k.period_kind, k.period_start, k.mark
),
buyers_written AS (
    INSERT INTO {buyers} AS b (program_id, member_key, currency_code, orders)
    SELECT p.program_id, p.member_key, p.currency_code, max(p.ordinal)
    FROM purchases AS p
    GROUP BY p.program_id, p.member_key, p.currency_code
    ON CONFLICT (program_id, member_key, currency_code) DO UPDATE SET orders = excluded.orders
),
-- The program's outstanding points after each account event of the page, and per program
-- the last such total and the zone of its latest settings.
running AS MATERIALIZED (
    SELECT m.program_id, m.day, m.n,
        coalesce(z.points_outstanding, 0)
            + sum(m.outstanding) OVER (PARTITION BY m.program_id ORDER BY m.n) AS outstanding
    FROM moved AS m
    LEFT JOIN {programs} AS z ON z.program_id = m.program_id
),
programs_written AS (
    INSERT INTO {programs} AS z (program_id, time_zone, points_outstanding)
    SELECT t.program_id, coalesce(s.time_zone, p.time_zone, 'UTC'),
        coalesce(r.outstanding, p.points_outstanding, 0)
    FROM (SELECT program_id FROM settings UNION SELECT program_id FROM running) AS t
    LEFT JOIN (
        SELECT DISTINCT ON (program_id) program_id, time_zone
        FROM settings ORDER BY program_id, n DESC
    ) AS s ON s.program_id = t.program_id
    LEFT JOIN (
        SELECT DISTINCT ON (program_id) program_id, outstanding
        FROM running ORDER BY program_id, n DESC
    ) AS r ON r.program_id = t.program_id
    LEFT JOIN {programs} AS p ON p.program_id = t.program_id
    ON CONFLICT (program_id) DO UPDATE
    SET time_zone = excluded.time_zone, points_outstanding = excluded.points_outstanding
),
-- The outstanding total after the last account event of each day of the page.
day_ends AS MATERIALIZED (
    SELECT DISTINCT ON (r.program_id, r.day) r.program_id, r.day, r.outstanding
    FROM running AS r
    ORDER BY r.program_id, r.day, r.n DESC
),
-- The survey answers and referrals of the page, counted on the program's row ('') of
-- their day (scores absent from an answer count in no figure of theirs). NPS bands as in
-- ledger/domain/feedback.py: promoters 9-10, passives 7-8, detractors 0-6.
answers AS MATERIALIZED (
    SELECT m.program_id, m.day,
        (m.data ->> 'nps_score')::int AS nps, (m.data ->> 'ces_score')::int AS ces,
        (m.data ->> 'csat_score')::int AS csat
    FROM moved AS m
    WHERE m.event_type = 'FeedbackRecorded'
),
-- Members per tier: +1 to the tier a TierChanged went to, -1 to the one it left ("", no
-- tier, is not counted). Every tier named gets its row, even at a net 0.
tiers_written AS (
    INSERT INTO {tiers} AS t (program_id, tier, members)
    SELECT c.program_id, c.tier, sum(c.delta)
    FROM moved AS m
    CROSS JOIN LATERAL (
        VALUES (m.program_id, m.data ->> 'to_tier', 1),
            (m.program_id, m.data ->> 'from_tier', -1)
    ) AS c (program_id, tier, delta)
    WHERE m.event_type = 'TierChanged' AND c.tier <> ''
    GROUP BY c.program_id, c.tier
    ON CONFLICT (program_id, tier) DO UPDATE SET members = t.members + excluded.members
),
contributions AS (
    SELECT p.program_id, p.currency_code, p.day,
        0 AS customers, (p.ordinal = 1)::int AS new_customers, 0 AS repeat_customers,
        1 AS orders, p.amount_minor AS gross_revenue_minor, 0 AS refunds, 0 AS refunded_minor,
        0 AS points_issued, 0 AS points_redeemed, 0 AS points_expired,
        NULL::bigint AS points_outstanding, NULL::"char" AS only_kind, NULL::date AS only_start,
        0 AS promoters, 0 AS passives, 0 AS detractors, 0 AS ces_sum, 0 AS ces_count,
        0 AS csat_sum, 0 AS csat_count, 0 AS referrals_started, 0 AS referrals_credited
    FROM purchases AS p
    UNION ALL
    SELECT r.program_id, r.currency_code, r.day, 0, 0, 0, 0, 0, 1, r.amount_minor, 0, 0, 0,
        NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM refunds AS r
    UNION ALL
    -- A marker counts in its own period only.
    SELECT k.program_id, k.currency_code, k.period_start, (k.mark = 'c')::int, 0,
        (k.mark = 'r')::int, 0, 0, 0, 0, 0, 0, 0, NULL, k.period_kind, k.period_start,
        0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM new_marks AS k
    UNION ALL
    SELECT m.program_id, '', m.day, 0, 0, 0, 0, 0, 0, 0, m.issued, m.redeemed, m.expired,
        NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM moved AS m
    WHERE m.issued <> 0 OR m.redeemed <> 0 OR m.expired <> 0
    UNION ALL
    -- The outstanding total is set on the day's points row only.
    SELECT d.program_id, '', d.day, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, d.outstanding, 'd', d.day,
        0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM day_ends AS d
    UNION ALL
    SELECT a.program_id, '', a.day, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL,
        (a.nps >= 9)::int, (a.nps BETWEEN 7 AND 8)::int, (a.nps <= 6)::int,
        coalesce(a.ces, 0), (a.ces IS NOT NULL)::int,
        coalesce(a.csat, 0), (a.csat IS NOT NULL)::int, 0, 0
    FROM answers AS a
    UNION ALL
    -- A referral starts when a friend's enrolment with a code is accepted (pending), and
    -- converts when its credit is recorded on the friend's account.
    SELECT m.program_id, '', m.day, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL,
        0, 0, 0, 0, 0, 0, 0,
        (m.event_type = 'ReferralApplied')::int, (m.event_type = 'ReferralCredited')::int
    FROM moved AS m
    WHERE (m.event_type = 'ReferralApplied' AND m.data ->> 'status' = 'pending')
        OR m.event_type = 'ReferralCredited'
),
-- Each contribution in the five periods of its day (a marker or an outstanding total in its
-- own), summed per row.
totals AS MATERIALIZED (
    SELECT c.program_id, c.currency_code, period.kind, period.start,
        sum(c.customers) AS customers, sum(c.new_customers) AS new_customers,
        sum(c.repeat_customers) AS repeat_customers, sum(c.orders) AS orders,
        sum(c.gross_revenue_minor) AS gross_revenue_minor, sum(c.refunds) AS refunds,
        sum(c.refunded_minor) AS refunded_minor, sum(c.points_issued) AS points_issued,
        sum(c.points_redeemed) AS points_redeemed, sum(c.points_expired) AS points_expired,
        -- One day_ends row at most per day row: its total, or NULL.
        max(c.points_outstanding) AS points_outstanding,
        sum(c.promoters) AS promoters, sum(c.passives) AS passives,
        sum(c.detractors) AS detractors, sum(c.ces_sum) AS ces_sum,
        sum(c.ces_count) AS ces_count, sum(c.csat_sum) AS csat_sum,
        sum(c.csat_count) AS csat_count, sum(c.referrals_started) AS referrals_started,
        sum(c.referrals_credited) AS referrals_credited
    FROM contributions AS c
    CROSS JOIN LATERAL (
        SELECT v.kind, v.start
        FROM (
            VALUES ('d'::"char", c.day),
                ('w', date_trunc('week', c.day::timestamp)::date),
                ('m', date_trunc('month', c.day::timestamp)::date),
                ('q', date_trunc('quarter', c.day::timestamp)::date),
                ('y', date_trunc('year', c.day::timestamp)::date)
        ) AS v (kind, start)
        WHERE c.only_kind IS NULL
        UNION ALL
        SELECT c.only_kind, c.only_start
        WHERE c.only_kind IS NOT NULL
    ) AS period
    GROUP BY c.program_id, c.currency_code, period.kind, period.start
),
