-- Pseudonymous member keys (README "Personal data").
--
-- The log, the state rows, the stored answers and every view name an account by its member's
-- pseudonymous key: '~' and 26 random base32 characters, given at enrolment. The id the brand
-- uses lives here only, so forgetting a member (ForgetMember) deletes one row and the log
-- keeps nothing that leads back to the person.
CREATE TABLE ledger.members (
    program_id  text COLLATE "C" NOT NULL,
    member_id   text COLLATE "C" NOT NULL,
    member_key  text COLLATE "C" NOT NULL,
    linked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id),
    -- Translating keys back to ids (the event feed, the directory) looks them up this way.
    UNIQUE (program_id, member_key)
);

CREATE INDEX members_linked_at ON ledger.members (linked_at);

-- Accounts opened before this migration keep their member id as their key: their events
-- hash it in their stream id, and rewriting them would break the chains an auditor verifies
-- (README "Personal data" says what forgetting such a member can and cannot erase).
INSERT INTO ledger.members (program_id, member_id, member_key, linked_at)
SELECT program_id, stream_id, stream_id, created_at
FROM ledger.streams
WHERE NOT starts_with(stream_id, '$');

-- Retention: the sweep deletes stored answers older than the configured period. A BRIN index:
-- answers are inserted in time order, so block ranges summarise them well, and it costs the
-- write path next to nothing (a btree here is one more index entry per answered request,
-- about 20 us of the database's time per earn; docs/PERFORMANCE.md).
CREATE INDEX requests_recorded_at ON ledger.requests USING brin (recorded_at);

-- The member directory names accounts by key too; ListAccounts joins ledger.members for the
-- ids (a forgotten member has no row there, so it is listed no more).
DROP VIEW ledger.member_directory;
ALTER TABLE ledger.member_directory_a RENAME COLUMN member_id TO member_key;
ALTER TABLE ledger.member_directory_b RENAME COLUMN member_id TO member_key;
CREATE VIEW ledger.member_directory AS
SELECT a.*
FROM ledger.member_directory_a AS a
WHERE (
    SELECT c.slot FROM ledger.projection_checkpoints AS c
    WHERE c.projection = 'member_directory' AND c.live
) = 'a'
UNION ALL
SELECT b.*
FROM ledger.member_directory_b AS b
WHERE (
    SELECT c.slot FROM ledger.projection_checkpoints AS c
    WHERE c.projection = 'member_directory' AND c.live
) = 'b';

-- The service links new members, forgets members (deleting their link and their stored
-- answers) and expires stored answers past their retention; the log itself stays append-only.
GRANT SELECT, INSERT, DELETE ON ledger.members TO loyalty_ledger_app;
GRANT DELETE ON ledger.requests TO loyalty_ledger_app;
GRANT SELECT ON ledger.member_directory TO loyalty_ledger_app;
