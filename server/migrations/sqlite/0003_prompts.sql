-- Upgrade prompts: per-customer prompt state (impressions, snoozes, gate hits) kept so frequency
-- caps hold across devices, and the impression rows prompt stats group. Every row is keyed by the
-- widget event that made it, so a retried batch changes nothing. `live` separates test-mode data.

-- One row per `prompt_shown`: the customer's history for caps, and the unit of prompt stats.
-- `clicked`, `dismissed` and `trial` are folded in from the prompt session's other events;
-- `upgraded` is attributed from lifecycle events (an upgrade within 30 days after it).
CREATE TABLE prompt_impressions (
    app_id        TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    live          INTEGER NOT NULL,
    customer_id   TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    prompt        TEXT NOT NULL,
    at            INTEGER NOT NULL,
    trigger_key   TEXT NOT NULL,
    trigger_kind  TEXT NOT NULL,
    threshold     TEXT,
    plan          TEXT NOT NULL,
    variant       TEXT,
    clicked       INTEGER NOT NULL DEFAULT 0,
    dismissed     INTEGER NOT NULL DEFAULT 0,
    trial         INTEGER NOT NULL DEFAULT 0,
    upgraded      INTEGER NOT NULL DEFAULT 0,
    upgraded_at   INTEGER,
    PRIMARY KEY (app_id, event_id)
);
CREATE INDEX prompt_impressions_by_customer ON prompt_impressions (app_id, live, customer_id, at);
CREATE INDEX prompt_impressions_by_time ON prompt_impressions (app_id, live, at);
CREATE INDEX prompt_impressions_by_session ON prompt_impressions (app_id, session_id);

-- What the subscriber did with a displayed prompt: `clicked`, `dismissed` or `trial`.
CREATE TABLE prompt_actions (
    app_id      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    live        INTEGER NOT NULL,
    session_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (app_id, event_id)
);
CREATE INDEX prompt_actions_by_session ON prompt_actions (app_id, session_id);

-- "Remind me in N days": the prompt may not show again before `until_at`.
CREATE TABLE prompt_snoozes (
    app_id      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    live        INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    prompt      TEXT NOT NULL,
    until_at    INTEGER NOT NULL,
    PRIMARY KEY (app_id, event_id)
);
CREATE INDEX prompt_snoozes_by_customer ON prompt_snoozes (app_id, live, customer_id);

-- Each time the customer tried a feature their plan locks.
CREATE TABLE gate_hits (
    app_id      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    live        INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    feature     TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (app_id, event_id)
);
CREATE INDEX gate_hits_by_customer ON gate_hits (app_id, live, customer_id, feature);
