-- Whether an audit of one program has anything to read: an event or a state row of it. The
-- state rows count too, so a program whose events were deleted behind the triggers' back is
-- still audited (its state rows then show as orphans) rather than called unknown.
SELECT EXISTS (SELECT 1 FROM ledger.events WHERE program_id = %(program_id)s::text)
    OR EXISTS (SELECT 1 FROM ledger.streams WHERE program_id = %(program_id)s::text)
