-- Appends a batch in one statement, hence one round trip and one transaction: the events,
-- the streams' new state rows and the requests' answers (migration 0060: the service's role
-- appends only through this function). The batch arrives as one JSON document that
-- PostgreSQL unpacks itself (jsonb_to_recordset), which costs the client one encode per
-- batch instead of a parameter per column.
--
-- Optimistic concurrency needs no extra check: each event's version is the version its
-- writer read plus one, so a stale writer collides with the primary key
-- (program_id, stream_id, version) and the whole statement fails; the writer re-decides
-- against fresh state.
SELECT events_appended, streams_written, requests_stored
FROM ledger.append_batch(%(batch)s::jsonb)
