-- The primary's WAL write position, in bytes: every transaction acknowledged before this
-- query ran lies at or below it.
SELECT pg_current_wal_lsn() - '0/0'::pg_lsn
