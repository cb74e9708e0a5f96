-- The experiments' rollup: per experiment, variant and hour of first exposure (`at / 3600`), the
-- sums of what each exposed customer contributes to the report's metrics
-- (`storage::arms::ArmSums`), kept by every write that changes a contribution, so a report reads
-- arms times hours instead of exposed customers.
CREATE TABLE experiment_rollup (
    app_id          TEXT NOT NULL,
    live            BOOLEAN NOT NULL,
    experiment      TEXT NOT NULL,
    variant         TEXT NOT NULL,
    hour            BIGINT NOT NULL,
    units           BIGINT NOT NULL DEFAULT 0,
    saved           BIGINT NOT NULL DEFAULT 0,
    retained_30d    BIGINT NOT NULL DEFAULT 0,
    upgraded_30d    BIGINT NOT NULL DEFAULT 0,
    crossed         BIGINT NOT NULL DEFAULT 0,
    revenue_cents   BIGINT NOT NULL DEFAULT 0,
    revenue_squares DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, live, experiment, variant, hour)
);

-- A report reads the customers exposed in the hour its cut falls in.
CREATE INDEX exposures_by_time ON exposures (app_id, live, experiment, at);

-- Both rollups are built again, from what is stored, at the next start.
DELETE FROM stats_rollup_built;
