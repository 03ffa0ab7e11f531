-- Projections: read models folded from the global order by a runner (ledger/projections).
--
-- Each projection keeps two copies of its view, slots a and b. The live slot is kept current
-- by the projection's runner and read through a plain view; the other is the standby, which a
-- rebuild truncates and fills from position 0 beside the live one. The rebuild then swaps
-- the copies by flipping `live` in the checkpoint rows: a short transaction and no DDL, so
-- readers never wait on a rename, never see a half-built copy, and each query reads one
-- copy whole (the one its snapshot calls live).

-- Where each slot of each projection has got to in the global order. A slot's rows and its
-- checkpoint are written in the same statement of one transaction (queries/projection_page.sql),
-- so a crash never applies an event twice or skips one.
-- Not keyed by account: one row per projection and slot, a handful in all; under Citus this
-- is a reference table (replicated to every node), like ledger.schema_migrations.
CREATE TABLE ledger.projection_checkpoints (
    projection              text COLLATE "C" NOT NULL,
    slot                    text COLLATE "C" NOT NULL CHECK (slot IN ('a', 'b')),
    live                    boolean     NOT NULL,
    -- The last event applied, as (transaction id, position); (0, 0) is before everything.
    transaction_id          xid8        NOT NULL DEFAULT '0',
    position                bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
    events_applied          bigint      NOT NULL DEFAULT 0 CHECK (events_applied >= 0),
    -- recorded_at of the newest event applied: the lag in time is the log's newest minus this.
    last_event_recorded_at  timestamptz,
    -- Who wrote the last page and when: which runner is (or was last) the active one.
    runner                  text        NOT NULL DEFAULT '',
    updated_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, slot)
);

CREATE UNIQUE INDEX projection_checkpoints_one_live
    ON ledger.projection_checkpoints (projection) WHERE live;

-- The member directory: one row per account, the state after the account's latest event.
-- Balances are copied from ledger.events (which stores the balances after every event), so
-- the runner never decodes event data. Program streams are not accounts and are skipped.
CREATE TABLE ledger.member_directory_a (
    program_id                text COLLATE "C" NOT NULL,
    member_id                 text COLLATE "C" NOT NULL,
    -- The account's stream version: the number of its events applied so far.
    version                   bigint      NOT NULL CHECK (version > 0),
    -- recorded_at of the account's first event (its enrolment). Never NULL once the first
    -- event is applied, which is always in the account's first page; not declared NOT NULL
    -- because an upsert's proposed row is checked before it turns into an update, and a later
    -- page holds no version 1 to propose.
    enroll_time               timestamptz,
    -- recorded_at of the account's latest event that the housekeeping sweep did not append
    -- on its own (events whose metadata names another command than Sweep). Lapsed holds,
    -- releases and expiries the sweep appends are the ledger's doing, not the member's; the
    -- same housekeeping appended just before a member's own command carries that command.
    last_activity_time        timestamptz,
    points_available          bigint      NOT NULL,
    points_pending            bigint      NOT NULL,
    points_held               bigint      NOT NULL,
    points_lifetime_earned    bigint      NOT NULL,
    points_lifetime_redeemed  bigint      NOT NULL,
    points_expired            bigint      NOT NULL,
    PRIMARY KEY (program_id, member_id)
)
-- Every page rewrites the rows of the accounts it touches: room left in each page lets
-- PostgreSQL update a row in place (a HOT update: no new index entry, no index bloat).
WITH (fillfactor = 70);

CREATE TABLE ledger.member_directory_b (LIKE ledger.member_directory_a INCLUDING ALL)
WITH (fillfactor = 70);

-- What readers query: the live slot only. Each branch is guarded by a one-time filter on the
-- checkpoint row, so a query reads exactly one slot, chosen by its own snapshot.
CREATE VIEW ledger.member_directory AS
SELECT a.*
FROM ledger.member_directory_a AS a
WHERE (
    SELECT c.slot FROM ledger.projection_checkpoints AS c
    WHERE c.projection = 'member_directory' AND c.live
) = 'a'
UNION ALL
SELECT b.*
FROM ledger.member_directory_b AS b
WHERE (
    SELECT c.slot FROM ledger.projection_checkpoints AS c
    WHERE c.projection = 'member_directory' AND c.live
) = 'b';

INSERT INTO ledger.projection_checkpoints (projection, slot, live)
VALUES ('member_directory', 'a', true), ('member_directory', 'b', false);

-- The service's role runs the runners in-process and may rebuild: it writes projections
-- and their checkpoints (never the log), and empties a standby slot before a rebuild.
GRANT SELECT, INSERT, UPDATE ON ledger.projection_checkpoints TO loyalty_ledger_app;
GRANT SELECT, INSERT, UPDATE, TRUNCATE
    ON ledger.member_directory_a, ledger.member_directory_b TO loyalty_ledger_app;
GRANT SELECT ON ledger.member_directory TO loyalty_ledger_app;
