-- The newest committed event, whether readers may see it yet or not: past global_head.sql's
-- while an older transaction still runs. One step of the global order's index (an EXISTS
-- over a position the planner cannot know was planned as a scan of the whole log:
-- tests/integration/test_log_not_scanned.py). Asked by the feed's tail and after each page of
-- the stage view.
SELECT transaction_id::text, position
FROM ledger.events AS e
-- Qualified: a bare transaction_id would order by the output column (text), as read_all.sql says.
ORDER BY e.transaction_id DESC, e.position DESC
LIMIT 1
