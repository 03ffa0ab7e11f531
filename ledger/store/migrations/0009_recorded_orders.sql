-- A stream holds at most one PurchaseRecorded per order id. The ledger relies on it to take a
-- purchase's order as new without reading it first (one round trip fewer per purchase): a
-- second purchase of an order, from a process that did not know the order, is refused here as
-- a conflict, and the ledger decides it again after reading the order.
-- Built inside the migration's transaction, so writes to ledger.events wait while it builds;
-- on a large log, build it beforehand with CREATE UNIQUE INDEX CONCURRENTLY under this name.
CREATE UNIQUE INDEX IF NOT EXISTS events_recorded_orders
    ON ledger.events (program_id, stream_id, (data ->> 'order_id'))
    WHERE event_type = 'PurchaseRecorded';
