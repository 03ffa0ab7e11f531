-- A page's tier changes, into the slot's history ({changes}) beside the stage changes, in one
-- statement: each at its TierChanged event's position (0075_tier_change_feed.sql says why).
INSERT INTO {changes} (
    program_id, member_key, at_transaction, at_position, ordinal, change_time, cause_event_id,
    cause_event_type, kind, from_tier, to_tier, tier_reason, qualifying_figure
)
SELECT program_id, member_key, at_transaction::xid8, at_position, %(ordinal)s::bigint,
    change_time, cause_event_id::uuid, %(cause_event_type)s::text, 'tier', from_tier, to_tier,
    tier_reason, qualifying_figure
FROM unnest(
    %(program_ids)s::text[], %(member_keys)s::text[], %(at_transactions)s::text[],
    %(at_positions)s::bigint[], %(change_times)s::timestamptz[], %(cause_event_ids)s::text[],
    %(from_tiers)s::text[], %(to_tiers)s::text[], %(reasons)s::text[],
    %(qualifying_figures)s::bigint[]
) AS c (
    program_id, member_key, at_transaction, at_position, change_time, cause_event_id,
    from_tier, to_tier, tier_reason, qualifying_figure
)
