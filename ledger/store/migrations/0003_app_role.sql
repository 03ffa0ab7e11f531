-- The role the service runs as (SET ROLE after connecting, see LEDGER_DB_ROLE): it may only
-- read and append the log. Roles are cluster-wide, so it is created only if missing.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'loyalty_ledger_app') THEN
        CREATE ROLE loyalty_ledger_app NOLOGIN;
    END IF;
END;
$$;

GRANT USAGE ON SCHEMA ledger TO loyalty_ledger_app;
GRANT SELECT, INSERT ON ledger.events TO loyalty_ledger_app;
GRANT USAGE ON SEQUENCE ledger.event_position TO loyalty_ledger_app;
-- The state rows are overwritten as streams move on; they are a cache of the log.
GRANT SELECT, INSERT, UPDATE ON ledger.streams TO loyalty_ledger_app;
GRANT SELECT, INSERT ON ledger.requests TO loyalty_ledger_app;
