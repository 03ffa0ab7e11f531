-- Takes a projection's advisory lock for this session if nobody holds it (a runner's or a
-- rebuild's, by namespace); held until the session ends, whatever its transactions do.
SELECT pg_try_advisory_lock(%(namespace)s::integer, %(key)s::integer)
