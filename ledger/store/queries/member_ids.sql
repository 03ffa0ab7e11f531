-- The member ids behind account keys, for callers that name accounts (the event feed, the
-- entries of a stream); a forgotten member's key has no row, and is left out.
SELECT m.program_id, m.member_key, m.member_id
FROM unnest(%(program_ids)s::text[], %(member_keys)s::text[]) AS k (program_id, member_key)
JOIN ledger.members AS m USING (program_id, member_key)
