-- Members per stage of a program, from the live slot of the stage view: its counts
-- (0072_member_stage_counts.sql), one row per stage whatever the size of the program.
WITH live AS MATERIALIZED (
    SELECT c.slot
    FROM ledger.projection_checkpoints AS c
    WHERE c.projection = 'member_stages' AND c.live
)
SELECT a.stage, a.members
FROM ledger.member_stage_counts_a AS a
WHERE (SELECT slot FROM live) = 'a' AND a.program_id = %(program_id)s
UNION ALL
SELECT b.stage, b.members
FROM ledger.member_stage_counts_b AS b
WHERE (SELECT slot FROM live) = 'b' AND b.program_id = %(program_id)s
