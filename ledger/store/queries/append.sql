-- Appends a batch in one statement, hence one round trip and one transaction: the events,
-- the streams' new state rows and the requests' answers. Optimistic concurrency needs no
-- extra check: each event's version is the version its writer read plus one, so a stale
-- writer collides with the primary key (program_id, stream_id, version) and the whole
-- statement fails; the caller re-decides against fresh state.
WITH new_events AS (
    INSERT INTO ledger.events (
        program_id, stream_id, version, event_id, event_type, schema_version, data, metadata,
        recorded_at, points_available, points_pending, points_held, points_lifetime_earned,
        points_lifetime_redeemed, points_expired, hash
    )
    SELECT * FROM unnest(
        %(e_program_id)b::text[], %(e_stream_id)b::text[], %(e_version)b::bigint[],
        %(e_event_id)b::uuid[], %(e_event_type)b::text[], %(e_schema_version)b::integer[],
        %(e_data)b::jsonb[], %(e_metadata)b::jsonb[], %(e_recorded_at)b::timestamptz[],
        %(e_available)b::bigint[], %(e_pending)b::bigint[], %(e_held)b::bigint[],
        %(e_earned)b::bigint[], %(e_redeemed)b::bigint[], %(e_expired)b::bigint[],
        %(e_hash)b::bytea[]
    )
    RETURNING 1
),
new_states AS (
    INSERT INTO ledger.streams AS s (
        program_id, stream_id, version, last_hash, state, points_available, points_pending,
        points_held, points_lifetime_earned, points_lifetime_redeemed, points_expired,
        next_due_at, created_at, updated_at
    )
    SELECT program_id, stream_id, version, last_hash, state, available, pending, held, earned,
        redeemed, expired, next_due_at, updated_at, updated_at
    FROM unnest(
        %(s_program_id)b::text[], %(s_stream_id)b::text[], %(s_version)b::bigint[],
        %(s_last_hash)b::bytea[], %(s_state)b::jsonb[], %(s_available)b::bigint[],
        %(s_pending)b::bigint[], %(s_held)b::bigint[], %(s_earned)b::bigint[],
        %(s_redeemed)b::bigint[], %(s_expired)b::bigint[], %(s_next_due_at)b::timestamptz[],
        %(s_updated_at)b::timestamptz[]
    ) AS i (program_id, stream_id, version, last_hash, state, available, pending, held, earned,
        redeemed, expired, next_due_at, updated_at)
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
    SELECT * FROM unnest(
        %(r_program_id)b::text[], %(r_stream_id)b::text[], %(r_request_id)b::text[],
        %(r_request_hash)b::bytea[], %(r_response)b::jsonb[], %(r_recorded_at)b::timestamptz[]
    )
    RETURNING 1
)
SELECT
    (SELECT count(*) FROM new_events) AS events,
    (SELECT count(*) FROM new_states) AS streams,
    (SELECT count(*) FROM new_requests) AS requests
