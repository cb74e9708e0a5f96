-- Holdfast's PostgreSQL schema: the same tables as the SQLite backend, with native types.
-- `live` separates test-mode data from live data on every row.
CREATE TABLE apps (
    id             TEXT PRIMARY KEY,
    secret         TEXT NOT NULL,
    live           BOOLEAN NOT NULL DEFAULT FALSE,
    origins        TEXT NOT NULL DEFAULT '[]',
    config         TEXT NOT NULL,
    config_version BIGINT NOT NULL DEFAULT 1,
    created_at     BIGINT NOT NULL
);

CREATE TABLE config_versions (
    app_id      TEXT NOT NULL REFERENCES apps (id),
    version     BIGINT NOT NULL,
    config      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (app_id, version)
);

-- Append-only: the audit record of every session. The id is the client's UUID (idempotency).
CREATE TABLE events (
    app_id      TEXT NOT NULL,
    id          TEXT NOT NULL,
    live        BOOLEAN NOT NULL,
    session_id  TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    type        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    payload     TEXT NOT NULL,
    PRIMARY KEY (app_id, id)
);
CREATE INDEX events_by_session ON events (app_id, session_id);

-- One row per cancel session, folded from its events at ingest: what stats read.
CREATE TABLE sessions (
    app_id           TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    live             BOOLEAN NOT NULL,
    customer_id      TEXT NOT NULL,
    started_at       BIGINT NOT NULL,
    week             TEXT NOT NULL,
    plan             TEXT NOT NULL,
    mrr_cents        BIGINT NOT NULL,
    tenure_band      TEXT NOT NULL,
    variant          TEXT,
    reason           TEXT,
    offer_id         TEXT,
    offer_kind       TEXT,
    offer_cost_cents BIGINT NOT NULL DEFAULT 0,
    saved            BIGINT NOT NULL DEFAULT 0,
    saved_at         BIGINT,
    cancelled        BIGINT NOT NULL DEFAULT 0,
    abandoned        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, session_id)
);
CREATE INDEX sessions_by_start ON sessions (app_id, live, started_at);

-- First exposure per customer and experiment: sticky, so editing a config never re-randomises.
CREATE TABLE exposures (
    app_id      TEXT NOT NULL,
    live        BOOLEAN NOT NULL,
    customer_id TEXT NOT NULL,
    experiment  TEXT NOT NULL,
    variant     TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (app_id, live, customer_id, experiment)
);

-- The offer-abuse ledger; the event id makes an acceptance idempotent.
CREATE TABLE redemptions (
    app_id      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    live        BOOLEAN NOT NULL,
    customer_id TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    offer_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    response    TEXT NOT NULL,
    PRIMARY KEY (app_id, event_id)
);
CREATE INDEX redemptions_by_customer ON redemptions (app_id, live, customer_id);

-- Reported by the host's backend: the ground truth for save durability.
CREATE TABLE lifecycle (
    app_id      TEXT NOT NULL,
    live        BOOLEAN NOT NULL,
    customer_id TEXT NOT NULL,
    type        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    plan        TEXT,
    mrr_cents   BIGINT
);
CREATE INDEX lifecycle_by_customer ON lifecycle (app_id, live, customer_id, at);
