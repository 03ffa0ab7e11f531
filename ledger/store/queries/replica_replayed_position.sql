-- How far a streaming replica has replayed the primary's WAL, in bytes; NULL on a server
-- that is not a replica.
SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn
