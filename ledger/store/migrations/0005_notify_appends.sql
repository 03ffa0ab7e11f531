-- Readers of the global order (the StreamEvents feed, projection runners) are woken when
-- events are appended instead of each polling the table. One notification per appending
-- statement, not per row: a batch of a thousand events wakes each listener once, and
-- PostgreSQL folds identical notifications of one transaction into one.
CREATE FUNCTION ledger.notify_appended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ledger_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify_appended
    AFTER INSERT ON ledger.events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.notify_appended();
