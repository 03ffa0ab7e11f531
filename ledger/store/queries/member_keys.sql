-- The keys of members linked in a program, by their ids (ids with no link are left out).
SELECT member_id, member_key
FROM ledger.members
WHERE program_id = %(program_id)s AND member_id = ANY(%(member_ids)s::text[])
