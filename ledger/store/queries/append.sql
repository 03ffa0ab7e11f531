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
        %(e_program_id)s::text[], %(e_stream_id)s::text[], %(e_version)s::bigint[],
        %(e_event_id)s::uuid[], %(e_event_type)s::text[], %(e_schema_version)s::integer[],
        %(e_data)s::jsonb[], %(e_metadata)s::jsonb[], %(e_recorded_at)s::timestamptz[],
        %(e_available)s::bigint[], %(e_pending)s::bigint[], %(e_held)s::bigint[],
        %(e_earned)s::bigint[], %(e_redeemed)s::bigint[], %(e_expired)s::bigint[],
        %(e_hash)s::bytea[]
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
        %(s_program_id)s::text[], %(s_stream_id)s::text[], %(s_version)s::bigint[],
        %(s_last_hash)s::bytea[], %(s_state)s::jsonb[], %(s_available)s::bigint[],
        %(s_pending)s::bigint[], %(s_held)s::bigint[], %(s_earned)s::bigint[],
        %(s_redeemed)s::bigint[], %(s_expired)s::bigint[], %(s_next_due_at)s::timestamptz[],
        %(s_updated_at)s::timestamptz[]
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
        %(r_program_id)s::text[], %(r_stream_id)s::text[], %(r_request_id)s::text[],
        %(r_request_hash)s::bytea[], %(r_response)s::jsonb[], %(r_recorded_at)s::timestamptz[]
    )
    RETURNING 1
)
SELECT
    (SELECT count(*) FROM new_events) AS events,
    (SELECT count(*) FROM new_states) AS streams,
    (SELECT count(*) FROM new_requests) AS requests
