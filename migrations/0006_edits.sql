-- v1.3 chat: edits, replies, mentions and search (docs/protocol.md, "v1.3 additions: chat").
--
-- The event log gains a kind ('edit', and the kinds later chat features add), so its CHECK on
-- `kind` goes, as 0004's did for the outbox: the kinds are the literals the code writes
-- (objects/event-log.ts, objects/edits.ts) and reads back through toEvent. SQLite cannot drop
-- a CHECK in place, so the table is rebuilt with its rows, once per room (a room with a long
-- history writes each event and its index entry once more, at its first start on this version).
--
-- New columns, all NULL on rows that do not use them, so a plain message writes no more:
-- - reply_to: a reply's ReplyRef snapshot (JSON, without `removed`, which is read at the target);
-- - mentions: the user ids the text mentions (JSON array), on messages and on edits;
-- - edit_seq / edited_at: on an edited message, its latest edit's seq and time (its `text` is
--   then the latest text, so pages, replays and cross-posts read one row per message);
-- - first_text: on an edited message, the text it was sent with (the first entry of its history);
-- - prev_seq: on an edit, the seq of the message's edit before it (the history is a chain of
--   point reads, no index);
-- - from_edit_seq: on a cross-posted copy, the seq of the original's edit it shows, so an older
--   edit arriving late is not applied over a newer one.
CREATE TABLE events_next (
	seq INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
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
	retracted_by INTEGER,
	reply_to TEXT,
	mentions TEXT,
	edit_seq INTEGER,
	edited_at INTEGER,
	first_text TEXT,
	prev_seq INTEGER,
	from_edit_seq INTEGER
);
INSERT INTO events_next (seq, kind, msg_id, author_id, author_name, client_id, text, reason, ts, trace_id, origin, saga_id, retracted_by)
	SELECT seq, kind, msg_id, author_id, author_name, client_id, text, reason, ts, trace_id, origin, saga_id, retracted_by FROM events;
DROP TABLE events;
ALTER TABLE events_next RENAME TO events;
CREATE UNIQUE INDEX events_dedup ON events (author_id, client_id);

-- The users who have posted in this room (mentions match against them): one row per user,
-- written on their first post and when their name changes, never per message.
CREATE TABLE room_users (
	user_id TEXT PRIMARY KEY,
	name TEXT NOT NULL
) WITHOUT ROWID;
-- A message's author row with the largest seq carries the author's latest name.
INSERT INTO room_users (user_id, name)
	SELECT author_id, author_name FROM (
		SELECT author_id, author_name, MAX(seq) FROM events
		WHERE kind = 'message' AND origin IS NULL AND author_id IS NOT NULL GROUP BY author_id
	);

-- Full-text search over live messages (objects/search.ts): contentless (the text stays in
-- `events` alone), rowid = the message's seq. It is filled lazily, by the first search after
-- messages arrived, from `search_indexed_through` in room_meta on, so a plain message writes
-- no index row when it is sent (docs/cost.md).
CREATE VIRTUAL TABLE message_search USING fts5(
	text,
	content = '',
	contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2'
);
