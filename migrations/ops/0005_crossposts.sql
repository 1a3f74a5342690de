-- Cross-posts as one row each, their deliveries inside it (JSON): a saga costs the index one
-- row written, and no secondary index (each entry is a row written). The key is the list
-- order, newest first; trace lookups read the rows (a trace has one cross-post). Retracts,
-- moderate tasks and everything fed before this version stay in `tasks`, `sagas` and
-- `trace_rooms`, which lists and lookups read beside this table.
CREATE TABLE IF NOT EXISTS crossposts (
	created_at INTEGER NOT NULL,
	saga_id TEXT NOT NULL,
	origin_room TEXT NOT NULL,
	msg_id TEXT NOT NULL,
	trace_id TEXT NOT NULL,
	state TEXT NOT NULL,
	-- JSON: the target rooms, and the deliveries (task views without their actions).
	targets TEXT NOT NULL,
	deliveries TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	version INTEGER NOT NULL,
	PRIMARY KEY (created_at, saga_id)
) WITHOUT ROWID;

-- A retract fed with its cross-post carries the saga's state (the saga row is in crossposts).
ALTER TABLE tasks ADD COLUMN saga_state TEXT;
