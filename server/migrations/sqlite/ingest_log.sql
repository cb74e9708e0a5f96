-- The schema of SQLite's ingest log file (`<database file>.ingest`), applied by the store when it
-- opens. Each accepted event batch is appended as one row, committed before the request is
-- answered; the aggregator folds rows into the main database (see `0007_ingest_log.sql`) and
-- deletes them. AUTOINCREMENT: keys only grow, even after the log has been emptied, so "folded
-- up to key N" always means the same rows.
CREATE TABLE IF NOT EXISTS ingest_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id      TEXT NOT NULL,
    live        INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    -- How many events the batch holds, so the backlog can be measured without decoding it.
    events      INTEGER NOT NULL,
    -- The validated batch as JSON (events with their session facts, prompt changes, exposures).
    body        TEXT NOT NULL
);
