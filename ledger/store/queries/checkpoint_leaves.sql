-- A checkpoint's leaves in order, each with the hash and id of the event the log holds at the
-- leaf's version (NULL where there is none), read through a cursor a batch at a time.
SELECT leaf.program_id, leaf.stream_id, leaf.version, leaf.hash, event.hash,
    event.event_id::text
FROM ledger.checkpoint_leaves AS leaf
LEFT JOIN ledger.events AS event
    ON event.program_id = leaf.program_id AND event.stream_id = leaf.stream_id
    AND event.version = leaf.version
WHERE leaf.checkpoint_id = %(checkpoint_id)s
ORDER BY leaf.leaf_index
