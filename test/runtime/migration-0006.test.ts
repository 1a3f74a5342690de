/**
 * Migration 0006 (v1.3 chat) on a room that already has history: applied to a bare SQLite
 * object (the Control object has no schema of its own), from the v5 schema with events in it.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, it } from "vitest";
import { MIGRATIONS } from "../../migrations/index.ts";
import { applyMigrations } from "../../objects/migrate.ts";

describe("migration 0006", () => {
	it("keeps every event, indexes, lists the room's posters with their latest names, and allows the new kinds", async ({ expect }) => {
		await runInDurableObject(env.CONTROL.getByName(`migration-${crypto.randomUUID()}`), (_instance, state) => {
			const sql = state.storage.sql;
			expect(
				applyMigrations(
					state.storage,
					MIGRATIONS.filter((m) => m.version <= 5),
				),
			).toEqual([1, 2, 3, 4, 5]);
			const insert = (
				seq: number,
				kind: string,
				author: string | null,
				name: string | null,
				clientId: string | null,
				origin: string | null,
			) =>
				sql.exec(
					"INSERT INTO events (seq, kind, msg_id, author_id, author_name, client_id, text, ts, trace_id, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 't', ?)",
					seq,
					kind,
					`${seq}-abcdef0123`,
					author,
					name,
					clientId,
					kind === "message" ? `text ${seq}` : null,
					1000 + seq,
					origin,
				);
			insert(1, "message", "ann", "Ann", "c1", null);
			insert(2, "message", "bob", "Bob", "c1", null);
			insert(3, "message", "ann", "Ann Lee", "c2", null);
			insert(4, "retract", null, null, null, null);
			insert(5, "message", "zed", "Zed", "copy key", '{"room":"x","msgId":"1-abcdef0123","sagaId":"x~0"}');
			expect(() => insert(6, "edit", "ann", "Ann", "c3", null)).toThrow();

			expect(
				applyMigrations(
					state.storage,
					MIGRATIONS.filter((m) => m.version <= 6),
				),
			).toEqual([6]);
			const events = sql
				.exec<{ seq: number; kind: string; text: string | null }>("SELECT seq, kind, text FROM events ORDER BY seq")
				.toArray();
			expect(events.map((e) => [e.seq, e.kind])).toEqual([
				[1, "message"],
				[2, "message"],
				[3, "message"],
				[4, "retract"],
				[5, "message"],
			]);
			expect(sql.exec("SELECT user_id, name FROM room_users ORDER BY user_id").toArray()).toEqual([
				{ user_id: "ann", name: "Ann Lee" },
				{ user_id: "bob", name: "Bob" },
			]);
			// The dedup index is back: a repeated (author, client id) is refused, a new kind is not.
			expect(() => insert(6, "message", "ann", "Ann", "c1", null)).toThrow();
			insert(6, "edit", "ann", "Ann", "c3", null);
			const plan = sql
				.exec<{ detail: string }>("EXPLAIN QUERY PLAN SELECT seq FROM events WHERE author_id = ? AND client_id = ?", "ann", "c1")
				.toArray();
			expect(plan.map((row) => row.detail).join(" ")).toContain("events_dedup");
			sql.exec("INSERT INTO message_search (rowid, text) VALUES (1, 'text 1')");
			expect(sql.exec("SELECT rowid FROM message_search WHERE message_search MATCH 'text'").toArray()).toEqual([{ rowid: 1 }]);
		});
	});
});
