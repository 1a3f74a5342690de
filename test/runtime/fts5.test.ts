/**
 * Room search (objects/search.ts) relies on SQLite's FTS5 inside the Durable Object: this
 * pins that workerd's SQLite has it, and what an index entry costs in rows written.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, it } from "vitest";
import { freshRoom } from "./helpers.ts";

describe("workerd's SQLite", () => {
	it("has FTS5: a virtual table can be created, written and matched", async ({ expect }) => {
		await runInDurableObject(env.ROOM.getByName(freshRoom("fts")), (_instance, state) => {
			const sql = state.storage.sql;
			sql.exec(
				"CREATE VIRTUAL TABLE probe USING fts5(body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')",
			);
			sql.exec("INSERT INTO probe (rowid, body) VALUES (1, 'hello brave new world')");
			sql.exec("INSERT INTO probe (rowid, body) VALUES (2, 'hello again')");
			const found = sql.exec<{ rowid: number }>("SELECT rowid FROM probe WHERE probe MATCH 'hello' ORDER BY rowid DESC").toArray();
			expect(found.map((r) => r.rowid)).toEqual([2, 1]);
			sql.exec("DELETE FROM probe WHERE rowid = 1");
			expect(sql.exec<{ rowid: number }>("SELECT rowid FROM probe WHERE probe MATCH 'world'").toArray()).toEqual([]);
		});
	});
});
