/**
 * v1.3 edits, replies and mentions, through the room's public seams: sockets, HTTP and the
 * room's RPC methods (docs/protocol.md, "v1.3 additions: chat").
 */
import { env } from "cloudflare:workers";
import { describe, it } from "vitest";
import type { Identity } from "../../src/auth.ts";
import type {
	AnyServerFrame,
	BatchFrame,
	EditHistory,
	EventsPage,
	MessageEditedEvent,
	MessageEvent,
	SendResult,
} from "../../src/protocol.ts";
import { api, errorCode, freshRoom, join, token } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };
const bob: Identity = { id: "bob", name: "Bob Stone", admin: false, rooms: null, guest: false };

async function post(room: string, who: Identity, id: string, text: string, extra: { replyTo?: string; crossPost?: string[] } = {}) {
	const result = await env.ROOM.getByName(room).post(who, { id, text, ...extra }, crypto.randomUUID().replaceAll("-", ""));
	if (!result.ok) throw new Error(`send failed: ${result.error.message}`);
	return result.value;
}

async function page(room: string, query = "after=0"): Promise<EventsPage> {
	const response = await api(`/v1/rooms/${room}/events?${query}`, { token: await token({ sub: "reader" }) });
	return (await response.json()) as EventsPage;
}

function patch(room: string, msgId: string, body: object, bearer: string): Promise<Response> {
	return api(`/v1/rooms/${room}/messages/${msgId}`, { method: "PATCH", body: JSON.stringify(body), token: bearer });
}

describe("edits over a socket", () => {
	it("acks with the edit's own seq, broadcasts message.edited, and answers a repeat with the first ack", async ({ expect }) => {
		const room = freshRoom("edit");
		const alice = await join(room, "guest=alice");
		const watcher = await join(room, "guest=watcher");
		alice.send({ type: "send", id: "m1", text: "helo" });
		const sent = await alice.frame("ack", (a) => a.id === "m1");
		alice.send({ type: "edit", id: "e1", msgId: sent.msgId, text: "hello" });
		const ack = await alice.frame("ack", (a) => a.id === "e1");
		expect(ack).toMatchObject({ seq: sent.seq + 1, msgId: sent.msgId, duplicate: false });
		const edited = await watcher.frame("message.edited");
		expect(edited).toMatchObject({ seq: ack.seq, msgId: sent.msgId, text: "hello", editedAt: expect.any(Number) });
		expect(edited).not.toHaveProperty("mentions");

		alice.send({ type: "edit", id: "e1", msgId: sent.msgId, text: "something else" });
		const repeat = await alice.until((frames) => frames.filter((f) => typeof f !== "string" && f.type === "ack" && f.id === "e1")[1]);
		expect(repeat).toEqual({ ...ack, duplicate: true });
		// The repeat stored nothing: the next send comes right after the edit.
		alice.send({ type: "send", id: "m2", text: "next" });
		expect((await alice.frame("ack", (a) => a.id === "m2")).seq).toBe(ack.seq + 1);
		expect(watcher.ofType("message.edited")).toHaveLength(1);
	});

	it("lets only the author edit, refuses removed and missing messages, and names the frame", async ({ expect }) => {
		const room = freshRoom("edit");
		const alice = await join(room, "guest=alice");
		const mallory = await join(room, "guest=mallory");
		alice.send({ type: "send", id: "m1", text: "mine" });
		const sent = await alice.frame("ack", (a) => a.id === "m1");
		mallory.send({ type: "edit", id: "x1", msgId: sent.msgId, text: "hacked" });
		expect(await mallory.frame("error", (e) => e.id === "x1")).toMatchObject({ code: "forbidden" });
		alice.send({ type: "edit", id: "e0", msgId: "999-abcdef0123", text: "x" });
		expect(await alice.frame("error", (e) => e.id === "e0")).toMatchObject({ code: "not_found" });
		alice.send({ type: "delete", msgId: sent.msgId });
		await alice.frame("deleted");
		alice.send({ type: "edit", id: "e1", msgId: sent.msgId, text: "too late" });
		expect(await alice.frame("error", (e) => e.id === "e1")).toMatchObject({ code: "not_found" });
		const events = (await page(room)).events;
		expect(events.map((e) => e.type)).toEqual(["message", "retract"]);
	});

	it("refuses bad input with its code and keeps the socket usable", async ({ expect }) => {
		const room = freshRoom("edit");
		const alice = await join(room, "guest=alice");
		alice.send({ type: "send", id: "m1", text: "first" });
		const sent = await alice.frame("ack", (a) => a.id === "m1");
		alice.send({ type: "edit", id: "big", msgId: sent.msgId, text: "a".repeat(4001) });
		expect(await alice.frame("error", (e) => e.id === "big")).toMatchObject({ code: "too_large" });
		alice.send({ type: "edit", id: "blank", msgId: sent.msgId, text: "  " });
		expect(await alice.frame("error", (e) => e.id === "blank")).toMatchObject({ code: "bad_request" });
		alice.send({ type: "edit", id: "nomsg", text: "x" });
		expect(await alice.frame("error", (e) => e.id === "nomsg")).toMatchObject({ code: "bad_request" });
		alice.send({ type: "edit", id: "order", msgId: sent.msgId, text: "x", after: "never-sent" });
		expect(await alice.frame("error", (e) => e.id === "order")).toMatchObject({ code: "out_of_order" });
		alice.send({ type: "edit", id: "ok", msgId: sent.msgId, text: "fine", after: "m1" });
		expect(await alice.frame("ack", (a) => a.id === "ok")).toMatchObject({ duplicate: false });
	});

	it("rides in a batch socket's batch: the edit event, then its ack", async ({ expect }) => {
		const room = freshRoom("edit");
		const alice = await join(room, "guest=alice&features=batch");
		const batches = () =>
			(alice.frames as Array<AnyServerFrame | string>).filter((f): f is BatchFrame => typeof f !== "string" && f.type === "batch");
		alice.send({ type: "send", id: "m1", text: "batched" });
		const sent = await alice.until(() =>
			batches()
				.flatMap((b) => b.acks ?? [])
				.find((a) => a.type === "ack"),
		);
		alice.send({ type: "edit", id: "e1", msgId: sent.msgId, text: "batched, edited" });
		const batch = await alice.until(() => batches().find((b) => b.events.some((e) => e.type === "message.edited")));
		expect(batch).toMatchObject({
			events: [{ type: "message.edited", msgId: sent.msgId, text: "batched, edited" }],
			acks: [{ type: "ack", id: "e1", msgId: sent.msgId, duplicate: false }],
		});
	});

	it("holds edits to the room's policy: banned and read_only, while a repeat still gets its first ack", async ({ expect }) => {
		const room = freshRoom("edit");
		const stub = env.ROOM.getByName(room);
		const sent = await post(room, ann, "m1", "hello");
		const first = await stub.edit(ann, { id: "e1", msgId: sent.msgId, text: "hello!" }, "a".repeat(32));
		await stub.updatePolicy({ banned: ["ann"] });
		expect(await stub.edit(ann, { id: "e2", msgId: sent.msgId, text: "x" }, "b".repeat(32))).toMatchObject({
			ok: false,
			error: { code: "banned" },
		});
		expect(await stub.edit(ann, { id: "e1", msgId: sent.msgId, text: "hello!" }, "c".repeat(32))).toEqual(
			first.ok ? { ok: true, value: { ...first.value, duplicate: true } } : first,
		);
		await stub.updatePolicy({ banned: [], readOnly: true });
		expect(await stub.edit(ann, { id: "e3", msgId: sent.msgId, text: "x" }, "d".repeat(32))).toMatchObject({
			ok: false,
			error: { code: "read_only" },
		});
	});

	it("refuses to edit a cross-posted copy in its target room, naming the original's room", async ({ expect }) => {
		const origin = freshRoom("orig");
		const target = `${origin}-t`;
		const sent = await post(origin, ann, "x1", "to both", { crossPost: [target] });
		const copy = await waitForCopy(target);
		const refused = await env.ROOM.getByName(target).edit(ann, { id: "e1", msgId: copy.msgId, text: "edited copy" }, "a".repeat(32));
		expect(refused).toMatchObject({ ok: false, error: { code: "forbidden" } });
		expect(refused.ok ? "" : refused.error.message).toContain(origin);
		expect(sent.sagaId).toBeDefined();
	});
});

async function waitForCopy(room: string): Promise<MessageEvent> {
	for (let i = 0; i < 200; i++) {
		const copy = (await page(room)).events.find((e): e is MessageEvent => e.type === "message");
		if (copy !== undefined) return copy;
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
	throw new Error(`no copy reached ${room}`);
}

describe("edits over HTTP", () => {
	it("PATCH answers 201 with the edit's seq, 200 duplicate on a repeat, and the errors of the contract", async ({ expect }) => {
		const room = freshRoom("edit");
		const bearer = await token({ sub: "ann", name: "Ann" });
		const sent = await post(room, ann, "m1", "draft");
		const first = await patch(room, sent.msgId, { id: "e1", text: "final" }, bearer);
		expect(first.status).toBe(201);
		const ack = (await first.json()) as SendResult;
		expect(ack).toMatchObject({ seq: sent.seq + 1, msgId: sent.msgId, duplicate: false });
		const again = await patch(room, sent.msgId, { id: "e1", text: "final" }, bearer);
		expect(again.status).toBe(200);
		expect(await again.json()).toEqual({ ...ack, duplicate: true });

		const other = await token({ sub: "bob" });
		expect(await errorCode(await patch(room, sent.msgId, { id: "b1", text: "mine now" }, other))).toBe("forbidden");
		expect((await patch(room, sent.msgId, { id: "b1", text: "x" }, other)).status).toBe(403);
		const missing = await patch(room, "77-abcdef0123", { id: "e2", text: "x" }, bearer);
		expect([missing.status, await errorCode(missing)]).toEqual([404, "not_found"]);
		const huge = await patch(room, sent.msgId, { id: "e3", text: "a".repeat(4001) }, bearer);
		expect([huge.status, await errorCode(huge)]).toEqual([413, "too_large"]);
		for (const body of [{ text: "no id" }, { id: "e4", text: "" }, { id: "e4", text: "\t" }, { id: "e4" }]) {
			const bad = await patch(room, sent.msgId, body, bearer);
			expect([bad.status, await errorCode(bad)]).toEqual([400, "bad_request"]);
		}
		const lone = await api(`/v1/rooms/${room}/messages/${sent.msgId}`, {
			method: "PATCH",
			body: '{"id":"e5","text":"\\ud800"}',
			token: bearer,
		});
		expect(await errorCode(lone)).toBe("bad_request");
		// Nothing refused was stored: the log holds the message and the one edit.
		expect((await page(room)).events.map((e) => e.type)).toEqual(["message", "message.edited"]);
	});

	it("keeps the history, original first, and pages show the latest text with editSeq and editedAt", async ({ expect }) => {
		const room = freshRoom("edit");
		const bearer = await token({ sub: "ann", name: "Ann" });
		const sent = await post(room, ann, "m1", "v1");
		const e1 = (await (await patch(room, sent.msgId, { id: "e1", text: "v2" }, bearer)).json()) as SendResult;
		const e2 = (await (await patch(room, sent.msgId, { id: "e2", text: "v3" }, bearer)).json()) as SendResult;
		const history = (await (await api(`/v1/rooms/${room}/messages/${sent.msgId}/edits`, { token: bearer })).json()) as EditHistory;
		expect(history).toMatchObject({ room, msgId: sent.msgId });
		expect(history.versions.map((v) => [v.seq, v.text])).toEqual([
			[sent.seq, "v1"],
			[e1.seq, "v2"],
			[e2.seq, "v3"],
		]);
		const events = (await page(room)).events;
		const message = events[0] as MessageEvent;
		expect(message).toMatchObject({ text: "v3", editSeq: e2.seq, editedAt: expect.any(Number) });
		expect(events.slice(1).map((e) => [e.type, (e as MessageEditedEvent).text])).toEqual([
			["message.edited", "v2"],
			["message.edited", "v3"],
		]);
		const none = await api(`/v1/rooms/${room}/messages/55-abcdef0123/edits`, { token: bearer });
		expect([none.status, await errorCode(none)]).toEqual([404, "not_found"]);
	});

	it("a retract scrubs every version: the history is gone and the edits' texts are empty", async ({ expect }) => {
		const room = freshRoom("edit");
		const bearer = await token({ sub: "ann", name: "Ann" });
		const sent = await post(room, ann, "m1", "my password is hunter1");
		await patch(room, sent.msgId, { id: "e1", text: "my password is hunter2" }, bearer);
		const deleted = await api(`/v1/rooms/${room}/messages/${sent.msgId}`, { method: "DELETE", token: bearer });
		expect(deleted.status).toBe(200);
		expect(JSON.stringify((await page(room)).events)).not.toContain("hunter");
		const history = await api(`/v1/rooms/${room}/messages/${sent.msgId}/edits`, { token: bearer });
		expect(await errorCode(history)).toBe("not_found");
	});
});

describe("resume by since", () => {
	it("replays messages with their latest text and every edit in seq order", async ({ expect }) => {
		const room = freshRoom("edit");
		const alice = await join(room, "guest=alice");
		alice.send({ type: "send", id: "m1", text: "one" });
		const m1 = await alice.frame("ack", (a) => a.id === "m1");
		alice.send({ type: "edit", id: "e1", msgId: m1.msgId, text: "one!" });
		const e1 = await alice.frame("ack", (a) => a.id === "e1");
		alice.send({ type: "send", id: "m2", text: "two" });
		await alice.frame("ack", (a) => a.id === "m2");
		alice.send({ type: "edit", id: "e2", msgId: m1.msgId, text: "one!!" });
		const e2 = await alice.frame("ack", (a) => a.id === "e2");

		const fromStart = await join(room, "guest=late&since=0");
		const replay = fromStart.frames.filter((f) => typeof f !== "string" && (f.type === "message" || f.type === "message.edited"));
		expect(replay.map((f) => (typeof f === "string" ? f : [f.type, "seq" in f ? f.seq : 0]))).toEqual([
			["message", m1.seq],
			["message.edited", e1.seq],
			["message", m1.seq + 2],
			["message.edited", e2.seq],
		]);
		expect(replay[0]).toMatchObject({ text: "one!!", editSeq: e2.seq });

		const resumed = await join(room, `guest=late2&since=${e1.seq}`);
		const after = resumed.frames.filter((f) => typeof f !== "string" && (f.type === "message" || f.type === "message.edited"));
		expect(after).toMatchObject([
			{ type: "message", text: "two" },
			{ type: "message.edited", seq: e2.seq, text: "one!!" },
		]);
	});
});

describe("replies", () => {
	it("carry a snapshot of the quoted message: author and its first 100 code points", async ({ expect }) => {
		const room = freshRoom("reply");
		const long = `${"😀".repeat(99)}ab${"c".repeat(50)}`;
		const quoted = await post(room, ann, "m1", long);
		const alice = await join(room, "guest=alice");
		alice.send({ type: "send", id: "r1", text: "agreed", replyTo: quoted.msgId });
		const reply = await alice.frame("message", (m) => m.text === "agreed");
		expect(reply.replyTo).toEqual({ msgId: quoted.msgId, author: { id: "ann", name: "Ann" }, excerpt: `${"😀".repeat(99)}a` });
		const viaHttp = await post(room, bob, "r2", "me too", { replyTo: quoted.msgId });
		const stored = (await page(room)).events.find((e) => e.seq === viaHttp.seq) as MessageEvent;
		expect(stored.replyTo?.msgId).toBe(quoted.msgId);
	});

	it("to a missing or removed message are not_found; a reply whose quote is retracted later shows removed", async ({ expect }) => {
		const room = freshRoom("reply");
		const quoted = await post(room, ann, "m1", "secret plans");
		const reply = await post(room, bob, "r1", "nice", { replyTo: quoted.msgId });
		const alice = await join(room, "guest=alice");
		alice.send({ type: "send", id: "r2", text: "?", replyTo: "404-abcdef0123" });
		expect(await alice.frame("error", (e) => e.id === "r2")).toMatchObject({ code: "not_found" });
		const bearer = await token({ sub: "ann", name: "Ann" });
		await api(`/v1/rooms/${room}/messages/${quoted.msgId}`, { method: "DELETE", token: bearer });
		const http = await api(`/v1/rooms/${room}/messages`, {
			method: "POST",
			body: JSON.stringify({ id: "r3", text: "late", replyTo: quoted.msgId }),
			token: bearer,
		});
		expect([http.status, await errorCode(http)]).toEqual([404, "not_found"]);
		// A repeat of a reply whose quote is gone still gets its first answer.
		const repeat = await env.ROOM.getByName(room).post(bob, { id: "r1", text: "nice", replyTo: quoted.msgId }, "b".repeat(32));
		expect(repeat).toMatchObject({ ok: true, value: { seq: reply.seq, duplicate: true } });

		const inPage = (await page(room)).events.find((e) => e.seq === reply.seq) as MessageEvent;
		expect(inPage.replyTo).toEqual({ msgId: quoted.msgId, author: { id: "ann", name: "Ann" }, excerpt: "", removed: true });
		const replayed = await join(room, "guest=late&since=0");
		expect(await replayed.frame("message", (m) => m.seq === reply.seq)).toMatchObject({ replyTo: { removed: true, excerpt: "" } });
	});
});

describe("mentions", () => {
	it("name users the room has seen post, by name or id, on messages and on edits", async ({ expect }) => {
		const room = freshRoom("mention");
		await post(room, ann, "a1", "hi all");
		await post(room, bob, "b1", "hello");
		const asked = await post(room, ann, "a2", "@Bob Stone and @ann, and @carol");
		const message = (await page(room)).events.find((e) => e.seq === asked.seq) as MessageEvent;
		expect(message.mentions).toEqual(["bob", "ann"]);
		const plain = (await page(room)).events.find((e) => e.seq === 1) as MessageEvent;
		expect(plain).not.toHaveProperty("mentions");

		const watcher = await join(room, "guest=watcher");
		const edited = await env.ROOM.getByName(room).edit(ann, { id: "e1", msgId: asked.msgId, text: "just @BOB" }, "c".repeat(32));
		expect(edited.ok).toBe(true);
		expect(await watcher.frame("message.edited")).toMatchObject({ mentions: ["bob"] });
		const after = (await page(room)).events.find((e) => e.seq === asked.seq) as MessageEvent;
		expect(after.mentions).toEqual(["bob"]);
		await env.ROOM.getByName(room).edit(ann, { id: "e2", msgId: asked.msgId, text: "nobody" }, "d".repeat(32));
		expect((await page(room)).events.find((e) => e.seq === asked.seq)).not.toHaveProperty("mentions");
	});

	it("follow a renamed user's new name", async ({ expect }) => {
		const room = freshRoom("mention");
		const dev: Identity = { id: "u-7", name: "Bob Stone", admin: false, rooms: null, guest: false };
		await post(room, dev, "b1", "hi");
		await post(room, { ...dev, name: "Robert" }, "b2", "renamed");
		const asked = await post(room, ann, "a1", "@robert? @u-7?");
		expect(((await page(room)).events.find((e) => e.seq === asked.seq) as MessageEvent).mentions).toEqual(["u-7"]);
		const byOld = await post(room, ann, "a2", "@Bob Stone?");
		expect((await page(room)).events.find((e) => e.seq === byOld.seq)).not.toHaveProperty("mentions");
	});
});
