-- Apps get a name, and keys per mode: signing secrets (several valid during a
-- rotation) and admin API keys (stored as SHA-256 only). The old single `secret` and `live`
-- columns stay for the data migration in Rust (`AppStore::adopt_legacy_secrets`), which moves
-- each secret into both tables for the app's former mode and then clears it.
ALTER TABLE apps ADD COLUMN name TEXT NOT NULL DEFAULT '';

CREATE TABLE signing_secrets (
    app_id     TEXT NOT NULL,
    kid        TEXT NOT NULL,
    live       BOOLEAN NOT NULL,
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Set by a rotation: the secret verifies tokens until then.
    retires_at BIGINT,
    PRIMARY KEY (app_id, kid)
);

CREATE TABLE admin_keys (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    live       BOOLEAN NOT NULL,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
-- Admin calls look a key up by its app and hash.
CREATE UNIQUE INDEX admin_keys_by_hash ON admin_keys (app_id, key_hash);
