-- The program statistics' apply step: the page's totals (program_statistics_prelude.sql)
-- added to their rows; a day's outstanding points replace the day's last total.
INSERT INTO {view} AS s (
    program_id, currency_code, period_kind, period_start, customers, new_customers,
    repeat_customers, orders, gross_revenue_minor, refunds, refunded_minor, points_issued,
    points_redeemed, points_expired, points_outstanding, promoters, passives, detractors,
    ces_sum, ces_count, csat_sum, csat_count, referrals_started, referrals_credited
)
SELECT t.program_id, t.currency_code, t.kind, t.start, t.customers, t.new_customers,
    t.repeat_customers, t.orders, t.gross_revenue_minor, t.refunds, t.refunded_minor,
    t.points_issued, t.points_redeemed, t.points_expired, t.points_outstanding, t.promoters,
    t.passives, t.detractors, t.ces_sum, t.ces_count, t.csat_sum, t.csat_count,
    t.referrals_started, t.referrals_credited
FROM totals AS t
ON CONFLICT (program_id, currency_code, period_kind, period_start) DO UPDATE SET
    customers = s.customers + excluded.customers,
    new_customers = s.new_customers + excluded.new_customers,
    repeat_customers = s.repeat_customers + excluded.repeat_customers,
    orders = s.orders + excluded.orders,
    gross_revenue_minor = s.gross_revenue_minor + excluded.gross_revenue_minor,
    refunds = s.refunds + excluded.refunds,
    refunded_minor = s.refunded_minor + excluded.refunded_minor,
    points_issued = s.points_issued + excluded.points_issued,
    points_redeemed = s.points_redeemed + excluded.points_redeemed,
    points_expired = s.points_expired + excluded.points_expired,
    points_outstanding = coalesce(excluded.points_outstanding, s.points_outstanding),
    promoters = s.promoters + excluded.promoters,
    passives = s.passives + excluded.passives,
    detractors = s.detractors + excluded.detractors,
    ces_sum = s.ces_sum + excluded.ces_sum,
    ces_count = s.ces_count + excluded.ces_count,
    csat_sum = s.csat_sum + excluded.csat_sum,
    csat_count = s.csat_count + excluded.csat_count,
    referrals_started = s.referrals_started + excluded.referrals_started,
    referrals_credited = s.referrals_credited + excluded.referrals_credited
