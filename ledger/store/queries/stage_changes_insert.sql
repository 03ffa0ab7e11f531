-- A page's stage changes, into the slot's history ({changes}), in one statement.
INSERT INTO {changes} (
    program_id, member_key, at_transaction, at_position, ordinal, change_time, from_stage,
    to_stage, cause_event_id, cause_event_type
)
SELECT program_id, member_key, at_transaction::xid8, at_position, ordinal, change_time,
    from_stage, to_stage, cause_event_id::uuid, cause_event_type
FROM unnest(
    %(program_ids)s::text[], %(member_keys)s::text[], %(at_transactions)s::text[],
    %(at_positions)s::bigint[], %(ordinals)s::bigint[], %(change_times)s::timestamptz[],
    %(from_stages)s::text[], %(to_stages)s::text[], %(cause_event_ids)s::text[],
    %(cause_event_types)s::text[]
) AS c (
    program_id, member_key, at_transaction, at_position, ordinal, change_time, from_stage,
    to_stage, cause_event_id, cause_event_type
)
