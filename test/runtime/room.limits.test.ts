/**
 * The v1.1 client-edge additions, through the real Worker entry: the welcome tells the limits,
 * the limits agree (every send the character limits allow fits in one frame, and HTTP takes the
 * same messages), every refusal names the frame it answers, `after` keeps one sender's order,
 * and a socket does not outlive its token.
 */
import { env, exports } from "cloudflare:workers";
import { describe, it } from "vitest";
import { MAX_CROSS_POSTS, sendFrameBudget, TOKEN_EXPIRED_CLOSE, utf8Bytes } from "../../src/protocol.ts";
import { api, BASE, freshRoom, join, token } from "./helpers.ts";

/** Cross-post targets with the longest room ids the contract allows. */
const targets = (n: number): string[] => Array.from({ length: n }, (_, i) => freshRoom(`t${i}`).padEnd(64, "x"));

describe("welcome.limits", () => {
	it("tells the socket the limits in force", async ({ expect }) => {
		const socket = await join(freshRoom(), "guest=a");
		const welcome = await socket.frame("welcome");
		expect(welcome.limits).toEqual({ maxFrameBytes: 32_768, maxMessageChars: 4000, ratePerSec: 10, burst: 20 });
		expect(welcome.limits?.maxFrameBytes).toBeGreaterThanOrEqual(sendFrameBudget(4000));
	});
});

describe("the limits agree", () => {
	for (const [name, text] of [
		["4,000 emoji", "😀".repeat(4000)],
		["4,000 U+0001 (6 bytes each once escaped)", "\u0001".repeat(4000)],
	] as const) {
		it(`takes ${name} with ${MAX_CROSS_POSTS} cross-post targets in one frame, and so does HTTP`, async ({ expect }) => {
			const room = freshRoom();
			const socket = await join(room, "guest=a");
			const frame = { type: "send", id: "i".repeat(64), text, crossPost: targets(MAX_CROSS_POSTS) };
			const bytes = utf8Bytes(JSON.stringify(frame));
			expect(bytes).toBeGreaterThan(16_384); // the old default would have closed the socket
			socket.send(frame);
			expect(await socket.frame("ack")).toMatchObject({ id: frame.id, duplicate: false });
			expect(socket.closed).toBeUndefined();

			const viaHttp = await api(`/v1/rooms/${freshRoom()}/messages?guest=a`, {
				method: "POST",
				body: JSON.stringify({ id: frame.id, text, crossPost: targets(MAX_CROSS_POSTS) }),
			});
			expect(viaHttp.status).toBe(201);
		});
	}

	it("refuses one character over the limit with too_large and the id on both paths", async ({ expect }) => {
		const room = freshRoom();
		const socket = await join(room, "guest=a");
		socket.send({ type: "send", id: "over", text: "\u0001".repeat(4001) });
		expect(await socket.frame("error")).toMatchObject({ code: "too_large", id: "over" });
		const viaHttp = await api(`/v1/rooms/${room}/messages?guest=a`, {
			method: "POST",
			body: JSON.stringify({ id: "over", text: "\u0001".repeat(4001) }),
		});
		expect(viaHttp.status).toBe(413);
		socket.send({ type: "send", id: "next", text: "fine" });
		expect(await socket.frame("ack")).toMatchObject({ id: "next" });
	});

	it("refuses white-space-only text on both paths", async ({ expect }) => {
		const room = freshRoom();
		const socket = await join(room, "guest=a");
		socket.send({ type: "send", id: "blank", text: " \n\t\u3000 " });
		expect(await socket.frame("error")).toMatchObject({ code: "bad_request", id: "blank" });
		const viaHttp = await api(`/v1/rooms/${room}/messages?guest=a`, {
			method: "POST",
			body: JSON.stringify({ id: "e1", text: "   " }),
		});
		expect(viaHttp.status).toBe(400);
	});
});

describe("every error frame names the frame it answers", () => {
	it("carries the id on rate_limited refusals", async ({ expect }) => {
		const socket = await join(freshRoom(), "guest=a");
		for (let i = 0; i < 25; i++) socket.send({ type: "send", id: `r${i}`, text: "x" });
		await socket.until(
			(frames) => frames.filter((f) => typeof f !== "string" && (f.type === "ack" || f.type === "error")).length === 25,
		);
		const limited = socket.ofType("error").filter((e) => e.code === "rate_limited");
		expect(limited.length).toBeGreaterThan(0);
		for (const error of limited) expect(error.id).toMatch(/^r\d+$/);
		const answered = [...socket.ofType("ack").map((a) => a.id), ...limited.map((e) => e.id)].sort();
		expect(answered).toEqual(Array.from({ length: 25 }, (_, i) => `r${i}`).sort());
	});

	it("carries the id on a bad id, a bad type and a refused delete", async ({ expect }) => {
		const socket = await join(freshRoom(), "guest=a");
		socket.send({ type: "send", id: "x".repeat(65), text: "hi" });
		socket.send({ type: "dance", id: "d1" });
		socket.send({ type: "delete", msgId: "9-nothere", id: "del-1" });
		await socket.until((frames) => frames.filter((f) => typeof f !== "string" && f.type === "error").length === 3);
		expect(socket.ofType("error").map((e) => [e.code, e.id])).toEqual([
			["bad_request", "x".repeat(65)],
			["bad_request", "d1"],
			["not_found", "del-1"],
		]);
	});
});

describe("after: one sender's order", () => {
	it("refuses a send whose predecessor is not stored, and takes it once the predecessor is", async ({ expect }) => {
		const room = freshRoom();
		const socket = await join(room, "guest=a");
		socket.send({ type: "send", id: "b", text: "second", after: "a" });
		expect(await socket.frame("error")).toMatchObject({ code: "out_of_order", id: "b" });
		socket.send({ type: "send", id: "a", text: "first" });
		socket.send({ type: "send", id: "b", text: "second", after: "a" });
		await socket.until((frames) => frames.filter((f) => typeof f !== "string" && f.type === "ack").length === 2);
		const page = await env.ROOM.getByName(room).events({ after: 0, limit: 10 });
		expect(page.events.map((e) => (e.type === "message" ? e.text : e.type))).toEqual(["first", "second"]);
	});

	it("acks a resend of a stored message whatever its after says", async ({ expect }) => {
		const socket = await join(freshRoom(), "guest=a");
		socket.send({ type: "send", id: "a", text: "first" });
		const ack = await socket.frame("ack");
		socket.send({ type: "send", id: "a", text: "first", after: "never-sent" });
		expect(await socket.frame("ack", (a) => a.duplicate)).toEqual({ ...ack, duplicate: true });
	});
});

describe("token expiry", () => {
	it("closes an open socket with 4001 at the first frame after exp, and stores nothing from it", async ({ expect }) => {
		const room = freshRoom();
		const socket = await join(room, `token=${await token({ sub: "shorty", ttlSeconds: 2 })}`);
		socket.send({ type: "send", id: "before", text: "in time" });
		expect(await socket.frame("ack")).toMatchObject({ id: "before" });
		// exp is in whole seconds, so it falls somewhere in the next 1-2 s.
		await new Promise((resolve) => setTimeout(resolve, 3100));
		socket.send({ type: "send", id: "after", text: "too late" });
		expect((await socket.waitClosed()).code).toBe(TOKEN_EXPIRED_CLOSE);
		const page = await env.ROOM.getByName(room).events({ after: 0, limit: 10 });
		expect(page.events.map((e) => (e.type === "message" ? e.text : e.type))).toEqual(["in time"]);
	});
});

describe("hostile inputs", () => {
	it("refuses a token whose rooms claim would not fit a socket's attachment with 401, before any upgrade", async ({ expect }) => {
		const rooms = Array.from({ length: 256 }, (_, i) => `${"p".repeat(60)}${i}*`);
		const response = await exports.default.fetch(
			new Request(`${BASE}/v1/rooms/${freshRoom()}/ws?token=${await token({ sub: "wide", rooms })}`, {
				headers: { Upgrade: "websocket" },
			}),
		);
		expect(response.status).toBe(401);
		expect(response.webSocket).toBeNull();
	});

	it("refuses text with a lone surrogate with bad_request on both paths", async ({ expect }) => {
		const room = freshRoom();
		const socket = await join(room, "guest=a");
		socket.send('{"type":"send","id":"lone","text":"a\\ud800b"}');
		expect(await socket.frame("error")).toMatchObject({ code: "bad_request", id: "lone" });
		const viaHttp = await api(`/v1/rooms/${room}/messages?guest=a`, { method: "POST", body: '{"id":"lone","text":"\\udc00"}' });
		expect(viaHttp.status).toBe(400);
	});

	it("answers a malformed percent escape in an admin path with 400, not 500", async ({ expect }) => {
		const admin = await token({ sub: "ops", role: "admin" });
		for (const path of ["/v1/admin/rooms/%E0%A4%A/policy", "/v1/admin/sagas/%ZZ", "/v1/admin/tasks/%E0%A4%A", "/v1/admin/traces/%"]) {
			const response = await api(path, { token: admin });
			expect([path, response.status]).toEqual([path, response.status === 404 ? 404 : 400]);
			expect(response.status).not.toBe(500);
		}
	});
});

describe("guests as a class", () => {
	it("lets a room refuse every guest's posts, while named users post and guests still read", async ({ expect }) => {
		const room = freshRoom();
		const admin = await token({ sub: "ops", role: "admin" });
		const put = await api(`/v1/admin/rooms/${room}/policy`, { method: "PUT", token: admin, body: JSON.stringify({ banGuests: true }) });
		expect(await put.json()).toEqual({ readOnly: false, banGuests: true, banned: [] });
		const guest = await join(room, "guest=mallory");
		guest.send({ type: "send", id: "g1", text: "back again" });
		expect(await guest.frame("error")).toMatchObject({ code: "banned", id: "g1" });
		const viaHttp = await api(`/v1/rooms/${room}/messages?guest=mallory`, {
			method: "POST",
			body: JSON.stringify({ id: "g2", text: "x" }),
		});
		expect(viaHttp.status).toBe(403);
		const named = await join(room, `token=${await token({ sub: "ann" })}`);
		named.send({ type: "send", id: "n1", text: "hello" });
		await named.frame("ack");
		expect((await guest.frame("message")).text).toBe("hello");
		const lifted = await api(`/v1/admin/rooms/${room}/policy`, {
			method: "PUT",
			token: admin,
			body: JSON.stringify({ banGuests: false }),
		});
		expect(await lifted.json()).toEqual({ readOnly: false, banned: [] });
	});
});
