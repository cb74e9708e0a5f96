-- The experiments' rollup: per experiment, variant and hour of first exposure (`at / 3600`), the
-- sums of what each exposed customer contributes to the report's metrics
-- (`storage::arms::ArmSums`), kept by every write that changes a contribution, so a report reads
-- arms times hours instead of exposed customers.
CREATE TABLE experiment_rollup (
    app_id          TEXT NOT NULL,
    live            INTEGER NOT NULL,
    experiment      TEXT NOT NULL,
    variant         TEXT NOT NULL,
    hour            INTEGER NOT NULL,
    units           INTEGER NOT NULL DEFAULT 0,
    saved           INTEGER NOT NULL DEFAULT 0,
    retained_30d    INTEGER NOT NULL DEFAULT 0,
    upgraded_30d    INTEGER NOT NULL DEFAULT 0,
    crossed         INTEGER NOT NULL DEFAULT 0,
    revenue_cents   INTEGER NOT NULL DEFAULT 0,
    revenue_squares REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, live, experiment, variant, hour)
);

-- A report reads the customers exposed in the hour its cut falls in.
CREATE INDEX exposures_by_time ON exposures (app_id, live, experiment, at);

-- Both rollups are built again, from what is stored, at the next start.
DELETE FROM stats_rollup_built;
