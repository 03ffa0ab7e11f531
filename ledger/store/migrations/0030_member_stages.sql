-- The loyalty stage view (ledger/domain/stages.py, applied by ledger/store/stage_pages.py).
--
-- Like every projection it keeps two slots, a and b, the live one read through a view and
-- the standby a rebuild fills (0006_projections.sql says how they swap). A slot is three
-- tables: each account's stage and what it was decided from, the history of its changes
-- (also the stage change feed), and the stage settings of each program, folded from the
-- program's own events so that a slot is a function of the log alone (and of the clock,
-- for lapses: each is recorded at the moment it fell due, not when it was seen).

CREATE SEQUENCE ledger.member_stage_lapse_ordinals AS bigint;

CREATE TABLE ledger.member_stages_a (
    program_id              text COLLATE "C" NOT NULL,
    member_key              text COLLATE "C" NOT NULL,
    stage                   text        NOT NULL CHECK (stage IN (
        'enrolled', 'cognitive', 'affective', 'conative', 'action', 'lapsed')),
    -- When the member entered `stage` (for enrolled: the enrolment).
    stage_time              timestamptz NOT NULL,
    purchases               bigint      NOT NULL CHECK (purchases >= 0),
    -- The latest purchase times (at most 20), oldest first: the action window counts them.
    recent_purchase_times   timestamptz[] NOT NULL,
    redeemed                boolean     NOT NULL,
    -- A promoter score, a review or a referral was seen.
    affective               boolean     NOT NULL,
    -- The latest purchase or redemption: what lapsing counts from.
    last_activity_time      timestamptz,
    -- When the member lapses if nothing happens before (NULL: enrolled or lapsed), under the
    -- program's lapsed_after_days: what the sweep looks for.
    lapse_due_time          timestamptz,
    PRIMARY KEY (program_id, member_key)
)
WITH (fillfactor = 70);

-- "Members per stage" of a program: an index-only count per stage (queries/stage_counts.sql).
CREATE INDEX member_stages_a_stage ON ledger.member_stages_a (program_id, stage);
-- The lapse sweep: only rows that can lapse are in it.
CREATE INDEX member_stages_a_lapse_due ON ledger.member_stages_a (lapse_due_time)
    WHERE lapse_due_time IS NOT NULL;

CREATE TABLE ledger.member_stages_b (LIKE ledger.member_stages_a INCLUDING ALL)
WITH (fillfactor = 70);

-- Every change of stage, in the order the feed serves them: at the global position of the
-- event that caused it (with an ordinal among the changes of that event), or, for a lapse
-- the sweep found, at the slot's checkpoint then, after any event's changes there. Event
-- positions are the same in every slot, so a rebuilt slot serves event-caused changes at
-- the positions the old one did.
CREATE TABLE ledger.member_stage_changes_a (
    program_id          text COLLATE "C" NOT NULL,
    member_key          text COLLATE "C" NOT NULL,
    at_transaction      xid8        NOT NULL,
    at_position         bigint      NOT NULL,
    ordinal             bigint      NOT NULL,
    change_time         timestamptz NOT NULL,
    from_stage          text        NOT NULL,
    to_stage            text        NOT NULL,
    -- The event that caused the change; NULL for a lapse, which time causes.
    cause_event_id      uuid,
    cause_event_type    text        NOT NULL,
    PRIMARY KEY (program_id, member_key, at_transaction, at_position, ordinal)
);

CREATE INDEX member_stage_changes_a_feed
    ON ledger.member_stage_changes_a (program_id, at_transaction, at_position, ordinal);

CREATE TABLE ledger.member_stage_changes_b (LIKE ledger.member_stage_changes_a INCLUDING ALL);

-- Per program, the stage settings in force (its latest ProgramCreated or ProgramUpdated).
CREATE TABLE ledger.member_stage_programs_a (
    program_id          text COLLATE "C" NOT NULL PRIMARY KEY,
    lapsed_after_days   integer NOT NULL,
    action_purchases    integer NOT NULL,
    action_window_days  integer NOT NULL,
    review_action_ids   text[]  NOT NULL
);

CREATE TABLE ledger.member_stage_programs_b (LIKE ledger.member_stage_programs_a INCLUDING ALL);

-- What readers query: the live slot only, as for the member directory.
CREATE VIEW ledger.member_stages AS
SELECT a.*
FROM ledger.member_stages_a AS a
WHERE (
    SELECT c.slot FROM ledger.projection_checkpoints AS c
    WHERE c.projection = 'member_stages' AND c.live
) = 'a'
UNION ALL
SELECT b.*
FROM ledger.member_stages_b AS b
WHERE (
    SELECT c.slot FROM ledger.projection_checkpoints AS c
    WHERE c.projection = 'member_stages' AND c.live
) = 'b';

CREATE VIEW ledger.member_stage_changes AS
SELECT a.*
FROM ledger.member_stage_changes_a AS a
WHERE (
    SELECT c.slot FROM ledger.projection_checkpoints AS c
    WHERE c.projection = 'member_stages' AND c.live
) = 'a'
UNION ALL
SELECT b.*
FROM ledger.member_stage_changes_b AS b
WHERE (
    SELECT c.slot FROM ledger.projection_checkpoints AS c
    WHERE c.projection = 'member_stages' AND c.live
) = 'b';

INSERT INTO ledger.projection_checkpoints (projection, slot, live)
VALUES ('member_stages', 'a', true), ('member_stages', 'b', false);

GRANT USAGE ON SEQUENCE ledger.member_stage_lapse_ordinals TO loyalty_ledger_app;
GRANT SELECT, INSERT, UPDATE, TRUNCATE ON
    ledger.member_stages_a, ledger.member_stages_b,
    ledger.member_stage_changes_a, ledger.member_stage_changes_b,
    ledger.member_stage_programs_a, ledger.member_stage_programs_b
TO loyalty_ledger_app;
GRANT SELECT ON ledger.member_stages, ledger.member_stage_changes TO loyalty_ledger_app;
