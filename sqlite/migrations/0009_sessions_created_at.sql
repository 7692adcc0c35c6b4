-- 0009_sessions_created_at indexes every session by (created_at, id), the
-- order of the management list of sessions, which pages by a cursor after
-- the last session shown rather than by an offset: each page is one range
-- scan of this index, however many sessions there are.
CREATE INDEX sessions_created_at ON sessions (created_at, id);
