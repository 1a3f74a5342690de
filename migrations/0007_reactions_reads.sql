-- v1.3 reactions and read state (docs/protocol.md, docs/cost.md).
--
-- Reactions are events in the log like messages (`reaction.added`, `reaction.removed`), so the
-- kind check of `events` grows by two. SQLite cannot alter a CHECK, so the table is rebuilt once
-- with the same columns, key and dedup index (a one-time copy of the room's history; the
-- v1.3 kinds of the edits work are allowed here as well, so no second rebuild is needed).
-- A reaction row uses the message columns: author_* is the reacting user, client_id the
-- frame's id (the same dedup index as sends), msg_id the message reacted to, text the emoji.
CREATE TABLE events_next (
	seq INTEGER PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('message', 'retract', 'message.edited', 'reaction.added', 'reaction.removed')),
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
INSERT INTO events_next (seq, kind, msg_id, author_id, author_name, client_id, text, reason, ts, trace_id, origin, saga_id, retracted_by)
	SELECT seq, kind, msg_id, author_id, author_name, client_id, text, reason, ts, trace_id, origin, saga_id, retracted_by FROM events;
DROP TABLE events;
ALTER TABLE events_next RENAME TO events;
CREATE UNIQUE INDEX events_dedup ON events (author_id, client_id);

-- Who has reacted with what now: one row per (message, emoji, user), keyed so that one
-- message's reactions (and a page's) are one key range. `seq` is the `reaction.added` event
-- that made the row: the order emoji are listed in, and what a repeated add answers.
CREATE TABLE reactions (
	msg_seq INTEGER NOT NULL,
	emoji TEXT NOT NULL,
	user_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	PRIMARY KEY (msg_seq, emoji, user_id)
) WITHOUT ROWID;

-- One read marker per user, moved forward in place (an upsert that writes nothing when the
-- marker would not advance). No secondary index: each index entry is a row written per marker.
CREATE TABLE read_markers (
	user_id TEXT PRIMARY KEY,
	user_name TEXT NOT NULL,
	seq INTEGER NOT NULL,
	at INTEGER NOT NULL
) WITHOUT ROWID;
