-- How far readers of the global order are held back. They read only below
-- pg_snapshot_xmin, the oldest transaction id still running in the whole server, whatever
-- its database (see read_all.sql), so one forgotten transaction anywhere stalls them all.
-- One row: the horizon, the next transaction id, how many committed events readers cannot
-- see yet (counted up to a cap, so a long stall costs a bounded scan), and the oldest holder
-- of a transaction id: a session (pg_stat_activity, every database; its backend_xid is
-- visible to superusers and members of pg_read_all_stats only) or a prepared transaction,
-- which holds its id until COMMIT PREPARED or ROLLBACK PREPARED, across restarts.
WITH snapshot AS (
    SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon,
        pg_snapshot_xmax(pg_current_snapshot()) AS next_id
),
holders AS (
    SELECT 'session' AS kind, pid, datname::text AS database_name, usename::text AS role_name,
        application_name, state, backend_xid AS xid, xact_start AS since, NULL::text AS gid
    FROM pg_stat_activity
    WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
    UNION ALL
    SELECT 'prepared', NULL, database::text, owner::text, NULL, 'prepared', transaction,
        prepared, gid
    FROM pg_prepared_xacts
),
oldest AS (
    SELECT * FROM holders ORDER BY age(xid) DESC LIMIT 1
),
-- In the global order's index from the horizon on (a horizon taken from the CTE, or
-- unordered, was planned as a scan of the whole log).
hidden AS (
    SELECT count(*) AS events
    FROM (
        SELECT 1
        FROM ledger.events AS e
        WHERE e.transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY e.transaction_id, e.position
        LIMIT %(max_hidden)s
    ) AS capped
)
SELECT snapshot.horizon::text, snapshot.next_id::text, hidden.events,
    oldest.kind, oldest.pid, oldest.database_name, oldest.role_name, oldest.application_name,
    oldest.state, oldest.xid::text, extract(epoch FROM now() - oldest.since)::float8, oldest.gid
FROM snapshot
CROSS JOIN hidden
LEFT JOIN oldest ON true
