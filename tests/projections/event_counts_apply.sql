-- The event_counts projection's part of a page: every event of the page, program streams
-- included, counted for the runner that applies it.
INSERT INTO {view} AS v (program_id, stream_id, runner, events)
SELECT program_id, stream_id, %(runner)s, count(*)
FROM page
GROUP BY program_id, stream_id
ON CONFLICT (program_id, stream_id, runner) DO UPDATE SET events = v.events + excluded.events
