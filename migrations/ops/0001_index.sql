-- One shard of the ops index: a read model of sagas, tasks, audit entries, alerts and trace
-- membership, fed by the rooms' outboxes. Rooms stay the source of truth; every upsert keeps
-- the newest version it has seen, so late or repeated updates never move a record back.
CREATE TABLE sagas (
	saga_id TEXT PRIMARY KEY,
	origin_room TEXT NOT NULL,
	msg_id TEXT NOT NULL,
	trace_id TEXT NOT NULL,
	state TEXT NOT NULL,
	targets TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sagas_created ON sagas (created_at, saga_id);
CREATE INDEX sagas_state ON sagas (state, created_at);

CREATE TABLE tasks (
	task_id TEXT PRIMARY KEY,
	saga_id TEXT NOT NULL,
	origin_room TEXT NOT NULL,
	room TEXT NOT NULL,
	kind TEXT NOT NULL,
	state TEXT NOT NULL,
	attempts INTEGER NOT NULL,
	next_attempt_at INTEGER,
	last_error TEXT,
	trace_id TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	done_at INTEGER,
	version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tasks_created ON tasks (created_at, task_id);
CREATE INDEX tasks_state ON tasks (state, created_at);

CREATE TABLE trace_rooms (
	trace_id TEXT NOT NULL,
	room TEXT NOT NULL,
	PRIMARY KEY (trace_id, room)
) WITHOUT ROWID;

CREATE TABLE audit (
	entry_id TEXT PRIMARY KEY,
	at INTEGER NOT NULL,
	actor TEXT NOT NULL,
	task_id TEXT NOT NULL,
	action TEXT NOT NULL,
	reason TEXT NOT NULL,
	from_state TEXT NOT NULL,
	to_state TEXT NOT NULL,
	trace_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX audit_at ON audit (at);

CREATE TABLE alerts (
	alert_id TEXT PRIMARY KEY,
	body TEXT NOT NULL,
	at INTEGER NOT NULL,
	version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX alerts_at ON alerts (at);
