-- The event log, the per-stream state rows and the idempotency records.
--
-- A stream is one member account (stream_id = member id) or a program's own settings
-- (stream_id = '$program', which no member id can spell). Every key below starts with the
-- account key (program_id, stream_id) so the tables can be distributed by it later (Citus).
-- Ids use the "C" collation: compared byte by byte, the same order as Python's and cheaper
-- than a locale's, which also lets the audit merge streams and state rows in one pass.

CREATE SCHEMA IF NOT EXISTS ledger;

-- Position breaks ties inside one transaction; across transactions readers order by
-- transaction id (see the comment on events_global_order below and queries/read_all.sql).
CREATE SEQUENCE ledger.event_position AS bigint;

CREATE TABLE ledger.events (
    program_id                text COLLATE "C" NOT NULL,
    stream_id                 text COLLATE "C" NOT NULL,
    version                   bigint      NOT NULL CHECK (version > 0),
    event_id                  uuid        NOT NULL,
    event_type                text        NOT NULL,
    schema_version            integer     NOT NULL CHECK (schema_version > 0),
    data                      jsonb       NOT NULL,
    metadata                  jsonb       NOT NULL,
    recorded_at               timestamptz NOT NULL,
    -- Balances right after this event, so "balance as of T" is one index look-up.
    points_available          bigint      NOT NULL,
    points_pending            bigint      NOT NULL,
    points_held               bigint      NOT NULL,
    points_lifetime_earned    bigint      NOT NULL,
    points_lifetime_redeemed  bigint      NOT NULL,
    points_expired            bigint      NOT NULL,
    -- SHA-256(previous hash in this stream || canonical bytes of this event); docs/HASH_CHAIN.md.
    hash                      bytea       NOT NULL CHECK (octet_length(hash) = 32),
    transaction_id            xid8        NOT NULL DEFAULT pg_current_xact_id(),
    position                  bigint      NOT NULL DEFAULT nextval('ledger.event_position'),
    -- The primary key is also the optimistic concurrency check: a writer that decided on a
    -- stale version inserts a version that exists (or is being inserted) and fails.
    -- No unique index on event_id: ids are random UUIDs (collisions are not a practical
    -- risk), nothing looks events up by id, and an index on random keys would make every
    -- append touch a random page of an index as large as the whole log.
    PRIMARY KEY (program_id, stream_id, version)
);

-- Global order for readers: (transaction id, position), read only below the oldest
-- transaction still running, so a reader never passes an event that commits later.
CREATE INDEX events_global_order ON ledger.events (transaction_id, position);
CREATE INDEX events_stream_time ON ledger.events (program_id, stream_id, recorded_at, version);

-- The folded state of each stream, written in the same statement as its events, so a
-- command loads one row whether the stream holds ten events or a million.
CREATE TABLE ledger.streams (
    program_id                text COLLATE "C" NOT NULL,
    stream_id                 text COLLATE "C" NOT NULL,
    version                   bigint      NOT NULL CHECK (version > 0),
    last_hash                 bytea       NOT NULL CHECK (octet_length(last_hash) = 32),
    state                     jsonb       NOT NULL,
    points_available          bigint      NOT NULL,
    points_pending            bigint      NOT NULL,
    points_held               bigint      NOT NULL,
    points_lifetime_earned    bigint      NOT NULL,
    points_lifetime_redeemed  bigint      NOT NULL,
    points_expired            bigint      NOT NULL,
    -- When the sweep next has something to append (a lapsed hold, a release, an expiry).
    next_due_at               timestamptz,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    PRIMARY KEY (program_id, stream_id)
);

CREATE INDEX streams_due ON ledger.streams (next_due_at) WHERE next_due_at IS NOT NULL;

-- One row per accepted mutation: a retry with the same request id gets `response` back;
-- the same id with other content (another request_hash) is refused.
CREATE TABLE ledger.requests (
    program_id    text COLLATE "C" NOT NULL,
    stream_id     text COLLATE "C" NOT NULL,
    request_id    text COLLATE "C" NOT NULL,
    request_hash  bytea       NOT NULL CHECK (octet_length(request_hash) = 32),
    response      jsonb       NOT NULL,
    recorded_at   timestamptz NOT NULL,
    PRIMARY KEY (program_id, stream_id, request_id)
);
