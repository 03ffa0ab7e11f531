-- Members per stage of a program, from the live slot of the stage view: an index-only scan
-- of (program_id, stage) (0030_member_stages.sql), whatever the size of the program.
SELECT s.stage, count(*)
FROM ledger.member_stages AS s
WHERE s.program_id = %(program_id)s
GROUP BY s.stage
