-- A projection's two checkpoint rows, slot a live, unless they exist (a migration creates
-- those of the projections shipped with the ledger; this covers any other, once).
INSERT INTO ledger.projection_checkpoints (projection, slot, live)
VALUES (%(projection)s, 'a', true), (%(projection)s, 'b', false)
ON CONFLICT (projection, slot) DO NOTHING
