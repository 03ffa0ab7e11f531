-- Links new members to the keys proposed for them, with their referral codes and keyed
-- fingerprints (0020_referral_codes.sql); an id already linked keeps its key (a concurrent
-- enrolment of the same id linked it first), and a proposed key or code already taken links
-- nothing (the caller proposes another). Returns the links this statement made; the caller
-- reads the others with member_keys.sql, in a statement of its own, whose snapshot sees links
-- committed by writers this one waited for.
INSERT INTO ledger.members AS m (
    program_id, member_id, member_key, referral_code, referral_fingerprint
)
SELECT %(program_id)s, proposed.member_id, proposed.member_key, proposed.referral_code,
    nullif(proposed.fingerprint, '')
FROM unnest(
    %(member_ids)s::text[], %(member_keys)s::text[], %(referral_codes)s::text[],
    %(fingerprints)s::text[]
) AS proposed (member_id, member_key, referral_code, fingerprint)
ON CONFLICT DO NOTHING
RETURNING m.member_id, m.member_key
