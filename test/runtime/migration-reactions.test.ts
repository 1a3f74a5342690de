/**
 * Migration 0007 (reactions and read state) on a room at v6, with history: it adds the two
 * tables and touches no event (0006 already moved the log's kind check into code, so the
 * reaction kinds need no rebuild). Applied to a bare SQLite object (Control has no schema).
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, it } from "vitest";
import { MIGRATIONS } from "../../migrations/index.ts";
import { applyMigrations } from "../../objects/migrate.ts";

describe("migration 0007_reactions_reads", () => {
	it("adds the reactions and read-marker tables to a v6 room and leaves its events as they were", async ({ expect }) => {
		await runInDurableObject(env.CONTROL.getByName(`migration-${crypto.randomUUID()}`), (_instance, state) => {
			const sql = state.storage.sql;
			expect(
				applyMigrations(
					state.storage,
					MIGRATIONS.filter((m) => m.version <= 6),
				),
			).toEqual([1, 2, 3, 4, 5, 6]);
			sql.exec(
				"INSERT INTO events (seq, kind, msg_id, author_id, author_name, client_id, text, ts, trace_id) VALUES (1, 'message', '1-0123456789', 'ann', 'Ann', 'c1', 'hi', 10, 't')",
			);
			expect(applyMigrations(state.storage, MIGRATIONS)).toEqual([7]);
			expect(sql.exec("SELECT seq, kind, text FROM events").toArray()).toEqual([{ seq: 1, kind: "message", text: "hi" }]);
			// A reaction event fits the log, and its (author, client id) pair is deduplicated like a send's.
			sql.exec(
				"INSERT INTO events (seq, kind, msg_id, author_id, client_id, text, ts, trace_id) VALUES (2, 'reaction.added', '1-0123456789', 'bob', 'r1', '👍', 12, 't')",
			);
			expect(() =>
				sql.exec(
					"INSERT INTO events (seq, kind, msg_id, author_id, client_id, ts, trace_id) VALUES (3, 'message', 'm', 'bob', 'r1', 13, 't')",
				),
			).toThrow();
			sql.exec("INSERT INTO reactions (msg_seq, emoji, user_id, seq) VALUES (1, '👍', 'bob', 2)");
			expect(() => sql.exec("INSERT INTO reactions (msg_seq, emoji, user_id, seq) VALUES (1, '👍', 'bob', 3)")).toThrow();
			sql.exec("INSERT INTO read_markers (user_id, user_name, seq, at) VALUES ('ann', 'Ann', 2, 14)");
			expect(sql.exec("SELECT user_id, seq FROM read_markers").toArray()).toEqual([{ user_id: "ann", seq: 2 }]);
		});
	});
});
