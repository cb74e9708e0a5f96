-- Nothing reads raw events by session (stats read the session aggregates), and the index cost a
-- random page write per stored event.
DROP INDEX IF EXISTS events_by_session;
