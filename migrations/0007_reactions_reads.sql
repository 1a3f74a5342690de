-- v1.3 reactions and read state (docs/protocol.md, docs/cost.md).
--
-- Reactions are events in the log like messages (`reaction.added`, `reaction.removed`); since
-- 0006 the log's kinds are checked in code (objects/event-log.ts), so no rebuild is needed here.
-- A reaction row uses the message columns: author_* is the reacting user, client_id the
-- frame's id (the same dedup index as sends), msg_id the message reacted to, text the emoji.

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
