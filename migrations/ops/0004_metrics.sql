-- Metrics (src/ops/metrics.ts): counter totals the rooms flush here, each room's last socket
-- count, and per-minute sums for the console's charts (kept two hours).
CREATE TABLE metric_counters (
	series TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	part TEXT,
	labels TEXT NOT NULL,
	value REAL NOT NULL
);

CREATE TABLE metric_sockets (
	source TEXT PRIMARY KEY,
	sockets INTEGER NOT NULL,
	at INTEGER NOT NULL
);

CREATE TABLE metric_minutes (
	minute INTEGER PRIMARY KEY,
	messages REAL NOT NULL DEFAULT 0,
	attempts REAL NOT NULL DEFAULT 0,
	failures REAL NOT NULL DEFAULT 0
);

-- The console's search finds a cross-posted message's saga by its message id.
CREATE INDEX sagas_msg ON sagas (msg_id);
