-- Apps: the unit of configuration. The public id goes in the script tag; the secret signs
-- customers and authenticates the admin API.
CREATE TABLE IF NOT EXISTS apps (
    id          TEXT PRIMARY KEY,
    secret      TEXT NOT NULL,
    live        INTEGER NOT NULL DEFAULT 0,
    origins     TEXT NOT NULL DEFAULT '[]',
    config      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
