-- Every event of every stream (or one program's), stream by stream in version order, for
-- replay; read through a server-side cursor so memory stays flat however long the log is.
-- `canonical` is the event's canonical text (ledger/store/chain.py) rendered by the
-- database itself: the replay hashes it instead of re-encoding every event in Python.
-- docs/HASH_CHAIN.md gives the same text built with jsonb_build_object, for auditors.
SELECT program_id, stream_id, version, event_id, event_type, schema_version, data,
    points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired, hash,
    -- The document's keys are fixed, so its jsonb text is assembled in jsonb's key order
    -- (byte length, then bytewise) from the stored values' own text: cheaper than building
    -- a jsonb value per row only to print it. test_canonical_text.py holds the two equal.
    '{"data": ' || data::text
        || ', "version": ' || version
        || ', "event_id": "' || event_id
        || '", "metadata": ' || metadata::text
        || ', "stream_id": ' || to_json(stream_id)::text
        || ', "event_type": ' || to_json(event_type)::text
        || ', "program_id": ' || to_json(program_id)::text
        || ', "recorded_at": "'
        || to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '", "balances_after": {"held": ' || points_held
        || ', "expired": ' || points_expired
        || ', "pending": ' || points_pending
        || ', "available": ' || points_available
        || ', "lifetime_earned": ' || points_lifetime_earned
        || ', "lifetime_redeemed": ' || points_lifetime_redeemed
        || '}, "schema_version": ' || schema_version
        || '}' AS canonical
FROM ledger.events
WHERE (%(program_id)s::text IS NULL OR program_id = %(program_id)s::text)
    -- Parallel replays split the streams by a hash of their key (see audit_streams.sql).
    AND (%(parts)s::integer = 1
        OR (hashtext(program_id || '/' || stream_id) & 2147483647) %% %(parts)s::integer
            = %(part)s::integer)
ORDER BY program_id, stream_id, version
