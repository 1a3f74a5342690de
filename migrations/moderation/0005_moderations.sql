-- A moderation object's own schema. The first objects (`cmp@…`) started on the room schema
-- (versions 1-4) and kept their record in borrowed places: a `sagas` row with the actor in
-- `author_id` and `''` in `msg_id`, and the selector, scope and plan as JSON in `room_meta`.
-- The record moves to a table of its own; the outbox, spans, audit, alerts and ops_feed stay
-- as they are (the outbox's `saga_id` names the moderation its task belongs to), and what a
-- moderation never uses goes: the event log, the barrier and room_meta.
CREATE TABLE moderations (
	moderation_id TEXT PRIMARY KEY,
	actor TEXT NOT NULL,
	reason TEXT NOT NULL,
	trace_id TEXT NOT NULL,
	-- JSON: the selector as given, the scoped admin's rooms claim (NULL for a global admin),
	-- and the plan fixed at creation (one entry per room asked).
	selector TEXT NOT NULL,
	scope TEXT,
	plan TEXT NOT NULL,
	-- By the saga rules, as the outbox moves it: running, then succeeded.
	state TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO moderations (moderation_id, actor, reason, trace_id, selector, scope, plan, state, created_at, updated_at)
SELECT s.saga_id, s.author_id, COALESCE(s.reason, ''), s.trace_id, json_extract(m.value, '$.selector'),
	json_extract(m.value, '$.scope'), json_extract(m.value, '$.plan'), s.state, s.created_at, s.updated_at
FROM sagas s JOIN room_meta m ON m.key = 'compensation'
WHERE s.kind = 'compensation';

-- Its audit entry said `compensate`; a moderation's start is `moderate` now.
UPDATE audit SET action = 'moderate' WHERE action = 'compensate';

DROP TABLE sagas;
DROP TABLE room_meta;
DROP TABLE barrier;
DROP TABLE events;
