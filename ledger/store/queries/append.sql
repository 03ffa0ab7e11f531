-- Appends a batch in one statement, hence one round trip and one transaction: the events,
-- the streams' new state rows and the requests' answers. The batch arrives as one JSON
-- document that PostgreSQL unpacks itself (jsonb_to_recordset), which costs the client one
-- encode per batch instead of a parameter per column.
--
-- Optimistic concurrency needs no extra check: each event's version is the version its
-- writer read plus one, so a stale writer collides with the primary key
-- (program_id, stream_id, version) and the whole statement fails; the writer re-decides
-- against fresh state.
WITH new_events AS (
    INSERT INTO ledger.events (
        program_id, stream_id, version, event_id, event_type, schema_version, data, metadata,
        recorded_at, points_available, points_pending, points_held, points_lifetime_earned,
        points_lifetime_redeemed, points_expired, hash
    )
    -- Each element is the event's canonical document (ledger/codec/chain.py) plus its hash.
    SELECT e.program_id, e.stream_id, e.version, e.event_id, e.event_type, e.schema_version,
        e.data, e.metadata, e.recorded_at,
        (e.balances_after ->> 'available')::bigint,
        (e.balances_after ->> 'pending')::bigint,
        (e.balances_after ->> 'held')::bigint,
        (e.balances_after ->> 'lifetime_earned')::bigint,
        (e.balances_after ->> 'lifetime_redeemed')::bigint,
        (e.balances_after ->> 'expired')::bigint,
        decode(e.hash, 'hex')
    FROM jsonb_to_recordset(%(batch)s::jsonb -> 'events') AS e (
        program_id text, stream_id text, version bigint, event_id uuid, event_type text,
        schema_version integer, data jsonb, metadata jsonb, recorded_at timestamptz,
        balances_after jsonb, hash text
    )
    RETURNING 1
),
new_states AS (
    INSERT INTO ledger.streams AS s (
        program_id, stream_id, version, last_hash, state, points_available, points_pending,
        points_held, points_lifetime_earned, points_lifetime_redeemed, points_expired,
        next_due_at, created_at, updated_at
    )
    SELECT i.program_id, i.stream_id, i.version, decode(i.last_hash, 'hex'), i.state,
        i.available, i.pending, i.held, i.earned, i.redeemed, i.expired, i.next_due_at,
        i.updated_at, i.updated_at
    FROM jsonb_to_recordset(%(batch)s::jsonb -> 'streams') AS i (
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
    SELECT r.program_id, r.stream_id, r.request_id, decode(r.request_hash, 'hex'), r.response,
        r.recorded_at
    FROM jsonb_to_recordset(%(batch)s::jsonb -> 'requests') AS r (
        program_id text, stream_id text, request_id text, request_hash text, response jsonb,
        recorded_at timestamptz
    )
    RETURNING 1
)
SELECT
    (SELECT count(*) FROM new_events) AS events,
    (SELECT count(*) FROM new_states) AS streams,
    (SELECT count(*) FROM new_requests) AS requests
