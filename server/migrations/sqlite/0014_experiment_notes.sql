-- What the growth team wrote when it created an experiment through the API: the hypothesis, the
-- primary metric a report defaults to, and the smallest effect worth detecting.
CREATE TABLE experiment_notes (
    app_id                    TEXT NOT NULL,
    key                       TEXT NOT NULL,
    hypothesis                TEXT NOT NULL DEFAULT '',
    primary_metric            TEXT NOT NULL,
    minimum_detectable_effect DOUBLE PRECISION,
    created_at                BIGINT NOT NULL,
    PRIMARY KEY (app_id, key)
);
