/**
 * Migration 0007 (reactions and read state) on a room whose `events` table is still the v1
 * one: the history survives as it was, the dedup index comes back, and the new kinds fit.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, it } from "vitest";
import events from "../../migrations/0001_events.sql";
import { MIGRATIONS } from "../../migrations/index.ts";
import { applyMigrations } from "../../objects/migrate.ts";
import { freshRoom } from "./helpers.ts";

describe("migration 0007_reactions_reads", () => {
	it("rebuilds a v1 events table with its rows, its dedup index and the v1.3 kinds", async ({ expect }) => {
		const stub = env.ROOM.getByName(freshRoom("mig"));
		const result = await runInDurableObject(stub, (_instance, state) => {
			const sql = state.storage.sql;
			// Put the room back where a v5 room stands: v1 events, no v1.3 tables, 0007 not recorded.
			state.storage.transactionSync(() => {
				sql.exec("DROP TABLE reactions");
				sql.exec("DROP TABLE read_markers");
				sql.exec("DROP TABLE events");
				// Its first part: the v1 events table and dedup index (room_meta is still there).
				sql.exec(events.slice(0, events.indexOf("-- Small per-room settings")));
				sql.exec("DELETE FROM _migrations WHERE version = 7");
				sql.exec(
					"INSERT INTO events (seq, kind, msg_id, author_id, author_name, client_id, text, ts, trace_id) VALUES (1, 'message', '1-0123456789', 'ann', 'Ann', 'c1', 'hi', 10, 't')",
				);
				sql.exec(
					"INSERT INTO events (seq, kind, msg_id, reason, ts, trace_id) VALUES (2, 'retract', '1-0123456789', 'deleted', 11, 't')",
				);
			});
			const refusedBefore = (() => {
				try {
					sql.exec("INSERT INTO events (seq, kind, msg_id, ts, trace_id) VALUES (3, 'reaction.added', 'x', 12, 't')");
					return false;
				} catch {
					return true;
				}
			})();
			const applied = applyMigrations(state.storage, MIGRATIONS);
			const rows = sql.exec("SELECT seq, kind, msg_id, author_id, client_id, text, reason FROM events ORDER BY seq").toArray();
			sql.exec(
				"INSERT INTO events (seq, kind, msg_id, author_id, client_id, text, ts, trace_id) VALUES (3, 'reaction.added', '1-0123456789', 'bob', 'r1', '👍', 12, 't')",
			);
			const dedup = (() => {
				try {
					sql.exec(
						"INSERT INTO events (seq, kind, msg_id, author_id, client_id, ts, trace_id) VALUES (4, 'message', 'm', 'ann', 'c1', 13, 't')",
					);
					return "accepted";
				} catch {
					return "refused";
				}
			})();
			const tables = sql
				.exec<{ name: string }>(
					"SELECT name FROM sqlite_master WHERE name IN ('reactions', 'read_markers', 'events_dedup') ORDER BY name",
				)
				.toArray()
				.map((row) => row.name);
			return { refusedBefore, applied, rows, dedup, tables };
		});
		expect(result.refusedBefore).toBe(true);
		expect(result.applied).toEqual([7]);
		expect(result.rows).toEqual([
			{ seq: 1, kind: "message", msg_id: "1-0123456789", author_id: "ann", client_id: "c1", text: "hi", reason: null },
			{ seq: 2, kind: "retract", msg_id: "1-0123456789", author_id: null, client_id: null, text: null, reason: "deleted" },
		]);
		expect(result.dedup).toBe("refused");
		expect(result.tables).toEqual(["events_dedup", "reactions", "read_markers"]);
	});
});
