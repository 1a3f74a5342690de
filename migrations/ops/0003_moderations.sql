-- Operator moderations get a table of their own. They were kept as `sagas` rows of kind
-- 'compensation' with borrowed columns (`origin_room` held their id, `msg_id` was ''), and
-- their id was listed in `trace_rooms` beside real rooms. Old rows move over; `sagas` keeps
-- cross-posts only.
CREATE TABLE moderations (
	moderation_id TEXT PRIMARY KEY,
	actor TEXT NOT NULL,
	reason TEXT NOT NULL,
	trace_id TEXT NOT NULL,
	state TEXT NOT NULL,
	-- JSON: the rooms of its tasks.
	rooms TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX moderations_created ON moderations (created_at, moderation_id);
CREATE INDEX moderations_trace ON moderations (trace_id);

INSERT INTO moderations (moderation_id, actor, reason, trace_id, state, rooms, created_at, updated_at, version)
SELECT saga_id, COALESCE(actor, ''), COALESCE(reason, ''), trace_id, state, targets, created_at, updated_at, version
FROM sagas WHERE kind = 'compensation';
DELETE FROM sagas WHERE kind = 'compensation';
-- Room ids hold no `@`: these rows named a moderation, which its own row now does.
DELETE FROM trace_rooms WHERE room LIKE 'cmp@%';
-- What only moderations used.
DROP INDEX sagas_kind;
ALTER TABLE sagas DROP COLUMN kind;
ALTER TABLE sagas DROP COLUMN actor;
ALTER TABLE sagas DROP COLUMN reason;

-- A moderation's start was audited as `compensate` (the only entries with that action).
UPDATE audit SET action = 'moderate' WHERE action = 'compensate';

-- A task's origin is a room or a moderation: `origin_room` held either, now `origin_id` with
-- `origin_kind` saying which (moderate tasks are the moderations' own).
ALTER TABLE tasks RENAME COLUMN origin_room TO origin_id;
ALTER TABLE tasks ADD COLUMN origin_kind TEXT NOT NULL DEFAULT 'room';
UPDATE tasks SET origin_kind = 'moderation' WHERE kind = 'moderate';
