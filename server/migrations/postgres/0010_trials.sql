-- Feature trials started from a gate prompt: one per feature per customer and mode, recorded by
-- the server after core's re-check (the customer really hit the gate often enough).
CREATE TABLE trials (
    app_id      TEXT NOT NULL,
    live        BOOLEAN NOT NULL,
    customer_id TEXT NOT NULL,
    feature     TEXT NOT NULL,
    days        BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    session_id  TEXT NOT NULL,
    PRIMARY KEY (app_id, live, customer_id, feature)
);
