-- One user's inbox (objects/inbox.ts): the rooms they joined and their mentions. Both tables
-- are keyed by what a task names, with no secondary index, so a change writes exactly one row
-- (an index entry is billed as a row too). `change_seq` is the inbox's own order of changes:
-- the socket replays rows whose change_seq is past a client's `since`, by reading the tables
-- (rows read cost about a thousandth of rows written).
CREATE TABLE inbox_rooms (
	room TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	peer_id TEXT,
	peer_name TEXT,
	joined_at INTEGER NOT NULL,
	left_at INTEGER,
	change_seq INTEGER NOT NULL
) WITHOUT ROWID;

-- A mention register per message: `version` is the origin room's seq of the latest change
-- applied (the message, an edit, its retract); `state` is live, removed (edited away, or a
-- tombstone of an unmention that came first) or gone (deleted or moderated: never returns).
CREATE TABLE inbox_mentions (
	room TEXT NOT NULL,
	msg_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	author_id TEXT NOT NULL,
	author_name TEXT NOT NULL,
	excerpt TEXT NOT NULL,
	ts INTEGER NOT NULL,
	edited_at INTEGER,
	state TEXT NOT NULL,
	version INTEGER NOT NULL,
	change_seq INTEGER NOT NULL,
	PRIMARY KEY (room, msg_id)
) WITHOUT ROWID;

-- Small facts about the inbox's user (the name last seen, shown to a DM's peer).
CREATE TABLE inbox_meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
