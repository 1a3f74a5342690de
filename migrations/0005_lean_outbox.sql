-- A cross-post costs as few rows as it can (docs/cost.md): the outbox keeps one row per task
-- and no secondary index (each index entry is a row written), keyed by task id, which starts
-- with its saga's id, so a saga's tasks are one key range. The rows a query needs that no key
-- reaches (the live tasks) are held in memory and found again from the event log on start,
-- from `live_from` on (every saga's original has its saga id in `events`).
CREATE TABLE outbox_next (
	task_id TEXT PRIMARY KEY,
	-- Commit order (deliveries to one room go out in it): the original's seq × 1024 + step.
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
	-- The task's own trace spans (JSON), written with the change they describe: no span rows.
	notes TEXT NOT NULL DEFAULT '[]'
) WITHOUT ROWID;
INSERT INTO outbox_next SELECT task_id, ord, saga_id, kind, room, state, attempts, next_attempt_at, lease_until, last_error,
	dedup_key, trace_id, payload, last_action, created_at, updated_at, done_at, version, alert_epoch, stuck_alert_epoch,
	live_since, last_action_version, result, '[]' FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_next RENAME TO outbox;

-- A saga row is written only when its state cannot be read off its tasks (running while any
-- delivery is unfinished, succeeded once all are done): compensation, failure. Its spans too.
ALTER TABLE sagas ADD COLUMN notes TEXT NOT NULL DEFAULT '[]';

-- No live task belongs to a saga whose original is older than this seq.
INSERT OR REPLACE INTO room_meta (key, value)
SELECT 'live_from', CAST(COALESCE(
	(SELECT MIN(CAST(substr(s.msg_id, 1, instr(s.msg_id, '-') - 1) AS INTEGER)) FROM sagas s
	 WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.saga_id = s.saga_id AND o.state IN ('pending', 'processing'))),
	(SELECT COALESCE(MAX(seq), 0) + 1 FROM events)) AS TEXT);
