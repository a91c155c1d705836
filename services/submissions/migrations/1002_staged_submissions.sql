-- Submissions being received: each batch of a stream's entries is committed here in its own
-- short transaction, so a stream that waits for its client holds no transaction and no lock.
-- When the stream ends cleanly, one transaction moves the entries into chronology_entries and
-- deletes the stage. No foreign key to report_requests: a key check would take a share lock
-- on the request row for as long as the stage exists. (agency_reports rows are now written
-- whole, with their version, by that last transaction.)
--
-- UNLOGGED: a stage is written once and read once, and writing it to the WAL as well halved
-- the ingest rate. What that gives up is only the stages themselves: PostgreSQL empties
-- unlogged tables after a crash, and a promoted standby has none. A stream whose stage went
-- is told so when it ends (FAILED_PRECONDITION, nothing stored: send it again), as after the
-- sweep; its client saw the database go away in any case.
CREATE UNLOGGED TABLE staged_submissions (
    stage_id       UUID PRIMARY KEY,
    partnership_id TEXT NOT NULL,
    review_id      UUID NOT NULL,
    agency_id      TEXT NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    -- Moved on with every batch: the sweep deletes stages untouched for longer than
    -- CSPR_SUBMISSIONS_STAGE_MAX_AGE (their stream's process died).
    touched_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX staged_submissions_by_touch ON staged_submissions (touched_at);

CREATE UNLOGGED TABLE staged_entries (
    -- No foreign key: its check on every inserted row, and the cascade's row-by-row delete,
    -- cost more than the rows themselves. A batch is written in the transaction that moves
    -- its stage's touched_at (locking the stage row, so the sweep skips it), and every
    -- delete of a stage deletes its entries in the same statement.
    stage_id          UUID NOT NULL,
    seq               INTEGER NOT NULL,
    occurred_on       DATE NOT NULL,
    time_of_day       TEXT NOT NULL,
    service           TEXT NOT NULL,
    practitioner_name TEXT NOT NULL,
    practitioner_role TEXT NOT NULL,
    description       TEXT NOT NULL,
    outcome           TEXT NOT NULL,
    PRIMARY KEY (stage_id, seq)
);
