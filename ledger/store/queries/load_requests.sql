-- Earlier answers to the given request ids, for idempotent retries.
SELECT r.program_id, r.stream_id, r.request_id, r.request_hash, r.response, r.recorded_at
FROM ledger.requests AS r
JOIN unnest(%(program_ids)s::text[], %(stream_ids)s::text[], %(request_ids)s::text[])
    AS k (program_id, stream_id, request_id)
    ON r.program_id = k.program_id AND r.stream_id = k.stream_id AND r.request_id = k.request_id
