-- Links made for an enrolment whose append then failed (a program that does not exist, a
-- deadline that passed) hold an id with no account behind it: deleted once older than a
-- time no enrolment in flight can reach. Only links of the window before that time are
-- looked at (members_linked_at), so a pass costs the links made in that window, not all.
DELETE FROM ledger.members AS m
USING (
    SELECT l.program_id, l.member_id
    FROM ledger.members AS l
    WHERE l.linked_at < %(before)s AND l.linked_at >= %(since)s
        AND NOT EXISTS (
            SELECT FROM ledger.streams AS s
            WHERE s.program_id = l.program_id AND s.stream_id = l.member_key
        )
    LIMIT %(limit)s
) AS stray
WHERE m.program_id = stray.program_id AND m.member_id = stray.member_id
