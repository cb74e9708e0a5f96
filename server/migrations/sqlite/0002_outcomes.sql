-- Config history, raw events, cancel sessions (the stats aggregate), exposures, the offer ledger
-- and lifecycle events. `live` separates test-mode data from live data on every row.
ALTER TABLE apps ADD COLUMN config_version INTEGER NOT NULL DEFAULT 1;

CREATE TABLE config_versions (
    app_id      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    config      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (app_id, version)
);
INSERT INTO config_versions (app_id, version, config, created_at)
    SELECT id, 1, config, created_at FROM apps;

-- Append-only: the audit record of every session. The id is the client's UUID (idempotency).
CREATE TABLE events (
    app_id      TEXT NOT NULL,
    id          TEXT NOT NULL,
    live        INTEGER NOT NULL,
    session_id  TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    type        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    payload     TEXT NOT NULL,
    PRIMARY KEY (app_id, id)
);
CREATE INDEX events_by_session ON events (app_id, session_id);

-- One row per cancel session, folded from its events at ingest: what stats read.
CREATE TABLE sessions (
    app_id           TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    live             INTEGER NOT NULL,
    customer_id      TEXT NOT NULL,
    started_at       INTEGER NOT NULL,
    week             TEXT NOT NULL,
    plan             TEXT NOT NULL,
    mrr_cents        INTEGER NOT NULL,
    tenure_band      TEXT NOT NULL,
    variant          TEXT,
    reason           TEXT,
    offer_id         TEXT,
    offer_kind       TEXT,
    offer_cost_cents INTEGER NOT NULL DEFAULT 0,
    saved            INTEGER NOT NULL DEFAULT 0,
    saved_at         INTEGER,
    cancelled        INTEGER NOT NULL DEFAULT 0,
    abandoned        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, session_id)
);
CREATE INDEX sessions_by_start ON sessions (app_id, live, started_at);

-- First exposure per customer and experiment: sticky, so editing a config never re-randomises.
CREATE TABLE exposures (
    app_id      TEXT NOT NULL,
    live        INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    experiment  TEXT NOT NULL,
    variant     TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (app_id, live, customer_id, experiment)
);

-- The offer-abuse ledger; the event id makes an acceptance idempotent.
CREATE TABLE redemptions (
    app_id      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    live        INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    offer_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    response    TEXT NOT NULL,
    PRIMARY KEY (app_id, event_id)
);
CREATE INDEX redemptions_by_customer ON redemptions (app_id, live, customer_id);

-- Reported by the host's backend: the ground truth for save durability.
CREATE TABLE lifecycle (
    app_id      TEXT NOT NULL,
    live        INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    type        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    plan        TEXT,
    mrr_cents   INTEGER
);
CREATE INDEX lifecycle_by_customer ON lifecycle (app_id, live, customer_id, at);
