-- The member directory keeps each account's tier (the `to_tier` of its latest TierChanged;
-- "" below the lowest tier, NULL before any tier change), for ListAccounts' `tier` filter.
--
-- Both slots are filled from the log up to their own checkpoints here, so a slot that was
-- live before this migration equals a rebuild from scratch, as the runner's crash test asks.
ALTER TABLE ledger.member_directory_a ADD COLUMN tier text COLLATE "C";
ALTER TABLE ledger.member_directory_b ADD COLUMN tier text COLLATE "C";

UPDATE ledger.member_directory_a AS d
SET tier = t.to_tier
FROM (
    SELECT DISTINCT ON (e.program_id, e.stream_id)
        e.program_id, e.stream_id, e.data ->> 'to_tier' AS to_tier
    FROM ledger.events AS e, ledger.projection_checkpoints AS c
    WHERE e.event_type = 'TierChanged'
        AND c.projection = 'member_directory' AND c.slot = 'a'
        AND (e.transaction_id, e.position) <= (c.transaction_id, c.position)
    ORDER BY e.program_id, e.stream_id, e.version DESC
) AS t
WHERE d.program_id = t.program_id AND d.member_key = t.stream_id;

UPDATE ledger.member_directory_b AS d
SET tier = t.to_tier
FROM (
    SELECT DISTINCT ON (e.program_id, e.stream_id)
        e.program_id, e.stream_id, e.data ->> 'to_tier' AS to_tier
    FROM ledger.events AS e, ledger.projection_checkpoints AS c
    WHERE e.event_type = 'TierChanged'
        AND c.projection = 'member_directory' AND c.slot = 'b'
        AND (e.transaction_id, e.position) <= (c.transaction_id, c.position)
    ORDER BY e.program_id, e.stream_id, e.version DESC
) AS t
WHERE d.program_id = t.program_id AND d.member_key = t.stream_id;

-- The view names its columns when created: made again to show the new one.
DROP VIEW ledger.member_directory;
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
GRANT SELECT ON ledger.member_directory TO loyalty_ledger_app;
