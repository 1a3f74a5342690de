/** v1.3 search (`GET /v1/rooms/{room}/search`) over a room's live messages, through HTTP. */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, it } from "vitest";
import { EventLog } from "../../objects/event-log.ts";
import { Search } from "../../objects/search.ts";
import type { Identity } from "../../src/auth.ts";
import type { SearchPage } from "../../src/protocol.ts";
import { api, errorCode, freshRoom, token } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };

async function post(room: string, id: string, text: string) {
	const result = await env.ROOM.getByName(room).post(ann, { id, text }, crypto.randomUUID().replaceAll("-", ""));
	if (!result.ok) throw new Error(result.error.message);
	return result.value;
}

async function search(room: string, query: string): Promise<SearchPage> {
	const response = await api(`/v1/rooms/${room}/search?${query}`, { token: await token({ sub: "reader" }) });
	if (response.status !== 200) throw new Error(`search answered ${response.status}: ${await response.text()}`);
	return (await response.json()) as SearchPage;
}

const texts = (page: SearchPage) => page.results.map((m) => m.text);

describe("search", () => {
	it("finds live messages newest first, paged by before, words and prefixes, case and accents folded", async ({ expect }) => {
		const room = freshRoom("search");
		for (let i = 1; i <= 7; i++) await post(room, `m${i}`, `deploy number ${i}`);
		await post(room, "other", "lunch?");
		await post(room, "accent", "Café DÉPLOYÉ");
		const first = await search(room, "q=deploy&limit=3");
		expect(first).toMatchObject({ room, q: "deploy" });
		expect(texts(first)).toEqual(["deploy number 7", "deploy number 6", "deploy number 5"]);
		const second = await search(room, `q=deploy&limit=3&before=${first.before}`);
		expect(texts(second)).toEqual(["deploy number 4", "deploy number 3", "deploy number 2"]);
		const last = await search(room, `q=deploy&limit=3&before=${second.before}`);
		expect(texts(last)).toEqual(["deploy number 1"]);
		expect(last.before).toBeUndefined();
		expect(texts(await search(room, "q=NUMBER%203"))).toEqual(["deploy number 3"]);
		expect(texts(await search(room, "q=depl*&limit=1"))).toEqual(["Café DÉPLOYÉ"]);
		expect(texts(await search(room, "q=cafe"))).toEqual(["Café DÉPLOYÉ"]);
		expect(texts(await search(room, "q=missing"))).toEqual([]);
	});

	it("never matches a retracted message, whether it was indexed before its retract or not", async ({ expect }) => {
		const room = freshRoom("search");
		const early = await post(room, "a", "secret alpha");
		await search(room, "q=alpha");
		const late = await post(room, "b", "secret beta");
		const bearer = await token({ sub: "ann", name: "Ann" });
		for (const msgId of [early.msgId, late.msgId])
			await api(`/v1/rooms/${room}/messages/${msgId}`, { method: "DELETE", token: bearer });
		await post(room, "c", "secret gamma");
		expect(texts(await search(room, "q=secret"))).toEqual(["secret gamma"]);
	});

	it("matches an edited message by its latest text only, whether it was indexed before the edit or not", async ({ expect }) => {
		const room = freshRoom("search");
		const indexed = await post(room, "a", "colour one");
		await search(room, "q=colour");
		const fresh = await post(room, "b", "colour two");
		const stub = env.ROOM.getByName(room);
		await stub.edit(ann, { id: "e1", msgId: indexed.msgId, text: "color one" }, "a".repeat(32));
		await stub.edit(ann, { id: "e2", msgId: fresh.msgId, text: "color two" }, "b".repeat(32));
		expect(texts(await search(room, "q=colour"))).toEqual([]);
		const found = await search(room, "q=color");
		expect(found.results.map((m) => [m.text, m.editSeq !== undefined])).toEqual([
			["color two", true],
			["color one", true],
		]);
		await stub.edit(ann, { id: "e3", msgId: indexed.msgId, text: "colour again" }, "c".repeat(32));
		expect(texts(await search(room, "q=colour"))).toEqual(["colour again"]);
		expect(texts(await search(room, "q=color"))).toEqual(["color two"]);
	});

	it("treats FTS5 syntax in q as words, and refuses a bad query with its code", async ({ expect }) => {
		const room = freshRoom("search");
		await post(room, "a", "NEAR the OR gate");
		expect(texts(await search(room, `q=${encodeURIComponent("NEAR(the OR")}`))).toEqual(["NEAR the OR gate"]);
		expect(texts(await search(room, `q=${encodeURIComponent('text:gate "')}`))).toEqual([]);
		expect(texts(await search(room, "q=%21%21%21"))).toEqual([]);
		const reader = await token({ sub: "reader" });
		for (const [query, code] of [
			["", "bad_request"],
			["q=a&limit=0", "bad_request"],
			["q=a&before=x", "bad_request"],
			[`q=${"a".repeat(201)}`, "too_large"],
		] as const) {
			expect(await errorCode(await api(`/v1/rooms/${room}/search?${query}`, { token: reader }))).toBe(code);
		}
		const limited = await token({ sub: "someone", rooms: ["elsewhere"] });
		expect((await api(`/v1/rooms/${room}/search?q=gate`, { token: limited })).status).toBe(403);
	});

	it("indexes a long history over several calls, answering rate_limited until it is done", async ({ expect }) => {
		const room = freshRoom("search");
		for (let i = 1; i <= 10; i++) await post(room, `m${i}`, `history ${i}`);
		await runInDurableObject(env.ROOM.getByName(room), async (_instance, state) => {
			const log = new EventLog(state.storage.sql);
			// Small limits, so ten messages are a long history: 2 per transaction, 3 transactions per call.
			const search = new Search(state.storage.sql, () => log, { chunk: 2, chunksPerCall: 3 });
			const write = (work: () => void) => state.storage.transactionSync(work);
			const query = { q: "history", limit: 20 };
			const first = await search.search(room, query, write);
			expect(first).toMatchObject({ ok: false, error: { code: "rate_limited", retryAfterMs: 1000 } });
			expect(first.ok ? "" : first.error.message).toContain("through seq 6 of 10");
			const second = await search.search(room, query, write);
			expect(second.ok ? second.value.results.map((m) => m.text) : second.error).toEqual(
				Array.from({ length: 10 }, (_, i) => `history ${10 - i}`),
			);
		});
	});
});
