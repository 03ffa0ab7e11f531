-- Members per stage of a program, kept beside the stage view so that GetProgramStatistics
-- reads one row per stage however many members the program has (counting the stage view's
-- rows would read one index entry per member). A companion of each slot of the view
-- (ledger/projections/catalog.py), emptied with it before a rebuild; kept by triggers on
-- the slot's stage rows, so every writer of a stage (a page's fold, the lapse sweep) counts
-- without knowing. A stage's row goes when its count reaches 0: the rows are a function of
-- the stage rows alone, however the pages fell.
CREATE TABLE ledger.member_stage_counts_a (
    program_id  text COLLATE "C" NOT NULL,
    stage       text        NOT NULL,
    members     bigint      NOT NULL CHECK (members > 0),
    PRIMARY KEY (program_id, stage)
);

CREATE TABLE ledger.member_stage_counts_b (LIKE ledger.member_stage_counts_a INCLUDING ALL);

CREATE FUNCTION ledger.member_stage_count_moved(
    slot_table text, program text, from_stage text, to_stage text
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF slot_table = 'member_stages_a' THEN
        INSERT INTO ledger.member_stage_counts_a AS c (program_id, stage, members)
        VALUES (program, to_stage, 1)
        ON CONFLICT (program_id, stage) DO UPDATE SET members = c.members + 1;
        IF from_stage IS NOT NULL THEN
            DELETE FROM ledger.member_stage_counts_a
            WHERE program_id = program AND stage = from_stage AND members = 1;
            UPDATE ledger.member_stage_counts_a SET members = members - 1
            WHERE program_id = program AND stage = from_stage;
        END IF;
    ELSE
        INSERT INTO ledger.member_stage_counts_b AS c (program_id, stage, members)
        VALUES (program, to_stage, 1)
        ON CONFLICT (program_id, stage) DO UPDATE SET members = c.members + 1;
        IF from_stage IS NOT NULL THEN
            DELETE FROM ledger.member_stage_counts_b
            WHERE program_id = program AND stage = from_stage AND members = 1;
            UPDATE ledger.member_stage_counts_b SET members = members - 1
            WHERE program_id = program AND stage = from_stage;
        END IF;
    END IF;
END
$$;

CREATE FUNCTION ledger.member_stage_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM ledger.member_stage_count_moved(TG_TABLE_NAME, NEW.program_id, NULL, NEW.stage);
    ELSE
        PERFORM ledger.member_stage_count_moved(
            TG_TABLE_NAME, NEW.program_id, OLD.stage, NEW.stage
        );
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER member_stages_a_counted_insert AFTER INSERT ON ledger.member_stages_a
FOR EACH ROW EXECUTE FUNCTION ledger.member_stage_counted();
CREATE TRIGGER member_stages_a_counted_update AFTER UPDATE OF stage ON ledger.member_stages_a
FOR EACH ROW WHEN (OLD.stage IS DISTINCT FROM NEW.stage)
EXECUTE FUNCTION ledger.member_stage_counted();
CREATE TRIGGER member_stages_b_counted_insert AFTER INSERT ON ledger.member_stages_b
FOR EACH ROW EXECUTE FUNCTION ledger.member_stage_counted();
CREATE TRIGGER member_stages_b_counted_update AFTER UPDATE OF stage ON ledger.member_stages_b
FOR EACH ROW WHEN (OLD.stage IS DISTINCT FROM NEW.stage)
EXECUTE FUNCTION ledger.member_stage_counted();

-- The stage rows already there.
INSERT INTO ledger.member_stage_counts_a (program_id, stage, members)
SELECT program_id, stage, count(*) FROM ledger.member_stages_a GROUP BY program_id, stage;
INSERT INTO ledger.member_stage_counts_b (program_id, stage, members)
SELECT program_id, stage, count(*) FROM ledger.member_stages_b GROUP BY program_id, stage;

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON
    ledger.member_stage_counts_a, ledger.member_stage_counts_b
TO loyalty_ledger_app;
