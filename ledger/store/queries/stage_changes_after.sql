-- A program's stage and tier changes after a position of the feed, in feed order, from the
-- live slot, with the member ids of members not forgotten; of the kinds given ('stage',
-- 'tier'), or of every kind for NULL.
SELECT c.at_transaction::text, c.at_position, c.ordinal, c.program_id, c.member_key,
    m.member_id, c.from_stage, c.to_stage, c.change_time, c.cause_event_id::text,
    c.cause_event_type, c.kind, c.from_tier, c.to_tier, c.tier_reason, c.qualifying_figure
FROM ledger.member_stage_changes AS c
LEFT JOIN ledger.members AS m ON m.program_id = c.program_id AND m.member_key = c.member_key
WHERE c.program_id = %(program_id)s
    AND (c.at_transaction, c.at_position, c.ordinal)
        > (%(after_transaction)s::xid8, %(after_position)s::bigint, %(after_ordinal)s::bigint)
    AND (%(kinds)s::text[] IS NULL OR c.kind = ANY (%(kinds)s::text[]))
ORDER BY c.at_transaction, c.at_position, c.ordinal
LIMIT %(limit)s
