-- Stats to METRICS.md, and rollups so a report reads hours times dimensions, not sessions.
--
-- Sessions learn what the bounce rule needs (a step after `flow_started`; when the flow was
-- closed) and an accepted offer's term (net revenue counts the part of its cost inside 90 days).
-- Existing rows: a session with a reason, an offer or an outcome had a step; their close time is
-- unknown, so none of them is a bounce; their offer term is unknown (0: the whole cost counts
-- from the first month).
ALTER TABLE sessions ADD COLUMN offer_months BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN interacted BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN closed_at BIGINT;
UPDATE sessions SET interacted = 1
    WHERE reason IS NOT NULL OR offer_id IS NOT NULL OR saved = 1 OR cancelled = 1;
-- A customer's neighbouring sessions (the 30-minute rule) and sessions within 90 days of a
-- churn are read by customer and time.
CREATE INDEX sessions_by_customer ON sessions (app_id, live, customer_id, started_at);
CREATE INDEX outcomes_cancelled_by_customer ON outcomes (app_id, live, customer_id)
    WHERE outcome = 'cancelled';

-- Per hour (`started_at / 3600`), dimension (`total` with key '', `reason`, `offer_kind`,
-- `plan`, `tenure_band`, `variant`, `week`) and key: the sums of what each session contributes
-- (`storage::rollup::Counters`), kept by every write that changes a contribution.
CREATE TABLE stats_rollup (
    app_id                TEXT NOT NULL,
    live                  BOOLEAN NOT NULL,
    hour                  BIGINT NOT NULL,
    dimension             TEXT NOT NULL,
    key                   TEXT NOT NULL,
    sessions              BIGINT NOT NULL DEFAULT 0,
    bounces               BIGINT NOT NULL DEFAULT 0,
    duplicates            BIGINT NOT NULL DEFAULT 0,
    saved                 BIGINT NOT NULL DEFAULT 0,
    cancelled             BIGINT NOT NULL DEFAULT 0,
    abandoned             BIGINT NOT NULL DEFAULT 0,
    open                  BIGINT NOT NULL DEFAULT 0,
    saved_mrr_cents       BIGINT NOT NULL DEFAULT 0,
    offer_cost_cents      BIGINT NOT NULL DEFAULT 0,
    retained_30           BIGINT NOT NULL DEFAULT 0,
    retained_60           BIGINT NOT NULL DEFAULT 0,
    retained_90           BIGINT NOT NULL DEFAULT 0,
    saves_retained_30     BIGINT NOT NULL DEFAULT 0,
    saves_retained_60     BIGINT NOT NULL DEFAULT 0,
    saves_retained_90     BIGINT NOT NULL DEFAULT 0,
    net_revenue_90d_cents BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, live, hour, dimension, key)
);

-- One row once the rollups were built from the sessions already stored (at startup, by the
-- server: the contributions are computed in Rust).
CREATE TABLE stats_rollup_built (
    id       BIGINT PRIMARY KEY,
    built_at BIGINT NOT NULL
);
