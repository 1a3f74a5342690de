-- One shard of the author directory: which rooms each author has posted in, so an operator
-- compensation by author finds every room without asking all of them.
CREATE TABLE author_rooms (
	author_id TEXT NOT NULL,
	room TEXT NOT NULL,
	first_at INTEGER NOT NULL,
	PRIMARY KEY (author_id, room)
) WITHOUT ROWID;
