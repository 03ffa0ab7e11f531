-- The state rows of some account streams, each with the account's row of the stage view (its
-- live slot; NULL until the view has applied the account), in one round trip: what GetAccount
-- reads (ledger/account_reads.py gathers concurrent calls into one such read). The stage row
-- is looked up by key in each slot's primary key, as list_directory.sql does.
SELECT s.program_id, s.stream_id, s.version, s.last_hash, s.state, s.created_at, s.updated_at,
    st.stage, st.stage_time
FROM ledger.streams AS s
JOIN unnest(%(program_ids)s::text[], %(stream_ids)s::text[]) AS k (program_id, stream_id)
    ON s.program_id = k.program_id AND s.stream_id = k.stream_id
LEFT JOIN LATERAL (
    SELECT a.stage, a.stage_time
    FROM ledger.member_stages_a AS a
    WHERE a.program_id = s.program_id AND a.member_key = s.stream_id
        AND (SELECT c.slot FROM ledger.projection_checkpoints AS c
             WHERE c.projection = 'member_stages' AND c.live) = 'a'
    UNION ALL
    SELECT b.stage, b.stage_time
    FROM ledger.member_stages_b AS b
    WHERE b.program_id = s.program_id AND b.member_key = s.stream_id
        AND (SELECT c.slot FROM ledger.projection_checkpoints AS c
             WHERE c.projection = 'member_stages' AND c.live) = 'b'
) AS st ON true
