-- Tier changes join the stage view's history, so that StreamStageChanges serves both kinds of
-- change from one table in one order. A tier change is recorded at the global position of its
-- TierChanged event with ordinal 2 (an event makes two stage changes at most, ordinals 0 and
-- 1; the sweep's lapses come after, from 1,000,000): the same position in every slot and
-- every rebuild, so a feed resumes after it however the view was built.
ALTER TABLE ledger.member_stage_changes_a
    ALTER COLUMN from_stage DROP NOT NULL,
    ALTER COLUMN to_stage DROP NOT NULL,
    ADD COLUMN kind text NOT NULL DEFAULT 'stage',
    -- A tier change's tiers ("" below the lowest), the TierChanged `reason` and the
    -- qualifying figure its decision saw; NULL for a stage change.
    ADD COLUMN from_tier text,
    ADD COLUMN to_tier text,
    ADD COLUMN tier_reason text,
    ADD COLUMN qualifying_figure bigint,
    ADD CONSTRAINT member_stage_changes_a_kind CHECK (
        (kind = 'stage' AND from_stage IS NOT NULL AND to_stage IS NOT NULL)
        OR (kind = 'tier' AND from_tier IS NOT NULL AND to_tier IS NOT NULL
            AND tier_reason IS NOT NULL AND qualifying_figure IS NOT NULL)
    );
ALTER TABLE ledger.member_stage_changes_b
    ALTER COLUMN from_stage DROP NOT NULL,
    ALTER COLUMN to_stage DROP NOT NULL,
    ADD COLUMN kind text NOT NULL DEFAULT 'stage',
    ADD COLUMN from_tier text,
    ADD COLUMN to_tier text,
    ADD COLUMN tier_reason text,
    ADD COLUMN qualifying_figure bigint,
    ADD CONSTRAINT member_stage_changes_b_kind CHECK (
        (kind = 'stage' AND from_stage IS NOT NULL AND to_stage IS NOT NULL)
        OR (kind = 'tier' AND from_tier IS NOT NULL AND to_tier IS NOT NULL
            AND tier_reason IS NOT NULL AND qualifying_figure IS NOT NULL)
    );

-- Each slot gets the tier changes of the log up to its own checkpoint, as its fold would have
-- recorded them (ledger/store/stage_pages.py), so a slot live before this equals a rebuild.
INSERT INTO ledger.member_stage_changes_a (
    program_id, member_key, at_transaction, at_position, ordinal, change_time, cause_event_id,
    cause_event_type, kind, from_tier, to_tier, tier_reason, qualifying_figure
)
SELECT e.program_id, e.stream_id, e.transaction_id, e.position, 2, e.recorded_at, e.event_id,
    e.event_type, 'tier', e.data ->> 'from_tier', e.data ->> 'to_tier', e.data ->> 'reason',
    (e.data ->> 'qualifying_figure')::bigint
FROM ledger.events AS e, ledger.projection_checkpoints AS c
WHERE e.event_type = 'TierChanged'
    AND c.projection = 'member_stages' AND c.slot = 'a'
    AND (e.transaction_id, e.position) <= (c.transaction_id, c.position);

INSERT INTO ledger.member_stage_changes_b (
    program_id, member_key, at_transaction, at_position, ordinal, change_time, cause_event_id,
    cause_event_type, kind, from_tier, to_tier, tier_reason, qualifying_figure
)
SELECT e.program_id, e.stream_id, e.transaction_id, e.position, 2, e.recorded_at, e.event_id,
    e.event_type, 'tier', e.data ->> 'from_tier', e.data ->> 'to_tier', e.data ->> 'reason',
    (e.data ->> 'qualifying_figure')::bigint
FROM ledger.events AS e, ledger.projection_checkpoints AS c
WHERE e.event_type = 'TierChanged'
    AND c.projection = 'member_stages' AND c.slot = 'b'
    AND (e.transaction_id, e.position) <= (c.transaction_id, c.position);

-- The view names its columns when created: made again to show the new ones.
DROP VIEW ledger.member_stage_changes;
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
GRANT SELECT ON ledger.member_stage_changes TO loyalty_ledger_app;
