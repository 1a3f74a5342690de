/**
 * The client library against the real `wrangler dev`, through a TCP proxy that can cut, black-hole
 * or refuse connections. The property checked every time: a receiving client sees every message
 * sent before, during and after the trouble exactly once and in order, and the room's stored
 * history holds each exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ParleyClient } from "../../client/index.ts";
import type { ChatMessage, ParleyClientOptions, SendResult, StatusEvent } from "../../client/index.ts";
import type { EventsPage } from "../../src/protocol.ts";
import { mintToken } from "../../scripts/mint-token.ts";
import { type DevServer, startDevServer } from "../support/dev-server.ts";
import { TcpProxy } from "./tcp-proxy.ts";

let server: DevServer;
let proxy: TcpProxy;
const clients: ParleyClient[] = [];

beforeAll(async () => {
	server = await startDevServer();
	proxy = await TcpProxy.start(server.port);
});

afterAll(async () => {
	for (const client of clients) client.close();
	await proxy?.close();
	await server?.stop();
});

const freshRoom = (): string => `room-${crypto.randomUUID().slice(0, 8)}`;

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = probe();
		if (value !== undefined && value !== false) return value;
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
}

interface Observed {
	client: ParleyClient;
	messages: ChatMessage[];
	statuses: StatusEvent[];
}

function open(room: string, guest: string, options: Partial<ParleyClientOptions> = {}): Observed {
	const client = new ParleyClient({
		url: proxy.url,
		room,
		guest,
		backoff: { minMs: 100, maxMs: 1000, factor: 2 },
		heartbeatIntervalMs: 300,
		heartbeatTimeoutMs: 700,
		connectTimeoutMs: 5000,
		httpTimeoutMs: 5000,
		...options,
	});
	clients.push(client);
	const observed: Observed = { client, messages: [], statuses: [] };
	client.on("message", (message) => observed.messages.push(message));
	client.on("status", (status) => observed.statuses.push(status));
	return observed;
}

/** The room's whole stored history, read directly from the server (not through the proxy). */
async function storedHistory(room: string): Promise<EventsPage["events"]> {
	const events: EventsPage["events"] = [];
	for (;;) {
		const after = events.at(-1)?.seq ?? 0;
		const response = await fetch(`${server.url}/v1/rooms/${room}/events?after=${after}&limit=500&guest=auditor`);
		expect(response.status).toBe(200);
		const page = (await response.json()) as EventsPage;
		events.push(...page.events);
		if (page.events.length === 0 || (events.at(-1)?.seq ?? 0) >= page.lastSeq) return events;
	}
}

/** Every text arrived exactly once, in send order, with consecutive seqs, and is stored once. */
async function expectExactlyOnce(room: string, receiver: Observed, texts: string[]): Promise<void> {
	await waitFor(`${texts.length} messages at the receiver`, () => receiver.messages.length >= texts.length);
	// Give a late duplicate the chance to show up before asserting there is none.
	await new Promise((resolve) => setTimeout(resolve, 300));
	expect(receiver.messages.map((m) => m.text)).toEqual(texts);
	const seqs = receiver.messages.map((m) => m.seq);
	expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] ?? 0) + i));
	const stored = (await storedHistory(room)).filter((e) => e.type === "message").map((e) => (e.type === "message" ? e.text : ""));
	expect(stored).toEqual(texts);
}

describe("client library against wrangler dev", () => {
	it("survives a server-side close (runtime killed and restarted on the same state) without loss or doubles", async () => {
		const room = freshRoom();
		const bob = open(room, "bob");
		const alice = open(room, "alice", { random: () => 0.9999999 });
		await Promise.all([bob.client.connect(), alice.client.connect()]);

		const texts: string[] = [];
		const acks: Array<Promise<SendResult>> = [];
		const say = (text: string): void => {
			texts.push(text);
			acks.push(alice.client.send(text));
		};
		for (let i = 0; i < 10; i++) say(`before ${i}`);
		await Promise.all(acks);

		// Stream while the runtime dies: some sends are in flight, some acked, some unwritten.
		let streaming = true;
		const stream = (async () => {
			for (let i = 0; streaming; i++) {
				say(`during ${i}`);
				await new Promise((resolve) => setTimeout(resolve, 15));
			}
		})();
		await new Promise((resolve) => setTimeout(resolve, 150));
		proxy.setTarget(undefined);
		await server.kill();
		proxy.cutAll();
		await waitFor("alice to notice", () => alice.client.state === "reconnecting" || alice.client.state === "connecting");
		await new Promise((resolve) => setTimeout(resolve, 300));
		streaming = false;
		await stream;
		expect(alice.client.pending).toBeGreaterThan(0); // sends made while the server is down
		// Stay down long enough for the schedule to reach its ceiling (100+200+400+800 ms).
		await waitFor("backoff to reach its ceiling", () => alice.statuses.filter((s) => s.state === "reconnecting").length >= 5);

		server = await startDevServer({ persistTo: server.persistTo });
		proxy.setTarget(server.port);
		const results = await Promise.all(acks);
		for (let i = 0; i < 10; i++) say(`after ${i}`);
		await Promise.all(acks);
		await waitFor("bob live again", () => bob.client.state === "live");

		await expectExactlyOnce(room, bob, texts);
		expect(new Set(results.map((r) => r.msgId)).size).toBe(results.length);

		// Backoff grew while the server was down (jitter pinned to the top of the window)...
		const outage = alice.statuses.filter((s) => s.state === "reconnecting");
		expect(outage.length).toBeGreaterThanOrEqual(4);
		expect(outage.slice(0, 4).map((s) => s.delayMs)).toEqual([100, 200, 400, 800]);
		expect(Math.max(...outage.map((s) => s.delayMs ?? 0))).toBe(1000);
		// ...and starts over once the connection was up and synced.
		const before = alice.statuses.length;
		proxy.cutAll();
		await waitFor("alice live after a blip", () => alice.statuses.length > before && alice.client.state === "live");
		const blip = alice.statuses.slice(before).find((s) => s.state === "reconnecting");
		expect(blip).toMatchObject({ attempt: 1, delayMs: 100 });
	});

	it("detects half-open sockets with the heartbeat, resumes by seq and resends unacked sends once", async () => {
		const room = freshRoom();
		const bob = open(room, "bob");
		// Alice's heartbeat is slower, so on a loaded machine her frames are surely stored (checked
		// below) before she gives up on the socket: a frame the server never processed is simply
		// resent as new, which is correct but not what this case is about.
		const alice = open(room, "alice", { heartbeatTimeoutMs: 4000 });
		await Promise.all([bob.client.connect(), alice.client.connect()]);
		const texts: string[] = [];
		const say = (text: string): Promise<SendResult> => {
			texts.push(text);
			return alice.client.send(text);
		};
		await Promise.all([0, 1, 2].map((i) => say(`before ${i}`)));

		// Bob stops hearing anything; his socket still looks open. Alice keeps talking.
		expect(proxy.blackhole(new RegExp(`/rooms/${room}/ws\\?guest=bob[& ]`), "both")).toBe(1);
		const whileBobDeaf = await Promise.all([0, 1, 2, 3, 4].map((i) => say(`bob deaf ${i}`)));
		expect(whileBobDeaf.every((r) => !r.duplicate)).toBe(true);
		await waitFor("bob's heartbeat to fire", () => bob.statuses.some((s) => s.reason === "heartbeat timeout"));

		// Alice's frames reach the server but no answer comes back: stored, acks lost.
		expect(proxy.blackhole(new RegExp(`/rooms/${room}/ws\\?guest=alice[& ]`), "toClient")).toBe(1);
		const lostAcks = [0, 1, 2].map((i) => say(`acks lost ${i}`));
		const stored = async (): Promise<number> =>
			(await storedHistory(room)).filter((e) => e.type === "message" && e.text.startsWith("acks lost")).length;
		for (let n = await stored(); n < 3; n = await stored()) {
			expect(
				alice.statuses.some((s) => s.reason === "heartbeat timeout"),
				"alice's frames were stored before her heartbeat fired",
			).toBe(false);
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
		await waitFor("alice's heartbeat to fire", () => alice.statuses.some((s) => s.reason === "heartbeat timeout"));
		const resent = await Promise.all(lostAcks);
		// The server had them: the resends with the same ids were recognised, not stored again.
		expect(resent.map((r) => r.duplicate)).toEqual([true, true, true]);
		proxy.dropBlackholed();

		await Promise.all([0, 1, 2].map((i) => say(`after ${i}`)));
		await expectExactlyOnce(room, bob, texts);
	});

	it("queues sends made while offline and delivers each once after reconnecting", async () => {
		const room = freshRoom();
		const bob = open(room, "bob");
		const alice = open(room, "alice");
		await Promise.all([bob.client.connect(), alice.client.connect()]);
		await alice.client.send("online 0");

		proxy.setTarget(undefined);
		proxy.cutAll();
		await waitFor("alice offline", () => alice.client.state === "reconnecting");
		const offline = [0, 1, 2, 3, 4].map((i) => alice.client.send(`offline ${i}`));
		expect(alice.client.pending).toBe(5);
		await new Promise((resolve) => setTimeout(resolve, 500));
		expect(alice.client.pending).toBe(5);

		proxy.setTarget(server.port);
		const acked = await Promise.all(offline);
		expect(acked.map((r) => r.duplicate)).toEqual([false, false, false, false, false]);
		await alice.client.send("online 1");
		await expectExactlyOnce(room, bob, ["online 0", ...[0, 1, 2, 3, 4].map((i) => `offline ${i}`), "online 1"]);
	});

	it("catches up over HTTP when more than the replay limit was missed", async () => {
		const room = freshRoom();
		const bob = open(room, "bob");
		await bob.client.connect();
		bob.client.suspend();
		// 620 messages over HTTP while Bob is away: more than one replay (500) can carry.
		const texts = Array.from({ length: 620 }, (_, i) => `bulk ${i}`);
		const token = await mintToken({ sub: "carol", name: "Carol" });
		for (let i = 0; i < texts.length; i += 20) {
			await Promise.all(
				texts.slice(i, i + 20).map(async (text, j) => {
					// A busy `wrangler dev` can answer 503 while it reloads; the id makes a retry safe.
					for (let attempt = 1; ; attempt++) {
						const response = await fetch(`${server.url}/v1/rooms/${room}/messages`, {
							method: "POST",
							headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
							body: JSON.stringify({ id: `bulk-${i + j}`, text }),
						});
						await response.body?.cancel();
						if (response.status === 503 && attempt < 3) continue;
						expect([200, 201]).toContain(response.status);
						return;
					}
				}),
			);
		}
		bob.client.resume();
		// Keep talking while Bob catches up, so his HTTP pages and his live socket overlap.
		for (let i = 0; i < 40; i++) {
			await fetch(`${server.url}/v1/rooms/${room}/messages`, {
				method: "POST",
				headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
				body: JSON.stringify({ id: `live-${i}`, text: `live ${i}` }),
			});
		}
		// HTTP posts from 20 parallel requests commit in any order; compare against storage.
		const stored = (await storedHistory(room)).map((e) => (e.type === "message" ? e.text : ""));
		expect(stored).toHaveLength(660);
		await waitFor("bob caught up", () => bob.messages.length >= 660, 30_000);
		await new Promise((resolve) => setTimeout(resolve, 300));
		expect(bob.messages.map((m) => m.text)).toEqual(stored);
		expect(bob.messages.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
	});

	it("stops at once on refused credentials or rooms instead of retrying", async () => {
		const room = freshRoom();
		const before = proxy.upgrades(new RegExp(room));
		const bad = new ParleyClient({ url: proxy.url, room, token: "not-a-token", backoff: { minMs: 50, maxMs: 100, factor: 2 } });
		clients.push(bad);
		await expect(bad.connect()).rejects.toMatchObject({ code: "unauthorized" });
		expect(bad.state).toBe("unauthorized");

		const elsewhere = await mintToken({ sub: "dora", name: "Dora", rooms: ["only-this-room"] });
		const outsider = new ParleyClient({ url: proxy.url, room, token: elsewhere, backoff: { minMs: 50, maxMs: 100, factor: 2 } });
		clients.push(outsider);
		await expect(outsider.connect()).rejects.toMatchObject({ code: "forbidden" });
		await expect(outsider.send("hello")).rejects.toMatchObject({ code: "forbidden" });

		await new Promise((resolve) => setTimeout(resolve, 500));
		// One upgrade each, maybe a second that raced the probe; never a storm.
		expect(proxy.upgrades(new RegExp(room)) - before).toBeLessThanOrEqual(4);
	});
});
