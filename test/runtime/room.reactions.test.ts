/**
 * v1.3 reactions through the public seams: the `react` frame, `POST
 * /v1/rooms/{room}/messages/{msgId}/reactions`, history pages and `since` replays.
 */
import { env } from "cloudflare:workers";
import { describe, it } from "vitest";
import type { Identity } from "../../src/auth.ts";
import {
	type AnyServerFrame,
	type BatchFrame,
	type EventsPage,
	MAX_REACTIONS_PER_MESSAGE,
	type ReactionEvent,
	type ServerFrame,
} from "../../src/protocol.ts";
import { api, errorCode, freshRoom, join, type TestSocket, token } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };

/** Sends a message from `socket` and returns its msgId once acked. */
async function post(socket: TestSocket, id: string, text = "hello"): Promise<string> {
	socket.send({ type: "send", id, text });
	return (await socket.frame("ack", (ack) => ack.id === id)).msgId;
}

/** Sends a react frame and waits for its answer (an ack or an error naming it) among the frames that come after. */
async function react(socket: TestSocket, frame: Record<string, unknown>): Promise<ServerFrame> {
	const from = socket.frames.length;
	socket.send({ type: "react", ...frame });
	return await socket.until((frames) =>
		frames
			.slice(from)
			.find(
				(f): f is ServerFrame =>
					typeof f !== "string" && (f.type === "ack" || f.type === "error") && "id" in f && f.id === frame.id,
			),
	);
}

/** A history page as `reader` reads it: a guest (`guest:name`) or a token's user. */
async function page(room: string, reader: string, query = "after=0"): Promise<EventsPage> {
	const guest = reader.startsWith("guest:") ? reader.slice("guest:".length) : undefined;
	const response =
		guest === undefined
			? await api(`/v1/rooms/${room}/events?${query}`, { token: await token({ sub: reader }) })
			: await api(`/v1/rooms/${room}/events?${query}&guest=${guest}`);
	if (response.status !== 200) throw new Error(`history page: ${response.status} ${await response.text()}`);
	return (await response.json()) as EventsPage;
}

describe("reactions over sockets", () => {
	it("adds and removes an emoji as events with their own seq, broadcast to every socket, acked with that seq", async ({ expect }) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice");
		const bob = await join(room, "guest=bob");
		const msgId = await post(alice, "m1");
		expect(await react(bob, { id: "r1", msgId, emoji: "👍" })).toMatchObject({
			type: "ack",
			id: "r1",
			seq: 2,
			msgId,
			duplicate: false,
		});
		const added = await alice.frame("reaction.added");
		expect(added).toMatchObject({ seq: 2, msgId, emoji: "👍", user: { id: "guest:bob", name: "bob" } });
		expect(await react(bob, { id: "r2", msgId, emoji: "👍", remove: true })).toMatchObject({ type: "ack", seq: 3, duplicate: false });
		expect(await alice.frame("reaction.removed")).toMatchObject({ seq: 3, msgId, emoji: "👍", user: { id: "guest:bob" } });
	});

	it("comes to a batch socket as the commit's batch, its ack inside", async ({ expect }) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice&features=batch");
		/** The batch that carries the answer to the frame `id`. */
		const answering = (id: string) =>
			alice.until(() =>
				(alice.frames as Array<AnyServerFrame | string>).find(
					(f): f is BatchFrame =>
						typeof f !== "string" && f.type === "batch" && (f.acks ?? []).some((ack) => "id" in ack && ack.id === id),
				),
			);
		alice.send({ type: "send", id: "m1", text: "hi" });
		const msgId = (await answering("m1")).events[0]?.msgId;
		alice.send({ type: "react", id: "r1", msgId, emoji: "🙂" });
		expect(await answering("r1")).toMatchObject({
			type: "batch",
			events: [{ type: "reaction.added", seq: 2, msgId, emoji: "🙂" }],
			acks: [{ type: "ack", id: "r1", seq: 2, msgId, duplicate: false }],
		});
	});

	it("answers an add it already has, a remove it does not have, and a repeated id as duplicates, with no event", async ({ expect }) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice");
		const msgId = await post(alice, "m1");
		const first = await react(alice, { id: "r1", msgId, emoji: ":tada:" });
		expect(first).toMatchObject({ type: "ack", seq: 2, duplicate: false });
		// The same client id again: the original answer.
		expect(await react(alice, { id: "r1", msgId, emoji: ":tada:" })).toMatchObject({ type: "ack", seq: 2, duplicate: true });
		// A new id for a reaction she already has: the add that stands.
		expect(await react(alice, { id: "r2", msgId, emoji: ":tada:" })).toMatchObject({ type: "ack", seq: 2, duplicate: true });
		// Removing one she does not have: nothing to do.
		expect(await react(alice, { id: "r3", msgId, emoji: "🎉", remove: true })).toMatchObject({ type: "ack", duplicate: true });
		const events = await page(room, "reader");
		expect(events.lastSeq).toBe(2);
		expect(alice.ofType("reaction.added")).toHaveLength(1);
		expect(alice.ofType("reaction.removed")).toHaveLength(0);
	});

	it(`refuses a ${MAX_REACTIONS_PER_MESSAGE + 1}st different emoji with conflict, while more of one it has still count`, async ({
		expect,
	}) => {
		const room = freshRoom();
		const stub = env.ROOM.getByName(room);
		const posted = await stub.post(ann, { id: "m", text: "vote" }, "a".repeat(32));
		if (!posted.ok) throw new Error("post failed");
		const msgId = posted.value.msgId;
		// One user per emoji, so no one runs out of their allowance.
		for (let i = 0; i < MAX_REACTIONS_PER_MESSAGE; i++) {
			const added = await stub.react({ ...ann, id: `u${i}` }, { id: `r${i}`, msgId, emoji: `:e${i}:` }, "b".repeat(32));
			expect(added.ok && added.value.duplicate).toBe(false);
		}
		const over = await stub.react(ann, { id: "over", msgId, emoji: ":one_more:" }, "b".repeat(32));
		expect(over.ok === false && over.error.code).toBe("conflict");
		const bob: Identity = { ...ann, id: "bob", name: "Bob" };
		const again = await stub.react(bob, { id: "b1", msgId, emoji: ":e0:" }, "b".repeat(32));
		expect(again.ok && again.value.duplicate).toBe(false);
		// Removing one makes room for a new one.
		expect((await stub.react({ ...ann, id: "u5" }, { id: "x", msgId, emoji: ":e5:", remove: true }, "b".repeat(32))).ok).toBe(true);
		expect((await stub.react(ann, { id: "y", msgId, emoji: ":one_more:" }, "b".repeat(32))).ok).toBe(true);
		const messages = (await page(room, "bob")).events.filter((e) => e.type === "message");
		expect(messages[0]?.type === "message" && messages[0].reactions?.length).toBe(MAX_REACTIONS_PER_MESSAGE);
	});

	it("refuses a missing or retracted message with not_found, and bad input with bad_request", async ({ expect }) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice");
		const msgId = await post(alice, "m1");
		expect(await react(alice, { id: "r1", msgId: "99-0123456789", emoji: "👍" })).toMatchObject({ type: "error", code: "not_found" });
		expect(await react(alice, { id: "r2", msgId: "nonsense", emoji: "👍" })).toMatchObject({ type: "error", code: "not_found" });
		alice.send({ type: "delete", msgId, id: "d1" });
		await alice.frame("deleted");
		expect(await react(alice, { id: "r3", msgId, emoji: "👍" })).toMatchObject({ type: "error", code: "not_found" });
		expect(await react(alice, { id: "r4", msgId, emoji: "thumbs" })).toMatchObject({ type: "error", code: "bad_request" });
		expect(await react(alice, { id: "r5", msgId, emoji: "👍👍" })).toMatchObject({ type: "error", code: "bad_request" });
		// The socket still works.
		await post(alice, "m2");
	});

	it("follows the room's policy: read-only (admins excepted), banned users, guests where banned", async ({ expect }) => {
		const room = freshRoom();
		const stub = env.ROOM.getByName(room);
		const posted = await stub.post(ann, { id: "m", text: "hi" }, "a".repeat(32));
		if (!posted.ok) throw new Error("post failed");
		const msgId = posted.value.msgId;
		const trace = "c".repeat(32);
		const guest: Identity = { id: "guest:gus", name: "gus", admin: false, rooms: null, guest: true };
		expect((await stub.react(guest, { id: "g1", msgId, emoji: "👍" }, trace)).ok).toBe(true);
		await stub.updatePolicy({ readOnly: true });
		const readOnly = await stub.react(ann, { id: "a1", msgId, emoji: "👍" }, trace);
		expect(readOnly.ok === false && readOnly.error.code).toBe("read_only");
		const admin = await stub.react({ ...ann, id: "ops", admin: true }, { id: "o1", msgId, emoji: "👍" }, trace);
		expect(admin.ok).toBe(true);
		await stub.updatePolicy({ readOnly: false, banned: ["ann"], banGuests: true });
		const banned = await stub.react(ann, { id: "a2", msgId, emoji: "👍" }, trace);
		expect(banned.ok === false && banned.error.code).toBe("banned");
		const guestRefused = await stub.react(guest, { id: "g2", msgId, emoji: "👍", remove: true }, trace);
		expect(guestRefused.ok === false && guestRefused.error.code).toBe("banned");
		// A repeat of a stored reaction still gets its original answer.
		const repeat = await stub.react(guest, { id: "g1", msgId, emoji: "👍" }, trace);
		expect(repeat.ok && repeat.value).toMatchObject({ seq: 2, duplicate: true });
	});

	it("refuses a react whose `after` is not stored with out_of_order", async ({ expect }) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice");
		const msgId = await post(alice, "m1");
		expect(await react(alice, { id: "r1", msgId, emoji: "👍", after: "never-sent" })).toMatchObject({
			type: "error",
			code: "out_of_order",
		});
		expect(await react(alice, { id: "r2", msgId, emoji: "👍", after: "m1" })).toMatchObject({ type: "ack", duplicate: false });
	});
});

describe("reactions in history and replays", () => {
	it("gives each live message its counts and the reader's own, in first-reacted order", async ({ expect }) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice");
		const bob = await join(room, "guest=bob");
		const first = await post(alice, "m1", "one");
		const second = await post(alice, "m2", "two");
		await react(bob, { id: "b1", msgId: first, emoji: "🎉" });
		await react(alice, { id: "a1", msgId: first, emoji: "👍" });
		await react(bob, { id: "b2", msgId: first, emoji: "👍" });
		const history = await page(room, "guest:carol", "after=0");
		const messages = history.events.filter((e) => e.type === "message");
		expect(messages.map((m) => (m.type === "message" ? m.reactions : undefined))).toEqual([
			[
				{ emoji: "🎉", count: 1, mine: false },
				{ emoji: "👍", count: 2, mine: false },
			],
			undefined,
		]);
		expect(messages[1]?.msgId).toBe(second);
		// `mine` is the reader's: bob reads over a socket replay.
		const again = await join(room, "guest=bob&since=0");
		const replayed = again.ofType("message").find((m) => m.msgId === first);
		expect(replayed?.reactions).toEqual([
			{ emoji: "🎉", count: 1, mine: true },
			{ emoji: "👍", count: 2, mine: true },
		]);
		// A page read backwards (before=) counts the same.
		const back = await page(room, "guest:alice", "before=2&limit=1");
		expect(back.events[0]?.type === "message" && back.events[0].reactions?.map((r) => [r.emoji, r.mine])).toEqual([
			["🎉", false],
			["👍", true],
		]);
	});

	it("a socket resuming by since gets the reaction events it missed, in seq order, matching what a live socket saw", async ({
		expect,
	}) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice");
		const watcher = await join(room, "guest=watcher");
		const msgId = await post(alice, "m1");
		const carol = await join(room, "guest=carol");
		await carol.frame("message", (m) => m.msgId === msgId);
		const since = (await carol.frame("synced")).through;
		carol.close();
		await react(alice, { id: "a1", msgId, emoji: "👍" });
		await react(alice, { id: "a2", msgId, emoji: "🔥" });
		await react(alice, { id: "a3", msgId, emoji: "👍", remove: true });
		await react(alice, { id: "a4", msgId, emoji: "👍" });
		await watcher.until((frames) => frames.filter((f) => typeof f !== "string" && f.type === "reaction.added").length === 3);
		const live = watcher.frames.filter((f): f is ReactionEvent => typeof f !== "string" && f.type.startsWith("reaction."));
		const resumed = await join(room, `guest=carol&since=${since}`);
		const replayed = resumed.frames.filter((f): f is ReactionEvent => typeof f !== "string" && f.type.startsWith("reaction."));
		expect(replayed).toEqual(live);
		expect(replayed.map((e) => [e.type, e.emoji, e.seq])).toEqual([
			["reaction.added", "👍", 2],
			["reaction.added", "🔥", 3],
			["reaction.removed", "👍", 4],
			["reaction.added", "👍", 5],
		]);
		// Folding the replay onto what carol had gives the counts a fresh page shows.
		const counts = new Map<string, number>();
		for (const e of replayed) counts.set(e.emoji, (counts.get(e.emoji) ?? 0) + (e.type === "reaction.added" ? 1 : -1));
		expect(Object.fromEntries(counts)).toEqual({ "👍": 1, "🔥": 1 });
		const fresh = (await page(room, "guest:carol")).events.find((e) => e.type === "message");
		// In code point order (U+1F44D before U+1F525), whatever order they came in.
		expect(fresh?.type === "message" && fresh.reactions).toEqual([
			{ emoji: "👍", count: 1, mine: false },
			{ emoji: "🔥", count: 1, mine: false },
		]);
	});

	it("shows no reactions on a retracted message", async ({ expect }) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice");
		const msgId = await post(alice, "m1");
		await react(alice, { id: "a1", msgId, emoji: "👍" });
		alice.send({ type: "delete", msgId, id: "d1" });
		await alice.frame("deleted");
		const message = (await page(room, "guest:alice")).events.find((e) => e.type === "message");
		expect(message).toMatchObject({ msgId, text: "" });
		expect(message?.type === "message" && message.reactions).toBeUndefined();
	});
});

describe("POST /v1/rooms/{room}/messages/{msgId}/reactions", () => {
	it("adds (201), repeats (200 duplicate), removes, and refuses bad input and unknown messages", async ({ expect }) => {
		const room = freshRoom();
		const dana = await token({ sub: "dana" });
		const sent = await api(`/v1/rooms/${room}/messages`, { method: "POST", body: '{"id":"m1","text":"hi"}', token: dana });
		const { msgId } = (await sent.json()) as { msgId: string };
		const path = `/v1/rooms/${room}/messages/${msgId}/reactions`;
		const added = await api(path, { method: "POST", body: JSON.stringify({ id: "r1", emoji: "🇫🇷" }), token: dana });
		expect(added.status).toBe(201);
		expect(await added.json()).toMatchObject({ seq: 2, msgId, duplicate: false });
		const repeat = await api(path, { method: "POST", body: JSON.stringify({ id: "r1", emoji: "🇫🇷" }), token: dana });
		expect(repeat.status).toBe(200);
		expect(await repeat.json()).toMatchObject({ seq: 2, duplicate: true });
		const removed = await api(path, { method: "POST", body: JSON.stringify({ id: "r2", emoji: "🇫🇷", remove: true }), token: dana });
		expect(removed.status).toBe(201);
		expect(await removed.json()).toMatchObject({ seq: 3, duplicate: false });
		const badEmoji = await api(path, { method: "POST", body: JSON.stringify({ id: "r3", emoji: "fr" }), token: dana });
		expect(badEmoji.status).toBe(400);
		expect(await errorCode(badEmoji)).toBe("bad_request");
		const noId = await api(path, { method: "POST", body: JSON.stringify({ emoji: "👍" }), token: dana });
		expect(await errorCode(noId)).toBe("bad_request");
		const missing = await api(`/v1/rooms/${room}/messages/9-0123456789/reactions`, {
			method: "POST",
			body: JSON.stringify({ id: "r4", emoji: "👍" }),
			token: dana,
		});
		expect(missing.status).toBe(404);
		const anonymous = await api(path, { method: "POST", body: JSON.stringify({ id: "r5", emoji: "👍" }) });
		expect(anonymous.status).toBe(401);
		const elsewhere = await api(path, {
			method: "POST",
			body: JSON.stringify({ id: "r6", emoji: "👍" }),
			token: await token({ sub: "dana", rooms: ["other"] }),
		});
		expect(elsewhere.status).toBe(403);
	});
});
