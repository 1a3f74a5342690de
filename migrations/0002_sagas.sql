-- Cross-posting sagas. The origin room is each saga's single source of truth: the saga row
-- and one outbox task per target room commit in the same transaction as the message.
CREATE TABLE sagas (
	saga_id TEXT PRIMARY KEY,
	msg_id TEXT NOT NULL,
	author_id TEXT NOT NULL,
	author_name TEXT NOT NULL,
	trace_id TEXT NOT NULL,
	state TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The transactional outbox. `ord` is commit order: deliveries to one target room are
-- dispatched one at a time in this order, so copies from one origin show in origin order.
CREATE TABLE outbox (
	ord INTEGER PRIMARY KEY,
	task_id TEXT NOT NULL UNIQUE,
	saga_id TEXT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('deliver', 'retract')),
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
	done_at INTEGER
);
CREATE INDEX outbox_live ON outbox (state, next_attempt_at);
CREATE INDEX outbox_saga ON outbox (saga_id);

-- The target side's barrier: one row per (saga, op) applied here, written in the same
-- transaction as the copy or retract it stands for.
CREATE TABLE barrier (
	saga_id TEXT NOT NULL,
	op TEXT NOT NULL CHECK (op IN ('deliver', 'retract')),
	outcome TEXT NOT NULL,
	seq INTEGER,
	msg_id TEXT,
	origin_room TEXT NOT NULL,
	trace_id TEXT NOT NULL,
	at INTEGER NOT NULL,
	PRIMARY KEY (saga_id, op)
) WITHOUT ROWID;
