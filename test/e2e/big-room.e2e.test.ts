/**
 * Big rooms through the real `wrangler dev` (PRESENCE_LIST_LIMIT=50 so a few hundred sockets
 * cross it): every client's view of who is online converges to the truth, in count mode and
 * back in list mode, for v1.2 clients and v1 sockets alike; and batched and unbatched clients
 * see the same events in the same order. Bounded in time: every wait has a deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ParleyClient } from "../../client/index.ts";
import type { ChatMessage, ParleyClientOptions } from "../../client/index.ts";
import type { MembersPage, PresenceFrame, ServerFrame, WelcomeFrame } from "../../src/protocol.ts";
import { type DevServer, startDevServer } from "../support/dev-server.ts";
import { RecordingSocket } from "../support/ws-client.ts";

const LIST_LIMIT = 50;
let server: DevServer;
const clients: ParleyClient[] = [];

beforeAll(async () => {
	server = await startDevServer({ vars: { PRESENCE_LIST_LIMIT: String(LIST_LIMIT) } });
});

afterAll(async () => {
	for (const client of clients) client.close();
	await server?.stop();
});

const freshRoom = (): string => `big-${crypto.randomUUID().slice(0, 8)}`;

async function waitFor<T>(
	what: string,
	probe: () => T | undefined | false | Promise<T | undefined | false>,
	timeoutMs = 30_000,
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined && value !== false) return value;
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

function open(room: string, guest: string, options: Partial<ParleyClientOptions> = {}): ParleyClient {
	const client = new ParleyClient({ url: server.url, room, guest, httpTimeoutMs: 10_000, connectTimeoutMs: 20_000, ...options });
	clients.push(client);
	return client;
}

/** Connects clients a few dozen at a time, as a crowd arriving would. */
async function connectAll(list: ParleyClient[]): Promise<void> {
	for (let i = 0; i < list.length; i += 40) await Promise.all(list.slice(i, i + 40).map((client) => client.connect()));
}

/** Everyone online, as the member list says (all pages). */
async function members(room: string): Promise<{ count: number; ids: string[] }> {
	const ids: string[] = [];
	let cursor: string | undefined;
	let count = 0;
	do {
		const response = await fetch(
			`${server.url}/v1/rooms/${room}/members?guest=auditor&limit=100${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
		);
		expect(response.status).toBe(200);
		const page = (await response.json()) as MembersPage;
		ids.push(...page.members.map((u) => u.id));
		count = page.count;
		cursor = page.cursor;
	} while (cursor !== undefined);
	return { count, ids };
}

/** What a v1 socket believes: its welcome's list, then each v1 presence frame in turn. */
function v1View(socket: RecordingSocket): string[] {
	const online = new Set<string>();
	for (const frame of socket.frames as ServerFrame[]) {
		if (frame.type === "welcome") for (const u of (frame as WelcomeFrame).online) online.add(u.id);
		if (frame.type === "presence") {
			const p = frame as PresenceFrame;
			if ("joined" in p) online.add(p.joined.id);
			else online.delete(p.left.id);
		}
	}
	return [...online].sort();
}

const sorted = (ids: Iterable<string>): string[] => [...ids].sort();

describe("a room of a few hundred", () => {
	it("keeps every client's view of who is online in step with the truth, above and below the list limit", async () => {
		const room = freshRoom();
		const crowd = Array.from({ length: 240 }, (_, i) => open(room, `c${i}`));
		await connectAll(crowd);

		// Over the limit: counts, and a member list that pages everyone exactly once.
		const truth = await waitFor("the member list to hold the crowd", async () => {
			const list = await members(room);
			return list.count === crowd.length && list;
		});
		expect(sorted(truth.ids)).toEqual(sorted(crowd.map((_, i) => `guest:c${i}`)));
		await waitFor("every client to count the crowd", () => crowd.every((c) => c.onlineCount === crowd.length && !c.onlineComplete));
		// A v1 socket welcomed now gets a sample and nothing more while the room is over its limit.
		const lateV1 = await RecordingSocket.open(`${server.wsUrl}/v1/rooms/${room}/ws?guest=v1late`);
		await lateV1.frame("synced");
		const welcome = lateV1.ofType("welcome")[0];
		expect(welcome?.onlineTotal).toBe(crowd.length + 1);
		expect(welcome?.online.length).toBeLessThanOrEqual(LIST_LIMIT);
		lateV1.close();

		// Most leave: back under the limit, every remaining client holds the exact list again.
		const leaving = crowd.slice(30);
		for (const client of leaving) client.close();
		const staying = crowd.slice(0, 30);
		const expected = sorted(staying.map((_, i) => `guest:c${i}`));
		await waitFor("the member list to lose the leavers", async () => (await members(room)).count === staying.length);
		await waitFor("every remaining client to list exactly who stayed", () =>
			staying.every(
				(c) => c.onlineComplete && c.onlineCount === staying.length && sorted(c.online.map((u) => u.id)).join() === expected.join(),
			),
		);

		// v1 sockets in a listed room follow joins and leaves as before, beside v1.2 clients.
		const v1 = await Promise.all(
			Array.from({ length: 10 }, (_, i) => RecordingSocket.open(`${server.wsUrl}/v1/rooms/${room}/ws?guest=v1s${i}`)),
		);
		await Promise.all(v1.map((socket) => socket.frame("synced")));
		const churn = Array.from({ length: 5 }, (_, i) => open(room, `late${i}`));
		await connectAll(churn);
		for (const client of staying.slice(0, 5)) client.close();
		const now = sorted([
			...staying.slice(5).map((_, i) => `guest:c${i + 5}`),
			...churn.map((_, i) => `guest:late${i}`),
			...v1.map((_, i) => `guest:v1s${i}`),
		]);
		await waitFor("the member list to settle", async () => sorted((await members(room)).ids).join() === now.join());
		await waitFor("every v1 socket to see the same", () => v1.every((socket) => v1View(socket).join() === now.join()));
		const listening = [...staying.slice(5), ...churn];
		await waitFor("every v1.2 client to see the same", () =>
			listening.every((c) => sorted(c.online.map((u) => u.id)).join() === now.join()),
		);
		for (const socket of v1) socket.close();
	});

	it("gives batched and unbatched clients the same events in the same order", async () => {
		const room = freshRoom();
		const batched = Array.from({ length: 3 }, (_, i) => open(room, `b${i}`));
		const single = Array.from({ length: 3 }, (_, i) => open(room, `s${i}`, { features: [] }));
		const seen = new Map<ParleyClient, ChatMessage[]>();
		for (const client of [...batched, ...single]) {
			const list: ChatMessage[] = [];
			seen.set(client, list);
			client.on("message", (m) => list.push(m));
		}
		await connectAll([...batched, ...single]);
		const raw = await RecordingSocket.open(`${server.wsUrl}/v1/rooms/${room}/ws?guest=raw`);
		await raw.frame("synced");

		// Senders of both kinds at once, so commits mix their frames.
		const senders = [batched[0], single[0], batched[1]].filter((c): c is ParleyClient => c !== undefined);
		const total = senders.length * 60;
		await Promise.all(senders.map((client, s) => Promise.all(Array.from({ length: 60 }, (_, n) => client.send(`from ${s}: ${n}`)))));
		await waitFor(
			"every client to have every message",
			() => [...seen.values()].every((list) => list.length === total) && raw.ofType("message").length === total,
		);
		await new Promise((resolve) => setTimeout(resolve, 300));

		const shape = (list: Array<{ seq: number; msgId: string; text: string }>): string[] =>
			list.map((m) => `${m.seq} ${m.msgId} ${m.text}`);
		const reference = shape(raw.ofType("message"));
		expect(reference.map((line) => Number(line.split(" ")[0]))).toEqual(Array.from({ length: total }, (_, i) => i + 1));
		for (const list of seen.values()) expect(shape(list)).toEqual(reference);
		// Each sender's messages are stored in the order it sent them.
		for (let s = 0; s < senders.length; s++) {
			const mine = reference.filter((line) => line.includes(` from ${s}: `)).map((line) => Number(line.split(": ")[1]));
			expect(mine).toEqual(Array.from({ length: 60 }, (_, n) => n));
		}
		raw.close();
	});
});
