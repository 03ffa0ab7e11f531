-- Program statistics, more figures (ledger/projections/program_statistics.py defines them):
-- per period, on the program's row of the period (currency_code ''), the survey answers
-- (FeedbackRecorded) and the referrals started and credited; per program, the members
-- holding each tier (from TierChanged), in a new part of the projection, one row per tier.
-- Counts and sums only: the read computes the ratios (NPS, the averages, the conversion).
ALTER TABLE ledger.program_statistics_a
    ADD COLUMN promoters          bigint NOT NULL DEFAULT 0,
    ADD COLUMN passives           bigint NOT NULL DEFAULT 0,
    ADD COLUMN detractors         bigint NOT NULL DEFAULT 0,
    ADD COLUMN ces_sum            bigint NOT NULL DEFAULT 0,
    ADD COLUMN ces_count          bigint NOT NULL DEFAULT 0,
    ADD COLUMN csat_sum           bigint NOT NULL DEFAULT 0,
    ADD COLUMN csat_count         bigint NOT NULL DEFAULT 0,
    ADD COLUMN referrals_started  bigint NOT NULL DEFAULT 0,
    ADD COLUMN referrals_credited bigint NOT NULL DEFAULT 0;

ALTER TABLE ledger.program_statistics_b
    ADD COLUMN promoters          bigint NOT NULL DEFAULT 0,
    ADD COLUMN passives           bigint NOT NULL DEFAULT 0,
    ADD COLUMN detractors         bigint NOT NULL DEFAULT 0,
    ADD COLUMN ces_sum            bigint NOT NULL DEFAULT 0,
    ADD COLUMN ces_count          bigint NOT NULL DEFAULT 0,
    ADD COLUMN csat_sum           bigint NOT NULL DEFAULT 0,
    ADD COLUMN csat_count         bigint NOT NULL DEFAULT 0,
    ADD COLUMN referrals_started  bigint NOT NULL DEFAULT 0,
    ADD COLUMN referrals_credited bigint NOT NULL DEFAULT 0;

-- Per program and tier: the accounts whose latest TierChanged put them in it (a row stays,
-- at 0, once a tier has been named, so the rows do not depend on how pages fell).
CREATE TABLE ledger.program_statistics_tiers_a (
    program_id  text COLLATE "C" NOT NULL,
    tier        text COLLATE "C" NOT NULL,
    members     bigint      NOT NULL,
    PRIMARY KEY (program_id, tier)
);

CREATE TABLE ledger.program_statistics_tiers_b (
    LIKE ledger.program_statistics_tiers_a INCLUDING ALL
);

GRANT SELECT, INSERT, UPDATE, TRUNCATE ON
    ledger.program_statistics_tiers_a, ledger.program_statistics_tiers_b
TO loyalty_ledger_app;
