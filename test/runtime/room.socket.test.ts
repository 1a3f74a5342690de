import { env, exports } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, it, vi } from "vitest";
import { MIGRATIONS } from "../../migrations/index.ts";
import { applyMigrations } from "../../objects/migrate.ts";
import { RESERVED_CLOSE_CODES } from "../../objects/room.ts";
import type { Identity } from "../../src/auth.ts";
import { SOCKET_OPEN_COST } from "../../src/rate-limit.ts";
import { advanceClock, BASE, freshRoom, join, token } from "./helpers.ts";

const writer: Identity = { id: "seed", name: "Seed", admin: false, rooms: null, guest: false };

/** Posts `count` messages; a writer posts at most 20 (its rate-limit burst), then the next one takes over. */
async function seed(room: string, count: number): Promise<void> {
	const stub = env.ROOM.getByName(room);
	for (let i = 1; i <= count; i++) {
		const author: Identity = { ...writer, id: `seed-${Math.ceil(i / 20)}` };
		await stub.post(author, { id: `seed-${i}`, text: `seed ${i}` }, "t".repeat(32));
	}
}

describe("joining", () => {
	it("refuses a bad upgrade with an HTTP error, not a socket", async ({ expect }) => {
		const room = freshRoom();
		for (const [query, status] of [
			["", 401],
			["token=garbage", 401],
			[`token=${await token({ sub: "u", rooms: ["elsewhere"] })}`, 403],
			["guest=bad name", 401],
			["guest=ok&since=-4", 400],
		] as const) {
			const response = await exports.default.fetch(
				new Request(`${BASE}/v1/rooms/${room}/ws?${query}`, { headers: { Upgrade: "websocket" } }),
			);
			expect([query, response.status, response.webSocket]).toEqual([query, status, null]);
		}
		const badRoom = await exports.default.fetch(new Request(`${BASE}/v1/rooms/Bad!/ws?guest=a`, { headers: { Upgrade: "websocket" } }));
		expect(badRoom.status).toBe(400);
		const noUpgrade = await exports.default.fetch(new Request(`${BASE}/v1/rooms/${room}/ws?guest=a`));
		expect(noUpgrade.status).toBe(400);
	});

	it("replays the latest 50 without since", async ({ expect }) => {
		const room = freshRoom();
		await seed(room, 60);
		const socket = await join(room, "guest=a");
		expect(socket.ofType("welcome")[0]?.lastSeq).toBe(60);
		expect(socket.ofType("message").map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
		expect(socket.ofType("synced")).toEqual([{ type: "synced", through: 60 }]);
	});

	it("replays everything after since, at most 500, and says how far it got", async ({ expect }) => {
		const room = freshRoom();
		await seed(room, 510);
		const socket = await join(room, "guest=a&since=5");
		const seqs = socket.ofType("message").map((m) => m.seq);
		expect(seqs.length).toBe(500);
		expect(seqs[0]).toBe(6);
		expect(seqs.at(-1)).toBe(505);
		expect(socket.ofType("synced")[0]?.through).toBe(505);
		const caughtUp = await join(room, "guest=b&since=510");
		expect(caughtUp.ofType("message")).toEqual([]);
		expect(caughtUp.ofType("synced")[0]?.through).toBe(510);
	});

	it("sends welcome first, then the replay, then synced", async ({ expect }) => {
		const room = freshRoom();
		await seed(room, 2);
		const socket = await join(room, "guest=a&since=0");
		expect(socket.frames.map((frame) => (typeof frame === "string" ? frame : frame.type))).toEqual([
			"welcome",
			"message",
			"message",
			"synced",
		]);
	});
});

describe("presence", () => {
	it("announces a user's first socket and last close, and lists the online users", async ({ expect }) => {
		const room = freshRoom();
		const ann = await join(room, "guest=ann");
		expect(ann.ofType("welcome")[0]?.online).toEqual([{ id: "guest:ann", name: "ann" }]);
		const bob = await join(room, "guest=bob");
		expect(bob.ofType("welcome")[0]?.online).toEqual(
			expect.arrayContaining([
				{ id: "guest:ann", name: "ann" },
				{ id: "guest:bob", name: "bob" },
			]),
		);
		await ann.frame("presence", (frame) => "joined" in frame && frame.joined.id === "guest:bob");
		const bobAgain = await join(room, "guest=bob");
		bob.close();
		// Bob still has a socket: no "left" yet. Closing the last one announces it.
		bobAgain.close();
		await ann.frame("presence", (frame) => "left" in frame && frame.left.id === "guest:bob");
		expect(ann.ofType("presence").filter((frame) => "joined" in frame)).toHaveLength(1);
		expect(ann.ofType("presence").filter((frame) => "left" in frame)).toHaveLength(1);
	});
});

describe("closing", () => {
	it("answers a peer's close with the peer's code, and never sends or echoes a reserved one", async ({ expect }) => {
		const answers = await runInDurableObject(env.ROOM.getByName(freshRoom()), async (room) => {
			const seen: Array<{ peer: number; answer: number | "none" }> = [];
			for (const peer of [1000, 1001, 4001, ...RESERVED_CLOSE_CODES]) {
				const { 1: server } = new WebSocketPair();
				server.accept();
				const close = vi.spyOn(server, "close");
				await room.webSocketClose(server, peer, "bye");
				seen.push({ peer, answer: close.mock.calls[0]?.[0] ?? "none" });
			}
			return seen;
		});
		expect(answers).toEqual([
			{ peer: 1000, answer: 1000 },
			{ peer: 1001, answer: 1001 },
			{ peer: 4001, answer: 4001 },
			{ peer: 1005, answer: "none" },
			{ peer: 1006, answer: "none" },
			{ peer: 1015, answer: "none" },
		]);
	});
});

describe("sending", () => {
	it("acks only after the event is stored, and dedups a repeated id", async ({ expect }) => {
		const room = freshRoom();
		const socket = await join(room, "guest=a");
		socket.send({ type: "send", id: "x", text: "one" });
		const ack = await socket.frame("ack");
		// By the time the ack is out, the row is there.
		const stored = await runInDurableObject(env.ROOM.getByName(room), (_instance, state) =>
			state.storage.sql.exec("SELECT seq, text FROM events").toArray(),
		);
		expect(stored).toEqual([{ seq: ack.seq, text: "one" }]);
		socket.send({ type: "send", id: "x", text: "one again" });
		const second = await socket.frame("ack", (frame) => frame.duplicate);
		expect(second).toEqual({ ...ack, duplicate: true });
		expect(socket.ofType("message")).toHaveLength(1);
	});

	it("gives gap-free seqs to concurrent senders", async ({ expect }) => {
		const room = freshRoom();
		const sockets = await Promise.all(Array.from({ length: 8 }, (_, i) => join(room, `guest=s${i}`)));
		sockets.forEach((socket, i) => {
			for (let n = 0; n < 15; n++) socket.send({ type: "send", id: `s${i}-${n}`, text: `from ${i}: ${n}` });
		});
		const watcher = sockets[0];
		if (watcher === undefined) throw new Error("no sockets");
		await watcher.until((frames) => frames.filter((f) => typeof f !== "string" && f.type === "message").length === 120);
		const seqs = watcher.ofType("message").map((m) => m.seq);
		expect(seqs).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
		for (const socket of sockets)
			await socket.until((frames) => frames.filter((f) => typeof f !== "string" && f.type === "ack").length === 15);
		const acked = sockets.flatMap((socket) => socket.ofType("ack").map((a) => a.seq)).sort((a, b) => a - b);
		expect(acked).toEqual(seqs);
	});

	it("answers malformed frames with error frames and keeps the socket open", async ({ expect }) => {
		const room = freshRoom();
		const socket = await join(room, "guest=a");
		const bad = ["{nope", "[]", '{"type":"send"}', '{"type":"send","id":"1","text":7}', '{"type":"dance"}'];
		for (const frame of bad) socket.send(frame);
		socket.send({ type: "send", id: "long", text: "x".repeat(4001) });
		await socket.until((frames) => frames.filter((f) => typeof f !== "string" && f.type === "error").length === 6);
		const errors = socket.ofType("error");
		expect(errors.slice(0, 5).map((e) => e.code)).toEqual(Array(5).fill("bad_request"));
		expect(errors[5]).toMatchObject({ code: "too_large", id: "long" });
		socket.send({ type: "send", id: "ok", text: "still here" });
		expect(await socket.frame("ack")).toMatchObject({ id: "ok", seq: 1 });
	});

	it("answers a small binary frame with bad_request", async ({ expect }) => {
		const socket = await join(freshRoom(), "guest=a");
		socket.ws.send(new Uint8Array([1, 2, 3]));
		expect(await socket.frame("error")).toMatchObject({ code: "bad_request" });
	});

	it("closes with 1009 on a frame over MAX_FRAME_BYTES and drops what follows", async ({ expect }) => {
		const room = freshRoom();
		const socket = await join(room, "guest=a");
		socket.send({ type: "send", id: "big", text: "é".repeat(17_000) });
		socket.send({ type: "send", id: "after", text: "late" });
		expect((await socket.waitClosed()).code).toBe(1009);
		const page = await env.ROOM.getByName(room).events({ after: 0, limit: 10 });
		expect(page.events).toEqual([]);
	});

	it("answers the frames before an oversized one, then closes", async ({ expect }) => {
		const socket = await join(freshRoom(), "guest=a");
		socket.send({ type: "delete", msgId: "1-0000000000" });
		socket.send({ type: "send", id: "ok", text: "fine" });
		socket.send({ type: "send", id: "big", text: "x".repeat(40_000) });
		expect((await socket.waitClosed()).code).toBe(1009);
		expect(socket.ofType("error").map((e) => e.code)).toEqual(["not_found"]);
		expect(socket.ofType("ack").map((a) => a.id)).toEqual(["ok"]);
	});

	it("refuses sends in a read-only room and from banned users", async ({ expect }) => {
		const room = freshRoom();
		await env.ROOM.getByName(room).updatePolicy({ readOnly: true });
		const socket = await join(room, "guest=a");
		socket.send({ type: "send", id: "1", text: "x" });
		expect(await socket.frame("error")).toMatchObject({ code: "read_only", id: "1" });
		await env.ROOM.getByName(room).updatePolicy({ readOnly: false, banned: ["guest:a"] });
		socket.send({ type: "send", id: "2", text: "x" });
		expect(await socket.frame("error", (e) => e.id === "2")).toMatchObject({ code: "banned" });
	});

	it("deletes over the socket and answers a repeat with the first retract", async ({ expect }) => {
		const room = freshRoom();
		const socket = await join(room, "guest=a");
		socket.send({ type: "send", id: "1", text: "oops" });
		const ack = await socket.frame("ack");
		socket.send({ type: "delete", msgId: ack.msgId });
		const retract = await socket.frame("retract");
		expect(retract).toMatchObject({ seq: 2, msgId: ack.msgId, reason: "deleted" });
		expect(await socket.frame("deleted")).toEqual({ type: "deleted", msgId: ack.msgId, seq: 2 });
		socket.send({ type: "delete", msgId: ack.msgId });
		await socket.until((frames) => frames.filter((f) => typeof f !== "string" && f.type === "deleted").length === 2);
		expect(socket.ofType("deleted")[1]).toEqual({ type: "deleted", msgId: ack.msgId, seq: 2 });
		socket.send({ type: "delete", msgId: "77-abcdefabcd" });
		expect(await socket.frame("error")).toMatchObject({ code: "not_found" });
		expect(socket.ofType("retract")).toHaveLength(1);
		const other = await join(room, "guest=b");
		other.send({ type: "send", id: "1", text: "mine" });
		const theirs = await other.frame("ack");
		socket.send({ type: "delete", msgId: theirs.msgId });
		expect(await socket.frame("error", (e) => e.code === "forbidden")).toBeTruthy();
	});
});

describe("limits", () => {
	it("rate-limits a socket beyond its burst with retryAfterMs", async ({ expect }) => {
		const socket = await join(freshRoom(), "guest=a");
		for (let i = 0; i < 30; i++) socket.send({ type: "send", id: `r${i}`, text: "x" });
		const limited = await socket.frame("error", (e) => e.code === "rate_limited");
		expect(limited.retryAfterMs).toBeGreaterThan(0);
		await socket.until(
			(frames) => frames.filter((f) => typeof f !== "string" && (f.type === "ack" || f.type === "error")).length === 30,
		);
		// The burst of 20, less what opening the socket cost (SOCKET_OPEN_COST).
		expect(socket.ofType("ack").length).toBeGreaterThanOrEqual(20 - SOCKET_OPEN_COST);
		expect(socket.ofType("ack").length).toBeLessThan(30);
	});

	it("closes a socket with 1008 after sustained refused frames", async ({ expect }) => {
		const socket = await join(freshRoom(), "guest=a");
		for (let i = 0; i < 60; i++) socket.send("{bad");
		expect((await socket.waitClosed()).code).toBe(1008);
		expect(socket.ofType("error").length).toBe(50);
	});

	it("answers ping with pong", async ({ expect }) => {
		const socket = await join(freshRoom(), "guest=a");
		socket.send("ping");
		await socket.until((frames) => frames.includes("pong"));
		expect(socket.ofType("error")).toEqual([]);
	});
});

describe("durability", () => {
	it("keeps events, seqs, dedup and sockets across eviction", async ({ expect }) => {
		const room = freshRoom();
		const socket = await join(room, "guest=a");
		socket.send({ type: "send", id: "1", text: "before" });
		const first = await socket.frame("ack");
		await evictDurableObject(env.ROOM.getByName(room));
		socket.send({ type: "send", id: "1", text: "before" });
		expect(await socket.frame("ack", (a) => a.duplicate)).toEqual({ ...first, duplicate: true });
		socket.send({ type: "send", id: "2", text: "after" });
		expect(await socket.frame("ack", (a) => a.id === "2")).toMatchObject({ seq: 2 });
		const resumed = await join(room, "guest=b&since=1");
		expect(resumed.ofType("message").map((m) => m.text)).toEqual(["after"]);
	});

	it("applies each migration once and upgrades an old room in place", async ({ expect }) => {
		const stub = env.ROOM.getByName(freshRoom());
		await stub.events({ after: 0, limit: 1 });
		await evictDurableObject(stub);
		const recorded = await runInDurableObject(stub, (_instance, state) =>
			state.storage.sql.exec("SELECT version, name FROM _migrations").toArray(),
		);
		expect(recorded).toEqual(MIGRATIONS.map(({ version, name }) => ({ version, name })));
		const upgraded = await runInDurableObject(stub, (_instance, state) => {
			const next = [...MIGRATIONS, { version: 999, name: "test_added", sql: "CREATE TABLE added (x INTEGER)" }];
			return [applyMigrations(state.storage, next), applyMigrations(state.storage, next)];
		});
		expect(upgraded).toEqual([[999], []]);
	});

	it("leaves an idle room with no alarm set", async ({ expect }) => {
		const room = freshRoom();
		const socket = await join(room, "guest=a");
		socket.send({ type: "send", id: "1", text: "x" });
		await socket.frame("ack");
		// The author's first message is registered with the author directory; then nothing is due.
		const alarm = await vi.waitUntil(
			async () =>
				(await runInDurableObject(env.ROOM.getByName(room), (_instance, state) => state.storage.getAlarm())) === null
					? "none"
					: undefined,
			{ timeout: 5000, interval: 20 },
		);
		expect(alarm).toBe("none");
		socket.send({ type: "send", id: "2", text: "y" });
		await socket.frame("ack", (a) => a.id === "2");
		expect(await runInDurableObject(env.ROOM.getByName(room), (_instance, state) => state.storage.getAlarm())).toBeNull();
	});
});

describe("dedup window", () => {
	it("is pruned by the room after the window, not before", async ({ expect }) => {
		const room = freshRoom();
		const stub = env.ROOM.getByName(room);
		await stub.post(writer, { id: "old", text: "x" }, "t".repeat(32));
		// A day and more later (the window is 25 h), the next write prunes: the old id is
		// forgotten, so it may be used again.
		await advanceClock(stub, 26 * 3600 * 1000);
		await stub.post(writer, { id: "new", text: "y" }, "t".repeat(32));
		const again = await stub.post(writer, { id: "old", text: "z" }, "t".repeat(32));
		expect(again).toMatchObject({ ok: true, value: { duplicate: false, seq: 3 } });
		const recent = await stub.post(writer, { id: "new", text: "y" }, "t".repeat(32));
		expect(recent).toMatchObject({ ok: true, value: { duplicate: true, seq: 2 } });
	});
});
