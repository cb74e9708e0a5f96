-- Who changed what: every config version, experiment step, key, endpoint and person change made
-- through the admin API, with the key or person that made it. Append-only.
CREATE TABLE changes (
    seq     BIGSERIAL PRIMARY KEY,
    app_id  TEXT NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX changes_by_app ON changes (app_id, seq);
