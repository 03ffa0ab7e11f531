-- The health check compares the migrations applied here with those the service ships, and
-- reports NOT_SERVING while any is missing (a server started with --no-migrate before the
-- migration Job ran): the service's role must be able to read the record. Nothing else it
-- reads there, and it may not write it: only the owner migrates.
GRANT SELECT ON ledger.schema_migrations TO loyalty_ledger_app;
