-- One recorded outcome per cancel session, written by the server's acceptance and cancellation
-- calls, never by client events: what stats count as saves and cancellations and what the host's
-- backend reads before acting. The first recorded wins; the one change allowed (a save after a
-- cancellation, where the profile offers after cancelling) keeps the earlier step in `history`.
CREATE TABLE outcomes (
    app_id         TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    live           INTEGER NOT NULL,
    customer_id    TEXT NOT NULL,
    -- saved or cancelled
    outcome        TEXT NOT NULL,
    profile        TEXT,
    reason         TEXT,
    offer_id       TEXT,
    -- The accepted offer with its terms, as JSON.
    offer          TEXT,
    -- The day the subscription ends (YYYY-MM-DD), for a cancellation.
    effective_date TEXT,
    -- What the profile requires a receipt to say, as JSON.
    receipt        TEXT,
    recorded_at    INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    -- The answer given, returned as it was to a retry.
    response       TEXT NOT NULL,
    -- Earlier recorded steps, oldest first, as a JSON array.
    history        TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (app_id, session_id)
);
CREATE INDEX outcomes_by_customer ON outcomes (app_id, live, customer_id, recorded_at);
