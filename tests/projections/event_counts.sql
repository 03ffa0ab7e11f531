-- A projection for tests only: per stream and per runner, how many events that runner
-- applied. Summed over runners it must equal the stream's version (nothing skipped, nothing
-- applied twice), and the runners named show who wrote.
CREATE TABLE IF NOT EXISTS ledger.event_counts_a (
    program_id  text COLLATE "C" NOT NULL,
    stream_id   text COLLATE "C" NOT NULL,
    runner      text COLLATE "C" NOT NULL,
    events      bigint NOT NULL CHECK (events > 0),
    PRIMARY KEY (program_id, stream_id, runner)
);

CREATE TABLE IF NOT EXISTS ledger.event_counts_b (LIKE ledger.event_counts_a INCLUDING ALL);

CREATE OR REPLACE VIEW ledger.event_counts AS
SELECT a.* FROM ledger.event_counts_a AS a
WHERE (
    SELECT c.slot FROM ledger.projection_checkpoints AS c
    WHERE c.projection = 'event_counts' AND c.live
) = 'a'
UNION ALL
SELECT b.* FROM ledger.event_counts_b AS b
WHERE (
    SELECT c.slot FROM ledger.projection_checkpoints AS c
    WHERE c.projection = 'event_counts' AND c.live
) = 'b';

INSERT INTO ledger.projection_checkpoints (projection, slot, live)
VALUES ('event_counts', 'a', true), ('event_counts', 'b', false)
ON CONFLICT (projection, slot) DO NOTHING;
