-- Wakes this session whenever events are appended (migrations/0005_notify_appends.sql).
LISTEN ledger_events
