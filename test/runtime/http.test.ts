import { sign } from "hono/jwt";
import { describe, it } from "vitest";
import { TEST_AUTH_SECRET } from "../../scripts/test-secret.ts";
import { api, errorCode, freshRoom, token } from "./helpers.ts";

const json = (body: unknown) => ({ method: "POST", body: JSON.stringify(body) });

describe("HTTP errors", () => {
	it("answers /health", async ({ expect }) => {
		const response = await api("/health");
		expect(await response.json()).toEqual({ ok: true });
	});

	it("uses the contract's error shape for unknown routes", async ({ expect }) => {
		const response = await api("/v1/nope", { token: await token({ sub: "u" }) });
		expect(response.status).toBe(404);
		expect(await response.json()).toEqual({ error: { code: "not_found", message: expect.any(String) } });
	});

	it("checks credentials, then the room id, then access, then the body", async ({ expect }) => {
		const limited = await token({ sub: "u", rooms: ["only-this"] });
		// No credentials beat a bad room id.
		let response = await api("/v1/rooms/BAD!/messages", json({}));
		expect([response.status, await errorCode(response)]).toEqual([401, "unauthorized"]);
		// A bad room id beats missing access.
		response = await api("/v1/rooms/BAD!/messages", { ...json({}), token: limited });
		expect([response.status, await errorCode(response)]).toEqual([400, "bad_request"]);
		// Missing access beats a bad body.
		response = await api("/v1/rooms/other/messages", { method: "POST", body: "{nope", token: limited });
		expect([response.status, await errorCode(response)]).toEqual([403, "forbidden"]);
		// Finally the body.
		response = await api("/v1/rooms/only-this/messages", { method: "POST", body: "{nope", token: limited });
		expect([response.status, await errorCode(response)]).toEqual([400, "bad_request"]);
	});

	it("refuses forged, expired, alg:none and claim-less tokens on every route", async ({ expect }) => {
		const exp = Math.floor(Date.now() / 1000) + 60;
		const none = `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "")}.${btoa(JSON.stringify({ sub: "u", name: "n", exp })).replace(/=+$/, "")}.`;
		const bad = [
			await sign({ sub: "u", name: "n", exp }, "wrong-secret", "HS256"),
			await token({ sub: "u", ttlSeconds: -10 }),
			none,
			await sign({ name: "n", exp }, TEST_AUTH_SECRET, "HS256"),
		];
		const room = freshRoom();
		for (const credential of bad) {
			for (const [path, init] of [
				[`/v1/rooms/${room}/events`, {}],
				[`/v1/rooms/${room}/messages`, json({ id: "1", text: "x" })],
				[`/v1/rooms/${room}/messages/1-aaaaaaaaaa`, { method: "DELETE" }],
				[`/v1/admin/rooms/${room}/policy`, { method: "PUT", body: "{}" }],
			] as const) {
				const response = await api(path, { ...init, token: credential });
				expect([path, response.status]).toEqual([path, 401]);
			}
		}
		const malformedHeader = await api(`/v1/rooms/${room}/events`, { headers: { Authorization: "Basic abc" } });
		expect(malformedHeader.status).toBe(401);
	});

	it("refuses oversized bodies with too_large", async ({ expect }) => {
		const response = await api(`/v1/rooms/${freshRoom()}/messages`, {
			method: "POST",
			body: JSON.stringify({ id: "1", text: "x".repeat(70_000) }),
			token: await token({ sub: "u" }),
		});
		expect([response.status, await errorCode(response)]).toEqual([413, "too_large"]);
	});

	it("refuses over-long text, wrong types and missing fields", async ({ expect }) => {
		const auth = await token({ sub: "u" });
		const room = freshRoom();
		for (const [body, status, code] of [
			[{ id: "1", text: "x".repeat(4001) }, 413, "too_large"],
			[{ id: 1, text: "x" }, 400, "bad_request"],
			[{ text: "x" }, 400, "bad_request"],
			[{ id: "1", text: "x", crossPost: "b" }, 400, "bad_request"],
			[[1, 2], 400, "bad_request"],
		] as const) {
			const response = await api(`/v1/rooms/${room}/messages`, { ...json(body), token: auth });
			expect([response.status, await errorCode(response)]).toEqual([status, code]);
		}
		const page = await api(`/v1/rooms/${room}/events`, { token: auth });
		expect(((await page.json()) as { lastSeq: number }).lastSeq).toBe(0);
	});
});

describe("messages over HTTP", () => {
	it("posts with 201, repeats with 200 and the original values, and deletes", async ({ expect }) => {
		const auth = await token({ sub: "ann", name: "Ann" });
		const room = freshRoom();
		const first = await api(`/v1/rooms/${room}/messages`, {
			...json({ id: "m1", text: "hi" }),
			token: auth,
			headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
		});
		expect(first.status).toBe(201);
		const created = (await first.json()) as { seq: number; msgId: string; traceId: string; duplicate: boolean };
		// The trace id is the server's own; the caller's traceparent is only a parent link.
		expect(created).toMatchObject({ seq: 1, traceId: expect.stringMatching(/^[0-9a-f]{32}$/), duplicate: false });
		expect(created.traceId).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");

		const repeat = await api(`/v1/rooms/${room}/messages`, { ...json({ id: "m1", text: "changed" }), token: auth });
		expect(repeat.status).toBe(200);
		expect(await repeat.json()).toEqual({ ...created, duplicate: true });

		const other = await api(`/v1/rooms/${room}/messages`, {
			...json({ id: "m1", text: "same id, other user" }),
			token: await token({ sub: "bob" }),
		});
		expect(other.status).toBe(201);

		const forbidden = await api(`/v1/rooms/${room}/messages/${created.msgId}`, {
			method: "DELETE",
			token: await token({ sub: "bob" }),
		});
		expect([forbidden.status, await errorCode(forbidden)]).toEqual([403, "forbidden"]);

		const deleted = await api(`/v1/rooms/${room}/messages/${created.msgId}`, { method: "DELETE", token: auth });
		expect(await deleted.json()).toEqual({ seq: 3 });
		const again = await api(`/v1/rooms/${room}/messages/${created.msgId}`, { method: "DELETE", token: auth });
		expect(await again.json()).toEqual({ seq: 3 });

		const missing = await api(`/v1/rooms/${room}/messages/99-aaaaaaaaaa`, { method: "DELETE", token: auth });
		expect([missing.status, await errorCode(missing)]).toEqual([404, "not_found"]);

		const history = (await (await api(`/v1/rooms/${room}/events`, { token: auth })).json()) as {
			events: Array<Record<string, unknown>>;
		};
		expect(history.events.map((event) => [event.seq, event.type])).toEqual([
			[1, "message"],
			[2, "message"],
			[3, "retract"],
		]);
		// A retracted message keeps its place but not its text.
		expect(history.events[0]).toMatchObject({ text: "", retractedBy: 3 });
		expect(history.events[2]).toMatchObject({ msgId: created.msgId, reason: "deleted" });
	});

	it("lets an admin delete anyone's message", async ({ expect }) => {
		const room = freshRoom();
		const posted = await api(`/v1/rooms/${room}/messages`, { ...json({ id: "1", text: "spam" }), token: await token({ sub: "u" }) });
		const { msgId } = (await posted.json()) as { msgId: string };
		const admin = await token({ sub: "mod", role: "admin" });
		const response = await api(`/v1/rooms/${room}/messages/${msgId}`, { method: "DELETE", token: admin });
		expect(await response.json()).toEqual({ seq: 2 });
	});
});

describe("history paging", () => {
	it("pages after and before a seq, ascending", async ({ expect }) => {
		const auth = await token({ sub: "u" });
		const room = freshRoom();
		for (let i = 1; i <= 12; i++) {
			await api(`/v1/rooms/${room}/messages`, { ...json({ id: `c${i}`, text: `m${i}` }), token: auth });
		}
		const seqs = async (query: string) => {
			const response = await api(`/v1/rooms/${room}/events?${query}`, { token: auth });
			const page = (await response.json()) as { events: Array<{ seq: number }>; lastSeq: number };
			expect(page.lastSeq).toBe(12);
			return page.events.map((event) => event.seq);
		};
		expect(await seqs("after=3&limit=4")).toEqual([4, 5, 6, 7]);
		expect(await seqs("before=5&limit=3")).toEqual([2, 3, 4]);
		expect(await seqs("before=2&limit=10")).toEqual([1]);
		expect(await seqs("after=12")).toEqual([]);
		expect(await seqs("")).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
		for (const bad of ["limit=0", "limit=501", "after=x", "after=1&before=3"]) {
			const response = await api(`/v1/rooms/${room}/events?${bad}`, { token: auth });
			expect([bad, response.status]).toEqual([bad, 400]);
		}
	});
});

describe("room policy", () => {
	it("is admin only, and read-only rooms and bans refuse sends", async ({ expect }) => {
		const room = freshRoom();
		const user = await token({ sub: "u" });
		const admin = await token({ sub: "boss", role: "admin" });
		const denied = await api(`/v1/admin/rooms/${room}/policy`, { method: "PUT", body: '{"readOnly":true}', token: user });
		expect([denied.status, await errorCode(denied)]).toEqual([403, "forbidden"]);
		const badBody = await api(`/v1/admin/rooms/${room}/policy`, { method: "PUT", body: '{"readOnly":"yes"}', token: admin });
		expect(badBody.status).toBe(400);

		const set = await api(`/v1/admin/rooms/${room}/policy`, { method: "PUT", body: '{"readOnly":true}', token: admin });
		expect(await set.json()).toEqual({ readOnly: true, banned: [] });
		const refused = await api(`/v1/rooms/${room}/messages`, { ...json({ id: "1", text: "x" }), token: user });
		expect([refused.status, await errorCode(refused)]).toEqual([403, "read_only"]);

		const merged = await api(`/v1/admin/rooms/${room}/policy`, {
			method: "PUT",
			body: '{"readOnly":false,"banned":["u"]}',
			token: admin,
		});
		expect(await merged.json()).toEqual({ readOnly: false, banned: ["u"] });
		const read = await api(`/v1/admin/rooms/${room}/policy`, { token: admin });
		expect(await read.json()).toEqual({ readOnly: false, banned: ["u"] });
		const banned = await api(`/v1/rooms/${room}/messages`, { ...json({ id: "1", text: "x" }), token: user });
		expect([banned.status, await errorCode(banned)]).toEqual([403, "banned"]);
		const fine = await api(`/v1/rooms/${room}/messages`, { ...json({ id: "1", text: "x" }), token: await token({ sub: "v" }) });
		expect(fine.status).toBe(201);
	});
});
