-- One page of a projection: the next events in the global order after the slot's checkpoint,
-- applied to the slot's tables by the projection's own steps (its prelude, if any, and the
-- "applied" part), and the checkpoint
-- moved past them. One statement in one transaction: the view and its checkpoint commit
-- together, so a crash never applies an event twice or skips one.
--
-- The page stops below the oldest transaction still running (read_all.sql says why), and at
-- an upper bound the caller may set (a rebuild catching up to the live slot before a swap).
--
-- The checkpoint moves only if it is still where the caller read it and the slot is still
-- live (or still the standby) as the caller believes: a compare-and-set. When it is not,
-- `advanced` is 0 and the caller rolls the transaction back, the applied rows with it:
-- someone else moved the checkpoint (a rebuild swapped the slots, or a runner that should
-- not exist wrote first). The checkpoint row is the one row every writer of a slot updates,
-- so two writers are serialized on it and the loser's page is always undone.
WITH page AS MATERIALIZED (
    SELECT program_id, stream_id, version, event_type, data,
        metadata ->> 'command' AS command, recorded_at,
        points_available, points_pending, points_held, points_lifetime_earned,
        points_lifetime_redeemed, points_expired, transaction_id, position
    FROM ledger.events
    WHERE (transaction_id, position) > (%(after_transaction)s::xid8, %(after_position)s::bigint)
        AND (transaction_id, position) <= (%(upto_transaction)s::xid8, %(upto_position)s::bigint)
        AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY transaction_id, position
    LIMIT %(limit)s
),
{prelude}
applied AS (
    {apply}
),
last_event AS (
    SELECT transaction_id, position, recorded_at
    FROM page
    ORDER BY transaction_id DESC, position DESC
    LIMIT 1
),
advanced AS (
    UPDATE ledger.projection_checkpoints AS c
    SET transaction_id = l.transaction_id,
        position = l.position,
        events_applied = c.events_applied + (SELECT count(*) FROM page),
        last_event_recorded_at = l.recorded_at,
        runner = %(runner)s,
        updated_at = now()
    FROM last_event AS l
    WHERE c.projection = %(projection)s AND c.slot = %(slot)s AND c.live = %(live)s
        AND c.transaction_id = %(after_transaction)s::xid8
        AND c.position = %(after_position)s::bigint
    RETURNING 1
)
SELECT
    (SELECT count(*) FROM page) AS events,
    (SELECT count(*) FROM advanced) AS advanced,
    (SELECT transaction_id::text FROM last_event) AS last_transaction,
    (SELECT position FROM last_event) AS last_position,
    -- Committed events at or past the horizon: they wait only for an older transaction to
    -- end, which sends no notification if it appended nothing, so the runner looks again soon.
    -- Asked of the newest committed event, one step of the global order's index: an EXISTS
    -- over the horizon, whose value the planner cannot know, is planned as a scan of the
    -- whole log (tests/integration/test_log_not_scanned.py).
    coalesce((
        SELECT transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
        FROM ledger.events
        ORDER BY transaction_id DESC, position DESC
        LIMIT 1
    ), false) AS held_back
