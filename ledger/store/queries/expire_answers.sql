-- Retention: stored answers recorded before a time, a bounded number a call. The BRIN index
-- requests_recorded_at finds the block ranges that hold them without reading the rest; no
-- ORDER BY, which would sort every old answer to delete the first few.
DELETE FROM ledger.requests AS r
USING (
    SELECT program_id, stream_id, request_id
    FROM ledger.requests
    WHERE recorded_at < %(before)s
    LIMIT %(limit)s
) AS old
WHERE r.program_id = old.program_id
    AND r.stream_id = old.stream_id
    AND r.request_id = old.request_id
