-- Program statistics: figures per program, per period and per currency, pre-aggregated by the
-- program_statistics projection (ledger/projections/program_statistics.py says what each
-- figure means; queries/program_statistics_apply.sql folds a page into them). A query reads a
-- handful of rows whatever the size of the log: one per currency of the period, one for its
-- points, and one day row for the points outstanding at its end.
--
-- Each table comes in two slots, a and b, like every projection's (0006_projections.sql): a
-- rebuild fills the standby slot of every table beside the live one, then swaps them all by
-- flipping the one checkpoint row.
--
-- A period is (kind, first day): kind d (day), w (ISO week, from Monday), m (month),
-- q (quarter) or y (year), and its first day in the program's time zone.

-- The figures. currency_code '' is the row of the period's points (no money involved);
-- every other row holds one currency's orders and customers.
CREATE TABLE ledger.program_statistics_a (
    program_id          text COLLATE "C" NOT NULL,
    currency_code       text COLLATE "C" NOT NULL,
    period_kind         "char"      NOT NULL CHECK (period_kind IN ('d', 'w', 'm', 'q', 'y')),
    period_start        date        NOT NULL,
    customers           bigint      NOT NULL DEFAULT 0,
    new_customers       bigint      NOT NULL DEFAULT 0,
    repeat_customers    bigint      NOT NULL DEFAULT 0,
    orders              bigint      NOT NULL DEFAULT 0,
    gross_revenue_minor bigint      NOT NULL DEFAULT 0,
    refunds             bigint      NOT NULL DEFAULT 0,
    refunded_minor      bigint      NOT NULL DEFAULT 0,
    points_issued       bigint      NOT NULL DEFAULT 0,
    points_redeemed     bigint      NOT NULL DEFAULT 0,
    points_expired      bigint      NOT NULL DEFAULT 0,
    -- Day rows of the points ('' currency) only: the program's outstanding points after the
    -- last event of that day applied; NULL elsewhere.
    points_outstanding  bigint,
    PRIMARY KEY (program_id, currency_code, period_kind, period_start)
)
-- Rows of the current periods are rewritten by every page: room for HOT updates.
WITH (fillfactor = 70);

CREATE TABLE ledger.program_statistics_b (LIKE ledger.program_statistics_a INCLUDING ALL)
WITH (fillfactor = 70);

-- A member counted once per period and currency: kind c (a customer of the period) or r (a
-- repeat customer of it). Inserting the marker is what counts the member, so a count of
-- distinct members never needs to read the members back.
CREATE TABLE ledger.program_statistics_marks_a (
    program_id      text COLLATE "C" NOT NULL,
    currency_code   text COLLATE "C" NOT NULL,
    period_kind     "char"      NOT NULL,
    period_start    date        NOT NULL,
    mark            "char"      NOT NULL CHECK (mark IN ('c', 'r')),
    member_key      text COLLATE "C" NOT NULL,
    PRIMARY KEY (program_id, currency_code, period_kind, period_start, mark, member_key)
);

CREATE TABLE ledger.program_statistics_marks_b (
    LIKE ledger.program_statistics_marks_a INCLUDING ALL
);

-- Per member and currency: orders placed so far (which tells a repeat order from a first).
CREATE TABLE ledger.program_statistics_buyers_a (
    program_id      text COLLATE "C" NOT NULL,
    member_key      text COLLATE "C" NOT NULL,
    currency_code   text COLLATE "C" NOT NULL,
    orders          bigint      NOT NULL,
    PRIMARY KEY (program_id, member_key, currency_code)
)
WITH (fillfactor = 70);

CREATE TABLE ledger.program_statistics_buyers_b (
    LIKE ledger.program_statistics_buyers_a INCLUDING ALL
)
WITH (fillfactor = 70);

-- Per program: the time zone its days are counted in (from its latest settings applied)
-- and its points outstanding after the last event applied.
CREATE TABLE ledger.program_statistics_programs_a (
    program_id          text COLLATE "C" NOT NULL PRIMARY KEY,
    time_zone           text        NOT NULL,
    points_outstanding  bigint      NOT NULL
);

CREATE TABLE ledger.program_statistics_programs_b (
    LIKE ledger.program_statistics_programs_a INCLUDING ALL
);

INSERT INTO ledger.projection_checkpoints (projection, slot, live)
VALUES ('program_statistics', 'a', true), ('program_statistics', 'b', false);

GRANT SELECT, INSERT, UPDATE, TRUNCATE ON
    ledger.program_statistics_a, ledger.program_statistics_b,
    ledger.program_statistics_marks_a, ledger.program_statistics_marks_b,
    ledger.program_statistics_buyers_a, ledger.program_statistics_buyers_b,
    ledger.program_statistics_programs_a, ledger.program_statistics_programs_b
TO loyalty_ledger_app;
