-- The widget reports every prompt event of a page under one session id, so an action names the
-- prompt and trigger it concerns: it counts for the latest matching impression shown before it.
ALTER TABLE prompt_actions ADD COLUMN prompt TEXT;
ALTER TABLE prompt_actions ADD COLUMN trigger_key TEXT;
