/**
 * The v1.3 chat features of the client, against the scripted fake room: edits and reactions go
 * through the same outbox as sends (ids, dedup, `after` order, storage, refusals); typing and
 * read markers are ephemeral, throttled and coalesced; the new room events arrive once, in seq
 * order, with gaps filled over HTTP; search and edit history are HTTP calls with the usual
 * credential rules.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { memoryStorage } from "../../client/index.ts";
import type { ParleyClientOptions, ReadState } from "../../client/index.ts";
import type { ClientFrame, RoomEvent, RoomLimits, ServerFrame, WelcomeFrame } from "../../src/protocol.ts";
import { READ_COALESCE_MS, TYPING_INTERVAL_MS } from "../../src/protocol.ts";
import { type FakeSocket, type Harness, harness, message, page, welcome } from "../support/fake-room.ts";

const LIMITS: RoomLimits = { maxFrameBytes: 32_768, maxMessageChars: 4000, ratePerSec: 0, burst: 0 };

async function live(h: Harness, index = 0, extra: Partial<WelcomeFrame> = {}, lastSeq = 0): Promise<FakeSocket> {
	const connected = h.client.connect();
	const socket = await h.socket(index);
	socket.open();
	// A v1.3 server: its welcome carries the read marker.
	socket.push({ ...(welcome(lastSeq) as WelcomeFrame), limits: LIMITS, read: { seq: 0, unread: 0 }, ...extra });
	// The replay: what the room has (again, after a reconnect; the client drops repeats).
	for (let seq = 1; seq <= lastSeq; seq++) socket.push(message(seq) as ServerFrame);
	socket.push({ type: "synced", through: lastSeq });
	await connected;
	return socket;
}

/** Every frame the client wrote on a socket (pings aside), of any type. */
const frames = (socket: FakeSocket): ClientFrame[] =>
	socket.sent.filter((data) => data !== "ping").map((data) => JSON.parse(data) as ClientFrame);
const outbox = (socket: FakeSocket): Array<[string, string, string | undefined]> =>
	frames(socket).flatMap((f) => (f.type === "send" || f.type === "edit" || f.type === "react" ? [[f.type, f.id, f.after]] : []));
const ack = (id: string, seq: number, duplicate = false): ServerFrame => ({
	type: "ack",
	id,
	seq,
	msgId: `m-${id}`,
	traceId: "t",
	duplicate,
});
const bob = { id: "guest:bob", name: "bob" };

afterEach(() => {
	vi.useRealTimers();
});

describe("edits and reactions share the outbox with sends", () => {
	it("writes an edit typed right after a send behind it, chained by `after`, and resolves each with its ack", async () => {
		const h = harness();
		const socket = await live(h);
		const sent = h.client.send("helo", { id: "s1" });
		const edited = h.client.edit("msg-9", "hello", { id: "e1" });
		const reacted = h.client.react("msg-9", "👍", { id: "r1" });
		const unreacted = h.client.unreact("msg-9", "👍", { id: "r2" });
		expect(frames(socket)).toEqual([
			{ type: "send", id: "s1", text: "helo" },
			{ type: "edit", id: "e1", msgId: "msg-9", text: "hello", after: "s1" },
			{ type: "react", id: "r1", msgId: "msg-9", emoji: "👍", after: "e1" },
			{ type: "react", id: "r2", msgId: "msg-9", emoji: "👍", remove: true, after: "r1" },
		]);
		expect(h.client.pending).toBe(4);
		expect(h.client.outgoing()).toEqual([{ id: "s1", text: "helo" }]);
		expect(h.client.pendingChanges()).toEqual([
			{ kind: "edit", id: "e1", msgId: "msg-9", text: "hello" },
			{ kind: "react", id: "r1", msgId: "msg-9", emoji: "👍", remove: false },
			{ kind: "react", id: "r2", msgId: "msg-9", emoji: "👍", remove: true },
		]);
		socket.push(ack("s1", 1));
		socket.push(ack("e1", 2));
		socket.push(ack("r1", 3, true));
		socket.push(ack("r2", 4));
		await expect(sent).resolves.toMatchObject({ seq: 1 });
		await expect(edited).resolves.toMatchObject({ seq: 2, duplicate: false });
		await expect(reacted).resolves.toMatchObject({ seq: 3, duplicate: true });
		await expect(unreacted).resolves.toMatchObject({ seq: 4 });
		expect(h.client.pending).toBe(0);
	});

	it("never lets an edit overtake a rate-limited send: it comes back and goes out behind it", async () => {
		const h = harness();
		const socket = await live(h);
		const sent = h.client.send("first", { id: "s1" });
		const edited = h.client.edit("msg-1", "changed", { id: "e1" });
		socket.push({ type: "error", code: "rate_limited", message: "slow", retryAfterMs: 40, id: "s1" });
		socket.push({ type: "error", code: "out_of_order", message: "s1 first", id: "e1" });
		await vi.waitFor(() => expect(outbox(socket)).toHaveLength(4), { timeout: 2000 });
		expect(outbox(socket).slice(2)).toEqual([
			["send", "s1", undefined],
			["edit", "e1", "s1"],
		]);
		socket.push(ack("s1", 1));
		socket.push(ack("e1", 2));
		expect((await Promise.all([sent, edited])).map((r) => r.seq)).toEqual([1, 2]);
	});

	it("paces edits and reactions with the sends, under the room's rate", async () => {
		const h = harness({ maxInFlight: 100 });
		const connected = h.client.connect();
		const socket = await h.socket(0);
		socket.open();
		socket.push({ ...(welcome(0) as WelcomeFrame), limits: { ...LIMITS, ratePerSec: 50, burst: 10 }, read: { seq: 0, unread: 0 } });
		socket.push({ type: "synced", through: 0 });
		await connected;
		const started = Date.now();
		for (let i = 0; i < 6; i++) {
			void h.client.send(`m${i}`, { id: `s${i}` }).catch(() => undefined);
			void h.client.edit(`msg-${i}`, `e${i}`, { id: `e${i}` }).catch(() => undefined);
			void h.client.react(`msg-${i}`, "👍", { id: `r${i}` }).catch(() => undefined);
		}
		// Half of 80 % of the burst at once, then 40 a second: one bucket for all three kinds.
		expect(outbox(socket)).toHaveLength(4);
		await vi.waitFor(() => expect(outbox(socket)).toHaveLength(18), { timeout: 3000 });
		expect(Date.now() - started).toBeGreaterThanOrEqual(300);
		expect(outbox(socket).map(([, id]) => id)).toEqual(Array.from({ length: 6 }, (_, i) => [`s${i}`, `e${i}`, `r${i}`]).flat());
	});

	it("rejects an edit or reaction refused for good with the server's code, never retries it, and goes on", async () => {
		const h = harness();
		const socket = await live(h);
		const theirs = h.client.edit("msg-1", "mine now", { id: "e1" });
		const tooMany = h.client.react("msg-1", "🦄", { id: "r1" });
		const next = h.client.send("still here", { id: "s1" });
		socket.push({ type: "error", code: "forbidden", message: "not your message", id: "e1" });
		socket.push({ type: "error", code: "conflict", message: "20 reactions already", id: "r1" });
		await expect(theirs).rejects.toMatchObject({ code: "forbidden", id: "e1" });
		await expect(tooMany).rejects.toMatchObject({ code: "conflict", id: "r1" });
		socket.push(ack("s1", 1));
		await expect(next).resolves.toMatchObject({ seq: 1 });
		expect(outbox(socket).map(([, id]) => id)).toEqual(["e1", "r1", "s1"]);
	});

	it("refuses at once what the server would refuse: not an emoji, an edit over the limit", async () => {
		const h = harness();
		const socket = await live(h);
		await expect(h.client.react("msg-1", "lol")).rejects.toMatchObject({ code: "bad_request" });
		await expect(h.client.edit("msg-1", "x".repeat(4001))).rejects.toMatchObject({ code: "too_large" });
		await expect(h.client.send("hi", { replyTo: "" })).rejects.toMatchObject({ code: "bad_request" });
		expect(frames(socket)).toEqual([]);
	});

	it("sends a reply with its `replyTo`, and joins a repeated id instead of queueing it twice", async () => {
		const h = harness();
		const socket = await live(h);
		const first = h.client.send("yes", { id: "s1", replyTo: "msg-3" });
		const again = h.client.send("yes", { id: "s1", replyTo: "msg-3" });
		const edit = h.client.edit("msg-3", "x", { id: "e1" });
		const editAgain = h.client.edit("msg-3", "x", { id: "e1" });
		expect(frames(socket)).toEqual([
			{ type: "send", id: "s1", text: "yes", replyTo: "msg-3" },
			{ type: "edit", id: "e1", msgId: "msg-3", text: "x", after: "s1" },
		]);
		socket.push(ack("s1", 4));
		socket.push(ack("e1", 5));
		expect((await Promise.all([first, again, edit, editAgain])).map((r) => r.seq)).toEqual([4, 4, 5, 5]);
	});

	it("resends unacked edits and reactions after a reconnect with the same ids, in order", async () => {
		const h = harness();
		const first = await live(h);
		const sent = h.client.send("a", { id: "s1" });
		const edited = h.client.edit("msg-1", "b", { id: "e1" });
		first.close(1006, "gone");
		const second = await live(h, 1);
		expect(outbox(second)).toEqual([
			["send", "s1", undefined],
			["edit", "e1", "s1"],
		]);
		second.push(ack("s1", 1, true));
		second.push(ack("e1", 2));
		await expect(sent).resolves.toMatchObject({ duplicate: true });
		await expect(edited).resolves.toMatchObject({ seq: 2 });
	});

	it("keeps unsent edits and reactions in storage beside sends, and a restart sends them in order", async () => {
		const storage = memoryStorage();
		const options: Partial<ParleyClientOptions> = { storage };
		const before = harness(options);
		before.client.connect().catch(() => undefined);
		for (const queued of [
			before.client.send("one", { id: "s1" }),
			before.client.edit("msg-1", "uno", { id: "e1" }),
			before.client.react("msg-1", ":tada:", { id: "r1" }),
		])
			void queued.catch(() => undefined);
		await vi.waitFor(() => expect(JSON.parse([...storage.data.values()][0] ?? "[]")).toHaveLength(3));
		before.client.close();

		const after = harness(options);
		const restored: unknown[] = [];
		after.client.on("restored", (sends) => restored.push(sends));
		const socket = await live(after);
		expect(restored).toEqual([[{ id: "s1", text: "one" }]]);
		expect(frames(socket)).toEqual([
			{ type: "send", id: "s1", text: "one" },
			{ type: "edit", id: "e1", msgId: "msg-1", text: "uno", after: "s1" },
			{ type: "react", id: "r1", msgId: "msg-1", emoji: ":tada:", after: "e1" },
		]);
		for (const [i, id] of ["s1", "e1", "r1"].entries()) socket.push(ack(id, i + 1));
		await vi.waitFor(() => expect([...storage.data.values()]).toEqual([]));
	});

	it("loads a queue saved before v1.3 (plain sends) and keeps entries it does not know when it writes", async () => {
		const storage = memoryStorage();
		const key = "parley.outbox:parley.test:lobby:guest:alice";
		await storage.set(
			key,
			JSON.stringify([
				{ id: "old", text: "from v1.1" },
				{ id: "future", poll: { q: "?" } },
			]),
		);
		const h = harness({ storage });
		const socket = await live(h);
		expect(frames(socket)).toEqual([{ type: "send", id: "old", text: "from v1.1" }]);
		socket.push(ack("old", 1));
		await vi.waitFor(() => expect(JSON.parse(storage.data.get(key) ?? "[]")).toEqual([{ id: "future", poll: { q: "?" } }]));
	});
});

describe("typing", () => {
	it("writes at most one frame per interval, only while live, and never queues one", async () => {
		vi.useFakeTimers({ toFake: ["Date"] });
		const h = harness();
		expect(h.client.typing()).toBe(false);
		const socket = await live(h);
		expect(h.client.typing()).toBe(true);
		expect(h.client.typing()).toBe(false);
		vi.setSystemTime(Date.now() + TYPING_INTERVAL_MS - 1);
		expect(h.client.typing()).toBe(false);
		vi.setSystemTime(Date.now() + 1);
		expect(h.client.typing()).toBe(true);
		expect(frames(socket)).toEqual([{ type: "typing" }, { type: "typing" }]);
		h.client.suspend();
		vi.setSystemTime(Date.now() + TYPING_INTERVAL_MS);
		expect(h.client.typing()).toBe(false);
		h.client.resume();
		const next = await h.socket(1);
		next.open();
		next.push(welcome(0));
		next.push({ type: "synced", through: 0 });
		await vi.waitFor(() => expect(h.client.state).toBe("live"));
		expect(frames(next)).toEqual([]);
		expect(h.client.pending).toBe(0);
	});

	it("sends no typing or read frames to a server that predates them (no `read` in its welcome)", async () => {
		const h = harness();
		const connected = h.client.connect();
		const socket = await h.socket(0);
		socket.open();
		socket.push({ ...(welcome(1) as WelcomeFrame), limits: LIMITS });
		socket.push(message(1) as ServerFrame);
		socket.push({ type: "synced", through: 1 });
		await connected;
		expect(h.client.typing()).toBe(false);
		h.client.markRead(1);
		expect(h.client.readState.seq).toBe(1);
		expect(frames(socket)).toEqual([]);
	});

	it("passes on others' typing frames", async () => {
		const h = harness();
		const socket = await live(h);
		const heard: string[] = [];
		h.client.on("typing", (frame) => heard.push(frame.user.name));
		socket.push({ type: "typing", user: bob });
		expect(heard).toEqual(["bob"]);
	});
});

describe("read markers", () => {
	const reads = (socket: FakeSocket): number[] => frames(socket).flatMap((f) => (f.type === "read" ? [f.seq] : []));

	it("writes the first at once, then coalesces to one frame per window carrying the latest seq; never backwards", async () => {
		vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
		const h = harness();
		const connected = h.client.connect();
		await vi.advanceTimersByTimeAsync(0);
		const socket = h.sockets[0] as FakeSocket;
		socket.open();
		socket.push({ ...(welcome(10) as WelcomeFrame), read: { seq: 0, unread: 0 } });
		for (let seq = 1; seq <= 10; seq++) socket.push(message(seq) as ServerFrame);
		socket.push({ type: "synced", through: 10 });
		await connected;
		h.client.markRead(3);
		expect(reads(socket)).toEqual([3]);
		h.client.markRead(5);
		h.client.markRead(8);
		h.client.markRead(4);
		expect(reads(socket)).toEqual([3]);
		await vi.advanceTimersByTimeAsync(READ_COALESCE_MS);
		expect(reads(socket)).toEqual([3, 8]);
		h.client.markRead(8);
		h.client.markRead(2);
		await vi.advanceTimersByTimeAsync(READ_COALESCE_MS * 2);
		expect(reads(socket)).toEqual([3, 8]);
		// Capped at what was delivered: nobody has read seq 50 yet.
		h.client.markRead(50);
		await vi.advanceTimersByTimeAsync(READ_COALESCE_MS);
		expect(reads(socket)).toEqual([3, 8, 10]);
		expect(h.client.readState.seq).toBe(10);
	});

	it("resends the marker after a reconnect only when the welcome shows it did not arrive", async () => {
		const h = harness();
		const first = await live(h, 0, { read: { seq: 0, unread: 2 } }, 2);
		h.client.markRead(2);
		expect(reads(first)).toEqual([2]);
		first.close(1006, "gone");
		// The frame was lost with the socket: the welcome shows the old marker, so it is written again, once the window allows.
		const second = await live(h, 1, { read: { seq: 0, unread: 2 } }, 2);
		await vi.waitFor(() => expect(reads(second)).toEqual([2]), { timeout: READ_COALESCE_MS + 2000 });
		second.close(1006, "gone");
		const third = await live(h, 2, { read: { seq: 2, unread: 0 } }, 2);
		// Past the window in which a resend would have been written.
		await new Promise((resolve) => setTimeout(resolve, READ_COALESCE_MS + 100));
		expect(reads(third)).toEqual([]);
		expect(h.client.readState).toEqual({ seq: 2, unread: 0 });
	}, 15_000);

	it("takes the marker and unread count from the welcome, counts new messages by others, and follows other tabs", async () => {
		const h = harness();
		const states: ReadState[] = [];
		h.client.on("read", (state) => states.push(state));
		const socket = await live(h, 0, { read: { seq: 4, unread: 3 }, receipts: [{ user: bob, seq: 6 }] }, 7);
		expect(h.client.readState).toEqual({ seq: 4, unread: 3 });
		expect(h.client.receipts).toEqual([{ user: bob, seq: 6 }]);
		socket.push(message(8) as ServerFrame);
		socket.push({ ...(message(9) as ServerFrame), author: { id: "guest:alice", name: "alice" } } as ServerFrame);
		expect(h.client.readState).toEqual({ seq: 4, unread: 4 });
		// Another tab of ours read up to 8; bob read up to 9.
		socket.push({ type: "receipt", user: { id: "guest:alice", name: "alice" }, seq: 8 });
		socket.push({ type: "receipt", user: bob, seq: 9 });
		socket.push({ type: "receipt", user: bob, seq: 5 });
		expect(h.client.readState).toEqual({ seq: 8, unread: 0 });
		expect(h.client.receipts).toEqual([{ user: bob, seq: 9 }]);
		expect(states.at(-1)).toEqual({ seq: 8, unread: 0 });
		// What another tab marked is not written again from here.
		h.client.markRead(8);
		expect(frames(socket).filter((f) => f.type === "read")).toEqual([]);
	});
});

describe("the new room events", () => {
	const edited = (seq: number, of: number): RoomEvent => ({
		type: "message.edited",
		seq,
		msgId: `msg-${of}`,
		text: `edit ${seq}`,
		editedAt: seq,
		ts: seq,
		traceId: "t",
	});
	const reaction = (seq: number, of: number, type: "reaction.added" | "reaction.removed" = "reaction.added"): RoomEvent => ({
		type,
		seq,
		msgId: `msg-${of}`,
		emoji: "👍",
		user: bob,
		ts: seq,
		traceId: "t",
	});

	it("delivers edits and reactions once, in seq order, and fills a gap in them over HTTP", async () => {
		const h = harness({}, (url) => (url.pathname.endsWith("/events") ? page([edited(2, 1), reaction(3, 1)], 4) : page([], 0)));
		const socket = await live(h);
		const seen: string[] = [];
		h.client.on("message", (m) => seen.push(`message ${m.seq}`));
		h.client.on("edit", (e) => seen.push(`edit ${e.seq}`));
		h.client.on("reaction", (r) => seen.push(`${r.type} ${r.seq}`));
		socket.push(message(1) as ServerFrame);
		socket.push(reaction(4, 1, "reaction.removed") as ServerFrame);
		await vi.waitFor(() => expect(seen).toHaveLength(4));
		socket.push(edited(2, 1) as ServerFrame);
		socket.push(reaction(4, 1, "reaction.removed") as ServerFrame);
		expect(seen).toEqual(["message 1", "edit 2", "reaction.added 3", "reaction.removed 4"]);
		expect(h.requests.map((url) => url.searchParams.get("after"))).toEqual(["1"]);
	});

	it("marks replayed and paged messages with the head their reaction counts were taken at", async () => {
		const counted = { ...(message(2) as ServerFrame), reactions: [{ emoji: "👍", count: 1, mine: false }] } as ServerFrame;
		const h = harness({}, () => page([counted as RoomEvent], 9));
		const connected = h.client.connect();
		const socket = await h.socket(0);
		socket.open();
		socket.push({ ...(welcome(5) as WelcomeFrame), limits: LIMITS });
		const delivered: Array<number | undefined> = [];
		h.client.on("message", (m) => delivered.push(m.reactionsAt));
		for (let seq = 1; seq <= 4; seq++) socket.push(message(seq) as ServerFrame);
		socket.push({ ...counted, seq: 5, msgId: "msg-5" } as ServerFrame);
		socket.push({ type: "synced", through: 5 });
		await connected;
		expect(delivered).toEqual([undefined, undefined, undefined, undefined, 5]);
		const older = await h.client.history({ before: 4, limit: 10 });
		expect(older.events[0]).toMatchObject({ seq: 2, reactionsAt: 9 });
	});
});

describe("search and edit history", () => {
	it("asks the room's search and edits routes, with the token, and asks for a fresh token once after a 401", async () => {
		let tokens = 0;
		const seen: Array<{ path: string; q: string | null; before: string | null }> = [];
		const h = harness({ guest: undefined, token: () => `t${++tokens}` }, (url) => {
			seen.push({ path: url.pathname, q: url.searchParams.get("q"), before: url.searchParams.get("before") });
			if (tokens < 2) return Response.json({ error: { code: "unauthorized", message: "expired" } }, { status: 401 });
			if (url.pathname.endsWith("/search")) return Response.json({ room: "lobby", q: "café crème", results: [], before: 3 });
			return Response.json({ room: "lobby", msgId: "msg-1", versions: [{ seq: 1, text: "a", at: 1 }] });
		});
		await expect(h.client.search("café crème", { before: 10, limit: 5 })).resolves.toMatchObject({ before: 3 });
		await expect(h.client.editHistory("msg/1")).resolves.toMatchObject({ versions: [{ text: "a" }] });
		expect(seen).toEqual([
			{ path: "/v1/rooms/lobby/search", q: "café crème", before: "10" },
			{ path: "/v1/rooms/lobby/search", q: "café crème", before: "10" },
			{ path: "/v1/rooms/lobby/messages/msg%2F1/edits", q: null, before: null },
		]);
	});

	it("rejects with the server's code", async () => {
		const h = harness({}, () => Response.json({ error: { code: "bad_request", message: "`q` is empty" } }, { status: 400 }));
		await expect(h.client.search("")).rejects.toMatchObject({ code: "bad_request", status: 400 });
	});
});
