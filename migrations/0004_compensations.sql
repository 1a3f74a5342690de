-- Operator compensations: tasks of a new kind ('moderate') and the barrier rows they leave,
-- so the kind checks move from the schema into the code's parsers; a task keeps the result
-- its target reported. SQLite cannot drop a
-- CHECK in place, so both tables are rebuilt with their rows.
CREATE TABLE outbox_next (
	ord INTEGER PRIMARY KEY,
	task_id TEXT NOT NULL UNIQUE,
	saga_id TEXT NOT NULL,
	kind TEXT NOT NULL,
	room TEXT NOT NULL,
	state TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	lease_until INTEGER,
	last_error TEXT,
	dedup_key TEXT NOT NULL,
	trace_id TEXT NOT NULL,
	payload TEXT NOT NULL,
	last_action TEXT,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	done_at INTEGER,
	version INTEGER NOT NULL DEFAULT 0,
	alert_epoch INTEGER NOT NULL DEFAULT 0,
	stuck_alert_epoch INTEGER,
	live_since INTEGER,
	last_action_version INTEGER,
	result TEXT
);
INSERT INTO outbox_next SELECT ord, task_id, saga_id, kind, room, state, attempts, next_attempt_at, lease_until, last_error,
	dedup_key, trace_id, payload, last_action, created_at, updated_at, done_at, version, alert_epoch, stuck_alert_epoch,
	live_since, last_action_version, NULL FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_next RENAME TO outbox;
CREATE INDEX outbox_live ON outbox (state, next_attempt_at);
CREATE INDEX outbox_saga ON outbox (saga_id);

CREATE TABLE barrier_next (
	saga_id TEXT NOT NULL,
	op TEXT NOT NULL,
	outcome TEXT NOT NULL,
	seq INTEGER,
	msg_id TEXT,
	origin_room TEXT NOT NULL,
	trace_id TEXT NOT NULL,
	at INTEGER NOT NULL,
	PRIMARY KEY (saga_id, op)
) WITHOUT ROWID;
INSERT INTO barrier_next SELECT * FROM barrier;
DROP TABLE barrier;
ALTER TABLE barrier_next RENAME TO barrier;

-- A saga row is either a cross-post or an operator compensation (with the operator's reason).
ALTER TABLE sagas ADD COLUMN kind TEXT NOT NULL DEFAULT 'crosspost';
ALTER TABLE sagas ADD COLUMN reason TEXT;

-- Feed rows go to the ops index or to the author directory.
ALTER TABLE ops_feed ADD COLUMN sink TEXT NOT NULL DEFAULT 'index';
