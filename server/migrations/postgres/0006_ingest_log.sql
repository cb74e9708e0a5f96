-- The ingest log: each accepted event batch is appended here as one row, committed before the
-- request is answered, and later folded into `events`, `sessions`, the prompt tables and
-- `exposures` by an aggregator, which deletes the rows it folded in the same transaction.
-- Replicas share the log; their aggregators take turns (an advisory lock). Identity keys are
-- assigned at insert, so a row may commit after a higher key: the aggregator deletes exactly
-- the rows it read, never a key range.
CREATE TABLE ingest_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id      TEXT NOT NULL,
    live        BOOLEAN NOT NULL,
    received_at BIGINT NOT NULL,
    -- How many events the batch holds, so the backlog can be measured without decoding it.
    events      BIGINT NOT NULL,
    -- The validated batch as JSON (events with their session facts, prompt changes, exposures).
    body        TEXT NOT NULL
);

-- Log rows the aggregator could not decode (a bug or a format from another version): kept with
-- the reason instead of blocking every row behind them or being dropped.
CREATE TABLE ingest_log_failed (
    id          BIGINT PRIMARY KEY,
    app_id      TEXT NOT NULL,
    live        BOOLEAN NOT NULL,
    received_at BIGINT NOT NULL,
    body        TEXT NOT NULL,
    error       TEXT NOT NULL,
    failed_at   BIGINT NOT NULL
);
