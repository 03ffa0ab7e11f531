-- How many events a rebuild has ahead of it (for its progress and ETA).
SELECT count(*) FROM ledger.events
