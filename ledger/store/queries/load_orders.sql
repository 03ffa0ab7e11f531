-- Every event of the given orders, each order in its stream's version order: what a refund
-- or a confirmation needs of an order, which the account's snapshot does not keep. Served by
-- the partial index events_orders (0004_order_index.sql).
SELECT e.program_id, e.stream_id, e.version, e.event_id::text, e.event_type, e.schema_version,
    e.data, e.metadata, e.recorded_at, e.points_available, e.points_pending, e.points_held,
    e.points_lifetime_earned, e.points_lifetime_redeemed, e.points_expired, e.hash,
    e.transaction_id::text, e.position, k.order_id
FROM unnest(%(program_ids)s::text[], %(stream_ids)s::text[], %(order_ids)s::text[])
    AS k (program_id, stream_id, order_id)
JOIN ledger.events AS e
    ON e.program_id = k.program_id AND e.stream_id = k.stream_id
    AND e.data ? 'order_id' AND e.data ->> 'order_id' = k.order_id
ORDER BY e.program_id, e.stream_id, e.version
