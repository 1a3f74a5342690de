-- The room's event log. `seq` is the rowid: the room's first event is 1, each next one is
-- exactly 1 more. A message row doubles as its own dedup record through events_dedup
-- (author, client id); the room prunes that record after the dedup window by clearing
-- client_id, which keeps the index usable for lookups by author.
CREATE TABLE events (
	seq INTEGER PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('message', 'retract')),
	msg_id TEXT NOT NULL,
	author_id TEXT,
	author_name TEXT,
	client_id TEXT,
	text TEXT,
	reason TEXT,
	ts INTEGER NOT NULL,
	trace_id TEXT NOT NULL,
	origin TEXT,
	saga_id TEXT,
	retracted_by INTEGER
);
CREATE UNIQUE INDEX events_dedup ON events (author_id, client_id);

-- Small per-room settings (policy, prune watermark), as JSON values.
CREATE TABLE room_meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
