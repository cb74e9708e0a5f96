-- The survey's free-text answer of the session's latest `reason_selected`, folded by the
-- aggregator with the same rule as `reason` (the latest answer wins): what growth teams read
-- most. NULL until a survey answer arrives; '' when the latest answer came without text.
ALTER TABLE sessions ADD COLUMN free_text TEXT;
