-- Webhook endpoints per app and mode, and the messages to deliver to them: a transactional
-- outbox, written in the same transaction as the outcome that causes each message, so none is
-- lost to a crash. Every delivery attempt is kept.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    live            INTEGER NOT NULL,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    -- A JSON array of event types; empty means every type.
    events          TEXT NOT NULL DEFAULT '[]',
    secret          TEXT NOT NULL,
    -- The secret before a rotation, still signing until `previous_until`.
    previous_secret TEXT,
    previous_until  INTEGER,
    enabled         INTEGER NOT NULL DEFAULT 1,
    -- Why it was disabled (by hand, 410 Gone, failing for 3 days).
    disabled_reason TEXT,
    -- The first failed attempt of the current run of failures.
    failing_since   INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_by_app ON webhook_endpoints (app_id, live);

CREATE TABLE webhook_messages (
    -- The `webhook-id`: the same for every attempt of one message.
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    live            INTEGER NOT NULL,
    endpoint_id     TEXT NOT NULL,
    type            TEXT NOT NULL,
    -- The body sent, exactly: `{ "type", "timestamp", "data" }`.
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    -- pending, delivered or failed (retries exhausted, or the endpoint disabled)
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- A sender holds the message until then (replicas never send one message at once).
    locked_until    INTEGER NOT NULL DEFAULT 0,
    delivered_at    INTEGER
);
CREATE INDEX webhook_messages_due ON webhook_messages (status, next_attempt_at);
CREATE INDEX webhook_messages_by_app ON webhook_messages (app_id, live, created_at);

CREATE TABLE webhook_attempts (
    message_id  TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    -- The HTTP status, or none when no response came.
    status_code INTEGER,
    latency_ms  INTEGER NOT NULL,
    -- The first bytes of the response body.
    response    TEXT,
    error       TEXT,
    PRIMARY KEY (message_id, attempt)
);
