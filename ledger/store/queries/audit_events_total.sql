-- About how many events a replay has ahead of it, for its progress: a state row's version is
-- its stream's event count, so no pass over the events is needed.
SELECT coalesce(sum(version), 0)::bigint FROM ledger.streams
WHERE %(program_id)s::text IS NULL OR program_id = %(program_id)s::text
