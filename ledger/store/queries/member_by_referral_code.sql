-- The member a referral code names in a program (served by members_referral_code), and the
-- keyed fingerprint they gave, if any; no row for a code no member holds (or one forgotten).
SELECT member_key, coalesce(referral_fingerprint, '')
FROM ledger.members
WHERE program_id = %(program_id)s AND referral_code = %(referral_code)s
