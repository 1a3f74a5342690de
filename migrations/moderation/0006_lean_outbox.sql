-- The outbox the rooms use since their version 5 (migrations/0005_lean_outbox.sql): keyed by
-- task id, no secondary index, each task's spans in its row. A moderation has few tasks; its
-- live ones are found by reading them all.
CREATE TABLE outbox_next (
	task_id TEXT PRIMARY KEY,
	ord INTEGER NOT NULL,
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
	result TEXT,
	notes TEXT NOT NULL DEFAULT '[]'
) WITHOUT ROWID;
INSERT INTO outbox_next SELECT task_id, ord, saga_id, kind, room, state, attempts, next_attempt_at, lease_until, last_error,
	dedup_key, trace_id, payload, last_action, created_at, updated_at, done_at, version, alert_epoch, stuck_alert_epoch,
	live_since, last_action_version, result, '[]' FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_next RENAME TO outbox;
