-- The stage rows of some accounts of a program, from the live slot of the stage view.
SELECT s.member_key, s.stage, s.stage_time
FROM ledger.member_stages AS s
WHERE s.program_id = %(program_id)s AND s.member_key = ANY (%(member_keys)s::text[])
