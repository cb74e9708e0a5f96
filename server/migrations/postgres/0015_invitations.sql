-- One-time links an owner passes on: an invitation to an app with a role, or a password reset.
-- Stored as the SHA-256 of the link's token; used once, within a week.
CREATE TABLE invitations (
    token_hash TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
