-- Where each part of a parallel replay starts: the stream keys that cut the log into
-- %(parts)s ranges of about equal numbers of events. A state row's version is its stream's
-- event count, so the cut needs no pass over the events. The ranges cover every key whatever
-- the state rows say; the rows only weigh them (a stream is never split: its chain is
-- sequential).
WITH weighted AS (
    SELECT program_id, stream_id,
        sum(version) OVER (ORDER BY program_id, stream_id) - version AS events_before,
        sum(version) OVER () AS events
    FROM ledger.streams
    WHERE %(program_id)s::text IS NULL OR program_id = %(program_id)s::text
)
SELECT DISTINCT ON (part) program_id, stream_id
FROM (
    SELECT floor(events_before * %(parts)s::integer / events)::integer AS part,
        program_id, stream_id
    FROM weighted
) AS cut
WHERE part > 0
ORDER BY part, program_id, stream_id
