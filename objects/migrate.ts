/**
 * Applies the room schema's migrations that this room has not recorded yet, each in its own
 * transaction together with its record, so an old room upgrades in place exactly once.
 */
import type { Migration } from "../migrations/index.ts";

export function applyMigrations(storage: DurableObjectStorage, migrations: readonly Migration[]): number[] {
	const sql = storage.sql;
	sql.exec("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
	const row = sql.exec<{ version: number | null }>("SELECT MAX(version) AS version FROM _migrations").one();
	const current = row.version ?? 0;
	const applied: number[] = [];
	for (const migration of migrations) {
		if (migration.version <= current) continue;
		storage.transactionSync(() => {
			sql.exec(migration.sql);
			sql.exec("INSERT INTO _migrations (version, name, applied_at) VALUES (?, ?, ?)", migration.version, migration.name, Date.now());
		});
		applied.push(migration.version);
	}
	return applied;
}
