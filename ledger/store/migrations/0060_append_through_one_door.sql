-- The service's role appends through one function and may no longer write the log's tables
-- itself: with INSERT and UPDATE on ledger.streams it could set any balance by hand (an
-- UPDATE of the state row no event explains), and nothing in the log would show it.
--
-- ledger.append_batch runs with its owner's rights (the migrating owner's) and does what
-- queries/append.sql did: the events, the streams' new state rows and the requests' answers,
-- in one statement, so a state row changes only in the statement that appends events.

CREATE FUNCTION ledger.append_batch(batch jsonb)
RETURNS TABLE (events_appended bigint, streams_written bigint, requests_stored bigint)
LANGUAGE plpgsql
SECURITY DEFINER
-- A definer's function trusts no search path its caller could set.
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH new_events AS (
        INSERT INTO ledger.events (
            program_id, stream_id, version, event_id, event_type, schema_version, data,
            metadata, recorded_at, points_available, points_pending, points_held,
            points_lifetime_earned, points_lifetime_redeemed, points_expired, hash
        )
        SELECT e.program_id, e.stream_id, e.version, e.event_id, e.event_type,
            e.schema_version, e.data, e.metadata, e.recorded_at,
            (e.balances_after ->> 'available')::bigint,
            (e.balances_after ->> 'pending')::bigint,
            (e.balances_after ->> 'held')::bigint,
            (e.balances_after ->> 'lifetime_earned')::bigint,
            (e.balances_after ->> 'lifetime_redeemed')::bigint,
            (e.balances_after ->> 'expired')::bigint,
            decode(e.hash, 'hex')
        FROM jsonb_to_recordset(batch -> 'events') AS e (
            program_id text, stream_id text, version bigint, event_id uuid, event_type text,
            schema_version integer, data jsonb, metadata jsonb, recorded_at timestamptz,
            balances_after jsonb, hash text
        )
        RETURNING 1
    ),
    new_states AS (
        INSERT INTO ledger.streams AS s (
            program_id, stream_id, version, last_hash, state, points_available,
            points_pending, points_held, points_lifetime_earned, points_lifetime_redeemed,
            points_expired, next_due_at, created_at, updated_at
        )
        SELECT i.program_id, i.stream_id, i.version, decode(i.last_hash, 'hex'), i.state,
            i.available, i.pending, i.held, i.earned, i.redeemed, i.expired, i.next_due_at,
            i.updated_at, i.updated_at
        FROM jsonb_to_recordset(batch -> 'streams') AS i (
            program_id text, stream_id text, version bigint, last_hash text, state jsonb,
            available bigint, pending bigint, held bigint, earned bigint, redeemed bigint,
            expired bigint, next_due_at timestamptz, updated_at timestamptz
        )
        ON CONFLICT (program_id, stream_id) DO UPDATE SET
            version = excluded.version,
            last_hash = excluded.last_hash,
            state = excluded.state,
            points_available = excluded.points_available,
            points_pending = excluded.points_pending,
            points_held = excluded.points_held,
            points_lifetime_earned = excluded.points_lifetime_earned,
            points_lifetime_redeemed = excluded.points_lifetime_redeemed,
            points_expired = excluded.points_expired,
            next_due_at = excluded.next_due_at,
            updated_at = excluded.updated_at
        RETURNING 1
    ),
    new_requests AS (
        INSERT INTO ledger.requests (
            program_id, stream_id, request_id, request_hash, response, recorded_at
        )
        SELECT r.program_id, r.stream_id, r.request_id, decode(r.request_hash, 'hex'),
            r.response, r.recorded_at
        FROM jsonb_to_recordset(batch -> 'requests') AS r (
            program_id text, stream_id text, request_id text, request_hash text,
            response jsonb, recorded_at timestamptz
        )
        RETURNING 1
    )
    SELECT
        (SELECT count(*) FROM new_events),
        (SELECT count(*) FROM new_states),
        (SELECT count(*) FROM new_requests);
END;
$$;

REVOKE ALL ON FUNCTION ledger.append_batch(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.append_batch(jsonb) TO loyalty_ledger_app;

-- What the function now does for it, the role may not do by hand.
REVOKE INSERT ON ledger.events FROM loyalty_ledger_app;
REVOKE INSERT, UPDATE ON ledger.streams FROM loyalty_ledger_app;
REVOKE INSERT ON ledger.requests FROM loyalty_ledger_app;
REVOKE USAGE ON SEQUENCE ledger.event_position FROM loyalty_ledger_app;
