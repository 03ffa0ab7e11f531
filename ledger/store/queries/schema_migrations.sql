-- The migrations applied so far, which the health check compares with the files shipped.
SELECT name FROM ledger.schema_migrations
