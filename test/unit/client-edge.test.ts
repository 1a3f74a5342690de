/**
 * The client edge, against the scripted fake room: what the library does with a send between
 * `send()` and the ack. Limits are checked before anything is written; refusals are sorted
 * into for-good and try-again; one sender's order survives rate limits; writes are paced;
 * tokens come from a provider; unsent messages survive in storage.
 */
import { describe, expect, it, vi } from "vitest";
import { memoryStorage, ParleyClientError } from "../../client/index.ts";
import type { ParleyClientOptions, PendingSend } from "../../client/index.ts";
import { V1_LIMITS } from "../../client/send-rules.ts";
import type { RoomLimits, ServerFrame } from "../../src/protocol.ts";
import { type FakeSocket, type Harness, harness, page, welcome } from "../support/fake-room.ts";

const LIMITS: RoomLimits = { maxFrameBytes: 32_768, maxMessageChars: 4000, ratePerSec: 0, burst: 0 };

/** Connects the harness's client and welcomes it with `limits` (null: a welcome without them, as from a v1 server). */
async function live(h: Harness, limits: RoomLimits | null = LIMITS, index = 0): Promise<FakeSocket> {
	const connected = h.client.connect();
	const socket = await h.socket(index);
	socket.open();
	socket.push(limits === null ? welcome(0) : { ...(welcome(0) as Extract<ServerFrame, { type: "welcome" }>), limits });
	socket.push({ type: "synced", through: 0 });
	await connected;
	return socket;
}

const ack = (id: string, seq: number): ServerFrame => ({ type: "ack", id, seq, msgId: `m-${id}`, traceId: "t", duplicate: false });
const written = (socket: FakeSocket): string[] => socket.frames().map((f) => f.id);

describe("limits, before anything is written", () => {
	it("rejects a 20,000-char send at once with too_large, writes nothing, and the next send goes", async () => {
		const h = harness();
		const socket = await live(h);
		await expect(h.client.send("Z".repeat(20_000), { id: "poison" })).rejects.toMatchObject({ code: "too_large", id: "poison" });
		expect(written(socket)).toEqual([]);
		expect(h.client.pending).toBe(0);
		const next = h.client.send("hello", { id: "next" });
		expect(written(socket)).toEqual(["next"]);
		socket.push(ack("next", 1));
		await expect(next).resolves.toMatchObject({ seq: 1 });
		expect(h.sockets).toHaveLength(1);
	});

	it("counts the frame in UTF-8 bytes as escaped on the wire, not in characters", async () => {
		const h = harness();
		await live(h, { ...LIMITS, maxFrameBytes: 3000 });
		// 400 characters, but 6 bytes each once JSON escapes them.
		const error = h.client.check("\u0001".repeat(480));
		expect(error).toBeInstanceOf(ParleyClientError);
		expect(error?.code).toBe("too_large");
		expect(h.client.check("a".repeat(480))).toBeUndefined();
	});

	it("uses the contract's defaults before the first welcome, and the v1 limits from a server that does not say", async () => {
		const h = harness();
		expect(h.client.limits).toEqual({ maxFrameBytes: 32_768, maxMessageChars: 4000, ratePerSec: 10, burst: 20 });
		await live(h, null);
		expect(h.client.limits).toEqual(V1_LIMITS);
	});

	it("rejects a queued send that a smaller limit in the welcome no longer allows, and sends the rest", async () => {
		const h = harness();
		const big = h.client.send("b".repeat(3000), { id: "big" });
		const small = h.client.send("small", { id: "small" });
		const socket = await live(h, { ...LIMITS, maxMessageChars: 100 });
		await expect(big).rejects.toMatchObject({ code: "too_large", id: "big" });
		expect(written(socket)).toEqual(["small"]);
		socket.push(ack("small", 1));
		await expect(small).resolves.toMatchObject({ seq: 1 });
	});

	it("refuses blank and white-space-only text at once", async () => {
		const h = harness();
		await expect(h.client.send("")).rejects.toMatchObject({ code: "bad_request" });
		await expect(h.client.send("  \n\t ")).rejects.toMatchObject({ code: "bad_request" });
		expect(h.client.pending).toBe(0);
	});
});

describe("refusals", () => {
	it.each(["bad_request", "too_large", "forbidden", "banned", "read_only"] as const)(
		"rejects and drops a send refused with %s, and later sends are unaffected",
		async (code) => {
			const h = harness();
			const socket = await live(h);
			const doomed = h.client.send("one", { id: "a" });
			const fine = h.client.send("two", { id: "b" });
			socket.push({ type: "error", code, message: "no", id: "a" });
			await expect(doomed).rejects.toMatchObject({ code, id: "a" });
			socket.push(ack("b", 1));
			await expect(fine).resolves.toMatchObject({ seq: 1 });
			expect(h.client.pending).toBe(0);
			expect(written(socket)).toEqual(["a", "b"]);
		},
	);

	it("keeps one sender's order when an earlier send is rate-limited: later ones come back and go out behind it", async () => {
		const h = harness();
		const socket = await live(h);
		const sends = ["a", "b", "c", "d"].map((id) => h.client.send(id, { id }));
		expect(socket.frames().map((f) => [f.id, f.after])).toEqual([
			["a", undefined],
			["b", "a"],
			["c", "b"],
			["d", "c"],
		]);
		socket.push(ack("a", 1));
		socket.push({ type: "error", code: "rate_limited", message: "slow", retryAfterMs: 60, id: "b" });
		socket.push({ type: "error", code: "out_of_order", message: "b first", id: "c" });
		socket.push({ type: "error", code: "out_of_order", message: "b first", id: "d" });
		await vi.waitFor(() => expect(written(socket)).toHaveLength(7), { timeout: 2000 });
		expect(
			socket
				.frames()
				.slice(4)
				.map((f) => [f.id, f.after]),
		).toEqual([
			["b", undefined],
			["c", "b"],
			["d", "c"],
		]);
		socket.push(ack("b", 2));
		socket.push(ack("c", 3));
		socket.push(ack("d", 4));
		expect((await Promise.all(sends)).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
	});

	it("retries a send refused as internal a few times, then gives up on it", async () => {
		const h = harness();
		const socket = await live(h);
		const sent = h.client.send("x", { id: "x" });
		for (let i = 1; ; i++) {
			await vi.waitFor(() => expect(written(socket)).toHaveLength(i), { timeout: 3000 });
			socket.push({ type: "error", code: "internal", message: "boom", id: "x" });
			if (i > 5) break;
		}
		await expect(sent).rejects.toMatchObject({ code: "internal" });
	}, 15_000);
});

describe("pacing", () => {
	it("writes a burst no larger than the room allows, then keeps to its rate", async () => {
		const h = harness({ maxInFlight: 100 });
		const socket = await live(h, { ...LIMITS, ratePerSec: 50, burst: 10 });
		const started = Date.now();
		for (let i = 0; i < 20; i++) void h.client.send(`m${i}`, { id: `m${i}` }).catch(() => undefined);
		// Half of 80 % of the advertised burst at once (the room's bucket is per user and may be
		// partly spent), then 80 % of the rate: 40 a second.
		expect(written(socket)).toHaveLength(4);
		await vi.waitFor(() => expect(written(socket)).toHaveLength(20), { timeout: 3000 });
		expect(Date.now() - started).toBeGreaterThanOrEqual(250);
		expect(written(socket)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
	});

	it("reports the queue held while it waits for its pace", async () => {
		const h = harness({ maxInFlight: 100 });
		const socket = await live(h, { ...LIMITS, ratePerSec: 5, burst: 2 });
		const held: number[] = [];
		h.client.on("queue", (q) => held.push(q.heldUntil));
		for (let i = 0; i < 3; i++) void h.client.send(`m${i}`, { id: `m${i}` }).catch(() => undefined);
		expect(written(socket)).toHaveLength(1);
		expect(held.some((until) => until > Date.now())).toBe(true);
	});
});

describe("tokens from a provider", () => {
	it("asks the provider on every connect, and reconnects at once with a fresh token when the socket's expires", async () => {
		let n = 0;
		const tokens: string[] = [];
		const h = harness({ guest: undefined, token: () => `token-${++n}` });
		const first = await live(h);
		const sent = h.client.send("hi", { id: "hi" });
		first.close(4001, "token expired");
		const second = await live(h, LIMITS, 1);
		tokens.push(...h.sockets.map((s) => s.url.searchParams.get("token") ?? ""));
		expect(tokens).toEqual(["token-1", "token-2"]);
		expect(h.statuses.some((s) => s.state === "reconnecting")).toBe(false);
		expect(written(second)).toEqual(["hi"]);
		second.push(ack("hi", 1));
		await expect(sent).resolves.toMatchObject({ seq: 1 });
	});

	it("asks once more after a 401, and gives up only if the fresh token is refused too", async () => {
		const issued: string[] = [];
		const unauthorized = (): Response => Response.json({ error: { code: "unauthorized", message: "expired" } }, { status: 401 });
		const h = harness({ guest: undefined, token: async () => `t${issued.push("x")}` }, unauthorized);
		const connected = h.client.connect();
		(await h.socket(0)).refuse();
		await expect(connected).rejects.toMatchObject({ code: "unauthorized" });
		// One for the socket, one for the probe, one more after its 401.
		expect(issued.length).toBe(3);
		expect(h.client.state).toBe("unauthorized");
	});

	it("keeps going when the second token works", async () => {
		let calls = 0;
		const h = harness({ guest: undefined, token: () => `t${++calls}` }, (url) =>
			url.searchParams.size === 0 && calls < 3
				? Response.json({ error: { code: "unauthorized", message: "old" } }, { status: 401 })
				: page([], 0),
		);
		const connected = h.client.connect();
		(await h.socket(0)).refuse();
		const socket = await h.socket(1);
		socket.open();
		socket.push(welcome(0));
		socket.push({ type: "synced", through: 0 });
		await connected;
		expect(h.client.state).toBe("live");
	});
});

describe("a persistent outbox", () => {
	const options = (storage: ReturnType<typeof memoryStorage>): Partial<ParleyClientOptions> => ({ storage });

	it("keeps unsent messages across a restart of the app and sends them first, with their ids, exactly once", async () => {
		const storage = memoryStorage();
		const before = harness(options(storage));
		void before.client.send("one", { id: "1" }).catch(() => undefined);
		void before.client.send("two", { id: "2", crossPost: ["elsewhere"] }).catch(() => undefined);
		// The server never answers: the app is closed with both still unsent.
		before.client.connect().catch(() => undefined);
		await vi.waitFor(() => expect(storage.data.size).toBe(1));
		before.client.close();
		expect(storage.data.size).toBe(1);

		const after = harness(options(storage));
		const restored: PendingSend[][] = [];
		after.client.on("restored", (sends) => restored.push(sends));
		const fresh = after.client.send("three", { id: "3" });
		const socket = await live(after);
		expect(restored).toEqual([
			[
				{ id: "1", text: "one" },
				{ id: "2", text: "two", crossPost: ["elsewhere"] },
			],
		]);
		expect(written(socket)).toEqual(["1", "2", "3"]);
		const joined = after.client.send("one", { id: "1" });
		expect(written(socket)).toEqual(["1", "2", "3"]);
		for (const [i, id] of ["1", "2", "3"].entries()) socket.push(ack(id, i + 1));
		await expect(joined).resolves.toMatchObject({ seq: 1 });
		await expect(fresh).resolves.toMatchObject({ seq: 3 });
		await vi.waitFor(() => expect([...storage.data.values()]).toEqual([]));
	});

	it("keeps what two tabs of one user left unsent, each tab writing only its own", async () => {
		const storage = memoryStorage();
		const tabs = [harness(options(storage)), harness(options(storage))];
		for (const [t, tab] of tabs.entries()) {
			tab.client.connect().catch(() => undefined);
			void tab.client.send(`from tab ${t}`, { id: `tab${t}` }).catch(() => undefined);
		}
		await vi.waitFor(() => expect(JSON.parse([...storage.data.values()][0] ?? "[]")).toHaveLength(2));
		for (const tab of tabs) tab.client.close();
		const next = harness(options(storage));
		const socket = await live(next);
		expect(written(socket).sort()).toEqual(["tab0", "tab1"]);
	});

	it("keeps each user's outbox apart, and discards on request", async () => {
		const storage = memoryStorage();
		const alice = harness({ ...options(storage), guest: "alice" });
		void alice.client.send("from alice", { id: "a1" }).catch(() => undefined);
		alice.client.connect().catch(() => undefined);
		await vi.waitFor(() => expect(storage.data.size).toBe(1));
		const bob = harness({ ...options(storage), guest: "bob" });
		const restored: PendingSend[][] = [];
		bob.client.on("restored", (sends) => restored.push(sends));
		await live(bob);
		expect(restored).toEqual([]);
		alice.client.discardUnsent();
		await vi.waitFor(() => expect(storage.data.size).toBe(0));
	});
});

describe("a server that closes with 1009 anyway", () => {
	it("drops the frame that caused it instead of resending it forever", async () => {
		const h = harness();
		const socket = await live(h, null);
		const big = h.client.send("é".repeat(3000), { id: "big" });
		const small = h.client.send("ok", { id: "ok" });
		socket.close(1009, "frame too big");
		await expect(big).rejects.toMatchObject({ code: "too_large", id: "big" });
		const next = await live(h, null, 1);
		expect(written(next)).toEqual(["ok"]);
		next.push(ack("ok", 1));
		await expect(small).resolves.toMatchObject({ seq: 1 });
	});
});
