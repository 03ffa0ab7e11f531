-- The state rows of the given streams (missing streams simply return no row).
SELECT s.program_id, s.stream_id, s.version, s.last_hash, s.state, s.created_at, s.updated_at
FROM ledger.streams AS s
JOIN unnest(%(program_ids)s::text[], %(stream_ids)s::text[]) AS k (program_id, stream_id)
    ON s.program_id = k.program_id AND s.stream_id = k.stream_id
