-- Operations: state versions for idempotent manual actions and once-only alerts, the trace
-- spans this room recorded, the audit log, alerts, and the feed to the ops index.

-- `version` counts a task's state changes. `alert_epoch` moves when the task finishes or an
-- operator acts on it: an alert is raised at most once per (task, kind, epoch).
ALTER TABLE outbox ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN alert_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN stuck_alert_epoch INTEGER;
ALTER TABLE outbox ADD COLUMN live_since INTEGER;
ALTER TABLE outbox ADD COLUMN last_action_version INTEGER;
UPDATE outbox SET live_since = created_at;

-- Spans of cross-room work seen from this room (origin or target), by trace id.
CREATE TABLE spans (
	id INTEGER PRIMARY KEY,
	trace_id TEXT NOT NULL,
	at INTEGER NOT NULL,
	component TEXT NOT NULL,
	event TEXT NOT NULL,
	detail TEXT
);
CREATE INDEX spans_trace ON spans (trace_id, at);

-- Append-only record of operator actions on this room's tasks.
CREATE TABLE audit (
	id INTEGER PRIMARY KEY,
	at INTEGER NOT NULL,
	actor TEXT NOT NULL,
	task_id TEXT NOT NULL,
	action TEXT NOT NULL,
	reason TEXT NOT NULL,
	from_state TEXT NOT NULL,
	to_state TEXT NOT NULL,
	trace_id TEXT NOT NULL
);

-- Alerts, delivered to ALERT_WEBHOOK_URL by the alarm with retries of their own.
CREATE TABLE alerts (
	alert_id TEXT PRIMARY KEY,
	task_id TEXT NOT NULL,
	kind TEXT NOT NULL,
	epoch INTEGER NOT NULL,
	state TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER,
	payload TEXT NOT NULL,
	last_error TEXT,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (task_id, kind, epoch)
);
CREATE INDEX alerts_due ON alerts (state, next_attempt_at);

-- Updates for the ops index, written in the same transaction as the change they describe
-- and shipped by the alarm: an index update is never lost. Keyed, so repeated changes to one
-- record coalesce; `rev` tells a row rewritten while it was in flight.
CREATE TABLE ops_feed (
	key TEXT PRIMARY KEY,
	shard INTEGER NOT NULL,
	rev INTEGER NOT NULL,
	payload TEXT NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
