-- Orders left the account snapshot, which kept every order a member ever made and was
-- rewritten with every command (a member with 10,000 purchases had a 1.5 MB state row).
-- A command that names an order now reads that order's events instead, through this index.
-- Partial: only the events that carry an order id (purchases, refunds, releases) are in it,
-- so earns and redemptions do not pay for it.
CREATE INDEX events_orders ON ledger.events (program_id, stream_id, (data ->> 'order_id'))
    WHERE data ? 'order_id';
