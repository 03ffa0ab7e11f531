-- Each slot of the given projections, with how far the log has got beyond it:
-- events_behind counts the committed events after the checkpoint, up to a cap (counting a
-- long backlog exactly would cost as much as applying it); positions_behind is the distance
-- in event positions to the newest event (approximate: rolled-back appends leave gaps);
-- newest_* describe the newest event of the global order, to tell the lag in time; and
-- runner_active says whether some runner holds the projection's advisory lock now.
SELECT p.projection, c.slot, c.live, c.transaction_id::text, c.position, c.events_applied,
    c.last_event_recorded_at, c.runner, c.updated_at,
    newest.transaction_id::text, newest.position, newest.recorded_at,
    (
        SELECT count(*) FROM (
            SELECT FROM ledger.events AS e
            WHERE (e.transaction_id, e.position) > (c.transaction_id, c.position)
            -- Ordered, so the count walks the global order's index from the checkpoint on:
            -- unordered, it was planned as a scan of the whole log.
            ORDER BY e.transaction_id, e.position
            LIMIT %(max_counted)s
        ) AS behind
    ) AS events_behind,
    EXISTS (
        SELECT FROM pg_locks AS l
        WHERE l.locktype = 'advisory' AND l.granted
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid = %(lock_namespace)s::bigint::oid
            AND l.objid = p.lock_key::oid
            AND l.objsubid = 2
    ) AS runner_active
FROM unnest(%(projections)s::text[], %(lock_keys)s::bigint[]) AS p (projection, lock_key)
JOIN ledger.projection_checkpoints AS c ON c.projection = p.projection
LEFT JOIN LATERAL (
    SELECT transaction_id, position, recorded_at
    FROM ledger.events
    ORDER BY transaction_id DESC, position DESC
    LIMIT 1
) AS newest ON true
ORDER BY p.projection, c.slot
