-- Millisecond time of each impression: two prompts shown within the same second still have an
-- order, so an upgrade is credited to the one shown last.
ALTER TABLE prompt_impressions ADD COLUMN at_ms BIGINT NOT NULL DEFAULT 0;
