-- Signed checkpoints (README "Signed checkpoints", docs/VERIFY.md): every so often the sweep
-- records every stream's chain head, the Merkle root over them and an Ed25519 signature of
-- that root made with a key the database never holds. Append-only like the log.

CREATE TABLE ledger.checkpoints (
    checkpoint_id  bigint      PRIMARY KEY,
    -- The start of the interval it was made for: one checkpoint per interval, however many
    -- processes run the sweep.
    period_start   timestamptz NOT NULL UNIQUE,
    made_at        timestamptz NOT NULL,
    tree_size      bigint      NOT NULL CHECK (tree_size >= 0),
    root           bytea       NOT NULL CHECK (octet_length(root) = 32),
    -- SHA-256 of the raw public key that verifies the signature.
    key_id         bytea       NOT NULL CHECK (octet_length(key_id) = 32),
    signature      bytea       NOT NULL CHECK (octet_length(signature) = 64)
);

CREATE SEQUENCE ledger.checkpoint_id AS bigint;

-- The heads a checkpoint covers, in leaf order, so a disagreement names the stream.
CREATE TABLE ledger.checkpoint_leaves (
    -- The leaves are written first, in one statement, and the checkpoint row once the root
    -- over them is signed, in the same transaction. No foreign key: its check, deferred to the
    -- commit, cost a lookup per leaf, and nothing here is ever deleted.
    checkpoint_id  bigint NOT NULL,
    leaf_index     bigint NOT NULL CHECK (leaf_index >= 0),
    program_id     text COLLATE "C" NOT NULL,
    stream_id      text COLLATE "C" NOT NULL,
    version        bigint NOT NULL CHECK (version > 0),
    hash           bytea  NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (checkpoint_id, leaf_index)
);

CREATE TRIGGER checkpoints_no_update_or_delete
    BEFORE UPDATE OR DELETE ON ledger.checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger.reject_change();
CREATE TRIGGER checkpoints_no_truncate
    BEFORE TRUNCATE ON ledger.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.reject_change();
CREATE TRIGGER checkpoint_leaves_no_update_or_delete
    BEFORE UPDATE OR DELETE ON ledger.checkpoint_leaves
    FOR EACH ROW EXECUTE FUNCTION ledger.reject_change();
CREATE TRIGGER checkpoint_leaves_no_truncate
    BEFORE TRUNCATE ON ledger.checkpoint_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.reject_change();

GRANT SELECT, INSERT ON ledger.checkpoints, ledger.checkpoint_leaves TO loyalty_ledger_app;
GRANT USAGE ON SEQUENCE ledger.checkpoint_id TO loyalty_ledger_app;
