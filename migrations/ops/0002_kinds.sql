-- Operator compensations are listed beside sagas but never mixed into the saga list.
ALTER TABLE sagas ADD COLUMN kind TEXT NOT NULL DEFAULT 'crosspost';
ALTER TABLE sagas ADD COLUMN actor TEXT;
ALTER TABLE sagas ADD COLUMN reason TEXT;
CREATE INDEX sagas_kind ON sagas (kind, created_at);

-- Audit entries name the saga or compensation their task belongs to.
ALTER TABLE audit ADD COLUMN saga_id TEXT;
