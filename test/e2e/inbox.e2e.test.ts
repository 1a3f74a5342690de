/**
 * v1.4 end to end, against the real `wrangler dev`: a user mentioned in three rooms while
 * offline, one of those messages deleted, sees on coming back exactly the two live mentions
 * and the true unread counts, over HTTP and over the inbox socket's replay; and the same after
 * the runtime is killed (with a mention still on its way) and started again on the same state.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../scripts/mint-token.ts";
import type { InboxChangeFrame, InboxPage, InboxServerFrame, Mention } from "../../src/inbox-protocol.ts";
import type { SendResult } from "../../src/protocol.ts";
import { apiCaller, until } from "../support/api.ts";
import { type DevServer, startDevServer } from "../support/dev-server.ts";

let server: DevServer;
const annToken = await mintToken({ sub: "ann", name: "Ann" });
const bobToken = await mintToken({ sub: "bob", name: "Bob" });
const call = apiCaller(() => server.url, annToken);

beforeAll(async () => {
	server = await startDevServer();
});

afterAll(async () => {
	await server?.stop();
});

const run = crypto.randomUUID().slice(0, 6);
const rooms = [`inbox-${run}-a`, `inbox-${run}-b`, `inbox-${run}-c`];

async function post(room: string, token: string, text: string): Promise<SendResult> {
	return await call<SendResult>(`/v1/rooms/${room}/messages`, { method: "POST", token, body: { id: crypto.randomUUID(), text } });
}

async function inbox(): Promise<InboxPage> {
	return await call<InboxPage>("/v1/me/inbox");
}

/** What Ann's inbox says of these rooms: their unread and mention counts, and her live mentions there. */
function view(page: InboxPage): { counts: Record<string, [number, number]>; mentions: string[] } {
	const counts: Record<string, [number, number]> = {};
	// In the order of `rooms`, so two views compare as JSON text.
	for (const room of rooms) {
		const entry = page.rooms.find((r) => r.room === room);
		if (entry !== undefined) counts[room] = [entry.unread, entry.mentions];
	}
	const mentions = page.mentions.filter((m) => rooms.includes(m.room)).map((m) => m.excerpt);
	return { counts, mentions: mentions.sort() };
}

/** Ann's inbox socket from `since`: the durable frames replayed, until `inbox.synced`. */
async function replay(since: number): Promise<InboxChangeFrame[]> {
	const ws = new WebSocket(`${server.wsUrl}/v1/me/ws?since=${since}&token=${annToken}`);
	const frames: InboxChangeFrame[] = [];
	try {
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error("no inbox.synced within 10 s")), 10_000);
			ws.addEventListener("error", () => reject(new Error("inbox socket failed")));
			ws.addEventListener("message", (message) => {
				const frame = JSON.parse(String(message.data)) as InboxServerFrame;
				if (frame.type === "inbox.synced") {
					clearTimeout(timer);
					resolve();
				} else if (frame.type !== "inbox.welcome" && frame.type !== "unread" && frame.type !== "error") frames.push(frame);
			});
		});
	} finally {
		ws.close();
	}
	return frames;
}

/** The live mentions a replay from 0 leaves, by applying its frames in seq order. */
function liveAfter(frames: readonly InboxChangeFrame[]): string[] {
	const live = new Map<string, Mention>();
	for (const frame of [...frames].sort((a, b) => a.seq - b.seq)) {
		if (frame.type === "mention") live.set(`${frame.mention.room} ${frame.mention.msgId}`, frame.mention);
		if (frame.type === "mention.removed") live.delete(`${frame.room} ${frame.msgId}`);
	}
	return [...live.values()]
		.filter((m) => rooms.includes(m.room))
		.map((m) => m.excerpt)
		.sort();
}

describe("a user's inbox across rooms, against wrangler dev", () => {
	it("shows exactly the live mentions and true unread counts after a day away, also after a killed and restarted runtime", async () => {
		// Ann has posted in each room once (that joins them to her inbox, and makes her mentionable there), and read it.
		for (const room of rooms) {
			const mine = await post(room, annToken, `hi ${room}`);
			await call(`/v1/rooms/${room}/read`, { method: "PUT", body: { seq: mine.seq } });
			await post(room, bobToken, "hello Ann");
		}
		await until("Ann's inbox lists the three rooms", async () => {
			const page = await inbox();
			return rooms.every((room) => page.rooms.some((entry) => entry.room === room)) ? page : undefined;
		});
		// Ann is away: Bob mentions her in all three rooms, talks on in the first, and deletes the second mention.
		await post(rooms[0] ?? "", bobToken, "@Ann one");
		await post(rooms[0] ?? "", bobToken, "and something else");
		const second = await post(rooms[1] ?? "", bobToken, "@Ann two");
		await post(rooms[2] ?? "", bobToken, "@Ann three");
		await call(`/v1/rooms/${rooms[1]}/messages/${second.msgId}`, { method: "DELETE", token: bobToken });
		const expected = {
			// Unread: Bob's live messages after Ann's marker ("hello Ann" included); mentions: live ones after it.
			counts: { [rooms[0] ?? ""]: [3, 1], [rooms[1] ?? ""]: [1, 0], [rooms[2] ?? ""]: [2, 1] } as Record<string, [number, number]>,
			mentions: ["@Ann one", "@Ann three"],
		};
		const settled = await until("the inbox to show the two live mentions", async () => {
			const page = await inbox();
			return JSON.stringify(view(page)) === JSON.stringify(expected) ? page : undefined;
		});
		expect(view(settled)).toEqual(expected);
		expect(liveAfter(await replay(0))).toEqual(expected.mentions);

		// One more mention, and the runtime is killed at once, with its task maybe still on the way.
		await post(rooms[2] ?? "", bobToken, "@Ann four, just before the crash");
		await server.kill();
		server = await startDevServer({ persistTo: server.persistTo });
		const after = {
			counts: { ...expected.counts, [rooms[2] ?? ""]: [3, 2] } as Record<string, [number, number]>,
			mentions: ["@Ann four, just before the crash", "@Ann one", "@Ann three"],
		};
		const restarted = await until(
			"the inbox after the restart",
			async () => {
				const page = await inbox();
				return JSON.stringify(view(page)) === JSON.stringify(after) ? page : undefined;
			},
			60_000,
		);
		expect(view(restarted)).toEqual(after);
		expect(liveAfter(await replay(0))).toEqual(after.mentions);
		// Resuming from where the first replay ended gives only what changed since.
		const since = settled.seq;
		expect(liveAfter(await replay(since))).toEqual(["@Ann four, just before the crash"]);
	}, 150_000);
});
