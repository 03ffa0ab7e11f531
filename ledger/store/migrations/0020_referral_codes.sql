-- Referral codes (README "Referrals"), looked up through the erasable member link: a member's
-- code lives beside their id, so forgetting the member (erase_members.sql deletes the row)
-- makes the code name nobody. The code is derived from the member's pseudonymous key
-- (ledger/domain/referral_codes.py), which is random, so it cannot be computed from the id.
-- The keyed hash of an email or payment fingerprint given at enrolment (for self-referral
-- checks) is kept here too, for the same reason: it goes with the member.
ALTER TABLE ledger.members
    ADD COLUMN referral_code text COLLATE "C",
    ADD COLUMN referral_fingerprint text COLLATE "C";

-- Members linked before this migration keep the code their accounts were shown (it may be
-- shared already): the first 10 base32 characters of sha256('<program>/<key>'), as
-- referral_codes.referral_code computes it (tests/e2e/test_referral_codes_sql.py holds the
-- two to one answer). New members' codes are computed by the ledger when it links them.
CREATE FUNCTION ledger.referral_code(program_id text, member_key text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
RETURN (
    SELECT string_agg(
        substr('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', substring(d.b FROM 1 + 5 * i FOR 5)::int + 1, 1),
        '' ORDER BY i
    )
    FROM (
        SELECT ('x' || encode(substring(
            sha256(convert_to(program_id || '/' || member_key, 'UTF8')) FROM 1 FOR 8
        ), 'hex'))::bit(64) AS b
    ) AS d, generate_series(0, 9) AS i
);

UPDATE ledger.members SET referral_code = ledger.referral_code(program_id, member_key);

-- One member per code in a program; a new member whose code would clash is not linked, and
-- the ledger proposes another key (ledger/members.py), as for a clash of keys.
CREATE UNIQUE INDEX members_referral_code ON ledger.members (program_id, referral_code);
