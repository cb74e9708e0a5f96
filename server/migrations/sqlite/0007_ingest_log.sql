-- Event ingest appends each accepted batch to an ingest log, and an aggregator folds the log into
-- `events`, `sessions`, the prompt tables and `exposures` later. On SQLite the log lives in a
-- database file of its own (`<file>.ingest`, schema in `ingest_log.sql`), so appending to it
-- never waits for the aggregator's write lock on this file.
--
-- How far the log is folded: the aggregator advances this key in the same transaction as the
-- rows it folds, and deletes the log rows up to it afterwards, so a row is folded exactly once
-- even if the process stops between the two.
CREATE TABLE ingest_progress (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    folded_up_to  INTEGER NOT NULL
);
INSERT INTO ingest_progress (id, folded_up_to) VALUES (1, 0);

-- Log rows the aggregator could not decode (a bug or a format from another version): kept with
-- the reason instead of blocking every row behind them or being dropped.
CREATE TABLE ingest_log_failed (
    id          INTEGER PRIMARY KEY,
    app_id      TEXT NOT NULL,
    live        INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    body        TEXT NOT NULL,
    error       TEXT NOT NULL,
    failed_at   INTEGER NOT NULL
);
