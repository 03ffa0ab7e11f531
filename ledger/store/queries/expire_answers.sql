-- Retention: stored answers recorded before a time, oldest first, a bounded number a call
-- (requests_recorded_at finds them without reading the rest).
DELETE FROM ledger.requests AS r
USING (
    SELECT program_id, stream_id, request_id
    FROM ledger.requests
    WHERE recorded_at < %(before)s
    ORDER BY recorded_at
    LIMIT %(limit)s
) AS old
WHERE r.program_id = old.program_id
    AND r.stream_id = old.stream_id
    AND r.request_id = old.request_id
