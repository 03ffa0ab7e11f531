-- Held until the transaction ends: processes sweeping at once make one checkpoint, in turn.
SELECT pg_advisory_xact_lock(%(lock_key)s)
