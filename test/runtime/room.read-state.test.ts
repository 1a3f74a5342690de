/**
 * v1.3 read state through the public seams: the `read` frame, `PUT /v1/rooms/{room}/read`,
 * `receipt` frames and what the welcome says (the caller's marker and unread count, others'
 * latest markers).
 */
import { env } from "cloudflare:workers";
import { describe, it } from "vitest";
import type { Identity } from "../../src/auth.ts";
import { RECEIPTS_IN_WELCOME, type WelcomeFrame } from "../../src/protocol.ts";
import { api, errorCode, freshRoom, join, type TestSocket } from "./helpers.ts";

const trace = "d".repeat(32);
const user = (id: string): Identity => ({ id, name: id.replace("guest:", ""), admin: false, rooms: null, guest: id.startsWith("guest:") });

/** Sends a send frame and waits for its answer, so every frame before it has been handled. */
async function settle(socket: TestSocket, id: string): Promise<void> {
	socket.send({ type: "send", id, text: "sync" });
	await socket.frame("ack", (ack) => ack.id === id);
}

async function welcome(room: string, guest: string): Promise<WelcomeFrame> {
	const socket = await join(room, `guest=${guest}`);
	const frame = await socket.frame("welcome");
	socket.close();
	return frame;
}

describe("read markers", () => {
	it("move forward only, with a receipt to every socket (the reader's own too) each time one moves", async ({ expect }) => {
		const room = freshRoom();
		const stub = env.ROOM.getByName(room);
		for (let i = 1; i <= 5; i++) await stub.post(user("ann"), { id: `m${i}`, text: `m${i}` }, trace);
		const alice = await join(room, "guest=alice");
		const bob = await join(room, "guest=bob");
		alice.send({ type: "read", seq: 3 });
		expect(await alice.frame("receipt")).toEqual({ type: "receipt", user: { id: "guest:alice", name: "alice" }, seq: 3 });
		expect(await bob.frame("receipt")).toEqual({ type: "receipt", user: { id: "guest:alice", name: "alice" }, seq: 3 });
		// A repeat and a lower marker change nothing and send nothing.
		alice.send({ type: "read", seq: 3 });
		alice.send({ type: "read", seq: 1 });
		alice.send({ type: "read", seq: 0 });
		await settle(alice, "s1");
		expect(bob.ofType("receipt")).toHaveLength(1);
		alice.send({ type: "read", seq: 5 });
		expect(await bob.frame("receipt", (r) => r.seq === 5)).toMatchObject({ user: { id: "guest:alice" } });
		expect((await welcome(room, "alice")).read).toEqual({ seq: 5, unread: 0 });
	});

	it("clamps a marker beyond the room's last event to that event", async ({ expect }) => {
		const room = freshRoom();
		const stub = env.ROOM.getByName(room);
		await stub.post(user("ann"), { id: "m1", text: "one" }, trace);
		const alice = await join(room, "guest=alice");
		alice.send({ type: "read", seq: 1_000_000 });
		expect(await alice.frame("receipt")).toMatchObject({ seq: 1 });
		const read = await stub.markRead(user("guest:alice"), 50);
		expect(read).toEqual({ ok: true, value: { seq: 1, unread: 0 } });
	});

	it("refuses a bad read frame with bad_request naming its id, and the socket goes on", async ({ expect }) => {
		const room = freshRoom();
		const alice = await join(room, "guest=alice");
		alice.send({ type: "read", seq: -1, id: "r1" });
		alice.send({ type: "read", seq: "3", id: "r2" });
		alice.send({ type: "read", id: "r3" });
		await settle(alice, "s1");
		expect(alice.ofType("error").map((e) => [e.code, e.id])).toEqual([
			["bad_request", "r1"],
			["bad_request", "r2"],
			["bad_request", "r3"],
		]);
	});

	it("are allowed in a read-only room and for banned users: reading is not posting", async ({ expect }) => {
		const room = freshRoom();
		const stub = env.ROOM.getByName(room);
		await stub.post(user("ann"), { id: "m1", text: "one" }, trace);
		await stub.updatePolicy({ readOnly: true, banned: ["guest:bob"], banGuests: true });
		expect(await stub.markRead(user("guest:bob"), 1)).toEqual({ ok: true, value: { seq: 1, unread: 0 } });
		expect(await stub.markRead(user("dana"), 1)).toEqual({ ok: true, value: { seq: 1, unread: 0 } });
	});
});

describe("receipts in a room over its presence list limit", () => {
	it("go only to the reader's own sockets (others see markers in their welcome)", async ({ expect }) => {
		const room = freshRoom();
		const stub = env.ROOM.getByName(room);
		await stub.post(user("ann"), { id: "m1", text: "one" }, trace);
		// The tests' list limit is 10 users (vitest.config.ts).
		const others: TestSocket[] = [];
		for (let i = 0; i < 10; i++) others.push(await join(room, `guest=u${i}`));
		const alice = await join(room, "guest=alice");
		const aliceTab = await join(room, "guest=alice");
		alice.send({ type: "read", seq: 1 });
		expect(await alice.frame("receipt")).toMatchObject({ user: { id: "guest:alice" }, seq: 1 });
		expect(await aliceTab.frame("receipt")).toMatchObject({ seq: 1 });
		const watcher = others[0];
		if (watcher === undefined) throw new Error("no watcher");
		await settle(watcher, "w1");
		expect(others.flatMap((socket) => socket.ofType("receipt"))).toEqual([]);
		expect((await welcome(room, "zed")).receipts).toEqual([{ user: { id: "guest:alice", name: "alice" }, seq: 1 }]);
	});
});

describe("the welcome's read state", () => {
	it("gives the caller's marker and the live messages by others after it", async ({ expect }) => {
		const room = freshRoom();
		const stub = env.ROOM.getByName(room);
		expect((await welcome(room, "alice")).read).toEqual({ seq: 0, unread: 0 });
		await stub.post(user("ann"), { id: "a1", text: "one" }, trace); // 1
		await stub.post(user("guest:alice"), { id: "x1", text: "mine" }, trace); // 2
		await stub.post(user("ann"), { id: "a2", text: "two" }, trace); // 3
		expect((await welcome(room, "alice")).read).toEqual({ seq: 0, unread: 2 });
		await stub.markRead(user("guest:alice"), 1);
		await stub.post(user("ann"), { id: "a3", text: "three" }, trace); // 4
		const gone = await stub.post(user("ann"), { id: "a4", text: "four" }, trace); // 5
		if (!gone.ok) throw new Error("post failed");
		await stub.react(user("ann"), { id: "r1", msgId: gone.value.msgId, emoji: "👍" }, trace); // 6
		await stub.remove(user("ann"), gone.value.msgId, trace); // 7
		// After seq 1: a2 and a3 count; her own message, the retracted one, a reaction and a retract do not.
		expect((await welcome(room, "alice")).read).toEqual({ seq: 1, unread: 2 });
	});

	it(`lists others' markers furthest on first, at most ${RECEIPTS_IN_WELCOME}, never the caller's`, async ({ expect }) => {
		const room = freshRoom();
		const stub = env.ROOM.getByName(room);
		for (let i = 1; i <= 3; i++) await stub.post(user("ann"), { id: `m${i}`, text: `m${i}` }, trace);
		await stub.markRead(user("guest:alice"), 3);
		await stub.markRead(user("bob"), 1);
		await stub.markRead(user("carol"), 2);
		expect((await welcome(room, "alice")).receipts).toEqual([
			{ user: { id: "carol", name: "carol" }, seq: 2 },
			{ user: { id: "bob", name: "bob" }, seq: 1 },
		]);
		for (let i = 0; i < RECEIPTS_IN_WELCOME + 5; i++) await stub.markRead(user(`u${i}`), 3);
		const receipts = (await welcome(room, "zed")).receipts ?? [];
		expect(receipts).toHaveLength(RECEIPTS_IN_WELCOME);
		expect(receipts.every((r) => r.seq === 3)).toBe(true);
	});
});

describe("PUT /v1/rooms/{room}/read", () => {
	it("moves the caller's marker and answers it as stored, never backwards; refuses bad bodies", async ({ expect }) => {
		const room = freshRoom();
		const stub = env.ROOM.getByName(room);
		for (let i = 1; i <= 3; i++) await stub.post(user("ann"), { id: `m${i}`, text: `m${i}` }, trace);
		const watcher = await join(room, "guest=watcher");
		const put = (body: string) => api(`/v1/rooms/${room}/read?guest=alice`, { method: "PUT", body });
		const moved = await put('{"seq":2}');
		expect(moved.status).toBe(200);
		expect(await moved.json()).toEqual({ seq: 2, unread: 1 });
		expect(await watcher.frame("receipt")).toEqual({ type: "receipt", user: { id: "guest:alice", name: "alice" }, seq: 2 });
		const back = await put('{"seq":1}');
		expect(await back.json()).toEqual({ seq: 2, unread: 1 });
		for (const body of ['{"seq":-1}', '{"seq":1.5}', "{}", '{"seq":"2"}', "[2]", "nope"]) {
			const refused = await put(body);
			expect(refused.status, body).toBe(400);
			expect(await errorCode(refused)).toBe("bad_request");
		}
		expect((await api(`/v1/rooms/${room}/read`, { method: "PUT", body: '{"seq":1}' })).status).toBe(401);
		await settle(watcher, "w1");
		expect(watcher.ofType("receipt")).toHaveLength(1);
	});
});
