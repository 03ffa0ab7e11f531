-- Takes the slot's checkpoint row for the page's transaction, if it is still where the
-- caller read it and the slot still live (or still the standby) as the caller believes:
-- the compare-and-set of projection_page.sql, taken first, since a folded page writes in
-- several statements. Every writer of a slot locks this row, so two are serialized.
SELECT 1
FROM ledger.projection_checkpoints
WHERE projection = %(projection)s AND slot = %(slot)s AND live = %(live)s
    AND transaction_id = %(after_transaction)s::xid8
    AND position = %(after_position)s::bigint
FOR UPDATE
