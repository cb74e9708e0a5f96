-- The session's audit trail: one JSON line per recorded step (its time, type, reason, offer,
-- profile and why), appended by the aggregator in the same statement that folds the step into
-- the session row. Only ever appended to (`trail || new lines`), never rewritten.
ALTER TABLE sessions ADD COLUMN trail TEXT NOT NULL DEFAULT '';
