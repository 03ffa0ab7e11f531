-- Where a projection's live slot (or its standby) has got to.
SELECT slot, transaction_id::text, position
FROM ledger.projection_checkpoints
WHERE projection = %(projection)s AND live = %(live)s
