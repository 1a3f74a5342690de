-- v1.3 reactions and read state (docs/protocol.md, docs/cost.md).
--
-- Reactions are events in the log like messages (`reaction.added`, `reaction.removed`). The
-- kind check of `events` is gone since 0006 (the edits' migration rebuilt the table and moved
-- the check into objects/event-log.ts), so nothing is rebuilt here. (Merge note: this branch's
-- own rebuild of `events` dropped 0006's columns; removed when h-chat-edits and h-chat-social
-- were merged.) A reaction row uses the message columns: author_* is the reacting user,
-- client_id the frame's id (the same dedup index as sends), msg_id the message reacted to,
-- text the emoji.

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
