-- Forgetting members, in the transaction that appends their MemberForgotten events: their
-- links (the only place their ids are stored) and every answer stored for their requests
-- (whose request ids are the caller's text) go.
WITH erased AS (
    SELECT * FROM unnest(%(program_ids)s::text[], %(member_keys)s::text[])
        AS e (program_id, member_key)
),
links AS (
    DELETE FROM ledger.members AS m
    USING erased
    WHERE m.program_id = erased.program_id AND m.member_key = erased.member_key
    RETURNING 1
),
answers AS (
    DELETE FROM ledger.requests AS r
    USING erased
    WHERE r.program_id = erased.program_id AND r.stream_id = erased.member_key
    RETURNING 1
)
SELECT (SELECT count(*) FROM links), (SELECT count(*) FROM answers)
