-- Links new members to the keys proposed for them; an id already linked keeps its key (a
-- concurrent enrolment of the same id linked it first). Returns the links this statement
-- made; the caller reads the others with member_keys.sql, in a statement of its own, whose
-- snapshot sees links committed by writers this one waited for.
INSERT INTO ledger.members AS m (program_id, member_id, member_key)
SELECT %(program_id)s, proposed.member_id, proposed.member_key
FROM unnest(%(member_ids)s::text[], %(member_keys)s::text[]) AS proposed (member_id, member_key)
ON CONFLICT DO NOTHING
RETURNING m.member_id, m.member_key
