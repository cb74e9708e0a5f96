-- People of the instance (the dashboard's users), their role per app, and their signed-in
-- sessions. A password is stored as an Argon2id hash only; a session as the SHA-256 of its
-- cookie value, with the anti-forgery value its state-changing requests must carry.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE memberships (
    user_id    TEXT NOT NULL,
    app_id     TEXT NOT NULL,
    -- viewer, editor or owner
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, app_id)
);

CREATE TABLE user_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX user_sessions_by_user ON user_sessions (user_id);
