/**
 * The v1.3 chat features end to end, against the real `wrangler dev` over real sockets: two
 * signed-in users edit, react, reply, type and read while one of them loses her connection
 * (through a TCP proxy that cuts it) and queues an edit and a reaction offline. Both end with
 * the RoomView snapshot that the stored history gives, read back over HTTP as each of them;
 * the offline changes are stored once, in the order typed.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { applyEvent, type ChatMessage, ParleyClient, RoomView } from "../../client/index.ts";
import type { ParleyClientOptions } from "../../client/index.ts";
import { mintToken } from "../../scripts/mint-token.ts";
import type { RoomEvent } from "../../src/protocol.ts";
import { type DevServer, startDevServer } from "../support/dev-server.ts";
import { TcpProxy } from "./tcp-proxy.ts";

let server: DevServer;
/** Ann's way in: cut to take her offline. Bob connects directly. */
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

function open(
	url: string,
	room: string,
	token: string,
	options: Partial<ParleyClientOptions> = {},
): { client: ParleyClient; view: RoomView } {
	const client = new ParleyClient({
		url,
		room,
		token,
		backoff: { minMs: 100, maxMs: 500, factor: 2 },
		heartbeatIntervalMs: 500,
		heartbeatTimeoutMs: 1500,
		connectTimeoutMs: 5000,
		httpTimeoutMs: 5000,
		...options,
	});
	clients.push(client);
	return { client, view: new RoomView(client) };
}

/** The messages the stored history gives, as `reader` sees them, folded the way a view folds live events. */
async function storedMessages(client: ParleyClient, me: string): Promise<readonly ChatMessage[]> {
	const events: RoomEvent[] = [];
	for (let after = 0; ; ) {
		const page = await client.history({ after, limit: 500 });
		events.push(...page.events);
		after = page.events.at(-1)?.seq ?? after;
		if (page.events.length === 0 || after >= page.lastSeq) break;
	}
	return events.reduce<readonly ChatMessage[]>((list, event) => applyEvent(list, event, 500, me), []);
}

const text = (view: RoomView, msgId: string): string | undefined => view.snapshot.messages.find((m) => m.msgId === msgId)?.text;

describe("chat features against wrangler dev", () => {
	it("two users edit, react, reply, type and read while one reconnects, and both end with the stored history's snapshot", async () => {
		const room = `chat-${crypto.randomUUID().slice(0, 8)}`;
		const annToken = await mintToken({ sub: "ann", name: "Ann" });
		const bobToken = await mintToken({ sub: "bob", name: "Bob" });
		const ann = open(proxy.url, room, annToken);
		const bob = open(server.url, room, bobToken);
		await Promise.all([ann.client.connect(), bob.client.connect()]);

		// A conversation: a message, a reply to it, an edit, reactions both ways.
		const hello = await ann.client.send("helo @Bob, lunch?");
		const reply = await bob.client.send("yes, at noon", { replyTo: hello.msgId });
		const edited = await ann.client.edit(hello.msgId, "hello @Bob, lunch?");
		expect(edited.seq).toBeGreaterThan(reply.seq);
		await bob.client.react(hello.msgId, "👍");
		await ann.client.react(reply.msgId, "🎉");
		await expect(ann.client.react(reply.msgId, "🎉")).resolves.toMatchObject({ duplicate: true });
		await vi.waitFor(
			() =>
				expect(bob.view.snapshot.messages.find((m) => m.msgId === reply.msgId)?.reactions).toEqual([
					{ emoji: "🎉", count: 1, mine: false },
				]),
			{
				timeout: 5000,
			},
		);
		const bobsReply = bob.view.snapshot.messages.find((m) => m.msgId === reply.msgId);
		expect(bobsReply?.replyTo).toMatchObject({ msgId: hello.msgId, author: { id: "ann" }, excerpt: "helo @Bob, lunch?" });
		await vi.waitFor(() => expect(text(bob.view, hello.msgId)).toBe("hello @Bob, lunch?"), { timeout: 5000 });

		// Someone else's message cannot be edited: refused for good with the server's code, not retried.
		await expect(bob.client.edit(hello.msgId, "hijacked")).rejects.toMatchObject({ code: "forbidden" });
		// Replying to nothing: not_found.
		await expect(bob.client.send("to whom?", { replyTo: "no-such-message" })).rejects.toMatchObject({ code: "not_found" });

		// Typing reaches the other user.
		expect(bob.client.typing()).toBe(true);
		await vi.waitFor(() => expect(ann.view.snapshot.typing.map((u) => u.id)).toEqual(["bob"]), { timeout: 5000 });

		// Ann's connection is cut; the room goes on, and she keeps typing into the outbox.
		proxy.setTarget(undefined);
		proxy.cutAll();
		await vi.waitFor(() => expect(ann.client.state).toBe("reconnecting"), { timeout: 5000 });
		const offlineEdit = ann.client.edit(hello.msgId, "hello @Bob, lunch at noon?");
		const offlineReact = ann.client.react(reply.msgId, "❤️");
		const offlineUnreact = ann.client.unreact(reply.msgId, "🎉");
		expect(ann.client.pending).toBe(3);
		await bob.client.edit(reply.msgId, "yes, at noon, the usual place");
		await bob.client.react(hello.msgId, "😀");
		await bob.client.unreact(hello.msgId, "👍");
		const later = await bob.client.send("see you there");
		await vi.waitFor(() => expect(bob.client.lastSeq).toBeGreaterThanOrEqual(later.seq), { timeout: 5000 });
		bob.client.markRead(later.seq);

		// She is back: resumes from her last seq, and her queued changes go out in order, once.
		proxy.setTarget(server.port);
		const acks = await Promise.all([offlineEdit, offlineReact, offlineUnreact]);
		expect(acks.map((a) => a.seq)).toEqual([...acks.map((a) => a.seq)].sort((a, b) => a - b));
		expect(acks[0]?.seq).toBeGreaterThan(later.seq);
		await vi.waitFor(() => expect(ann.client.state).toBe("live"), { timeout: 10_000 });
		await vi.waitFor(() => expect(text(ann.view, later.msgId)).toBe("see you there"), { timeout: 10_000 });

		// Both caught up: each has seen every event; each reads to the end and sees the other's marker.
		const head = acks[2]?.seq ?? 0;
		await vi.waitFor(
			() => {
				expect(ann.client.lastSeq).toBeGreaterThanOrEqual(head);
				expect(bob.client.lastSeq).toBeGreaterThanOrEqual(head);
			},
			{ timeout: 10_000 },
		);
		ann.client.markRead(head);
		expect(ann.view.snapshot.read).toEqual({ seq: head, unread: 0 });
		await vi.waitFor(
			() => {
				expect(bob.view.snapshot.receipts.find((r) => r.user.id === "ann")?.seq).toBe(head);
				// Bob's marker was set while Ann was away: her welcome brought it.
				expect(ann.view.snapshot.receipts.find((r) => r.user.id === "bob")?.seq).toBe(later.seq);
			},
			{ timeout: 15_000 },
		);

		// Each view equals the stored history as that user reads it.
		expect(ann.view.snapshot.messages).toEqual(await storedMessages(ann.client, "ann"));
		expect(bob.view.snapshot.messages).toEqual(await storedMessages(bob.client, "bob"));
		const annHello = ann.view.snapshot.messages.find((m) => m.msgId === hello.msgId);
		expect(annHello).toMatchObject({ text: "hello @Bob, lunch at noon?", mentions: ["bob"] });
		expect(annHello?.reactions).toEqual([{ emoji: "😀", count: 1, mine: false }]);
		expect(bob.view.snapshot.messages.find((m) => m.msgId === reply.msgId)?.reactions).toEqual([{ emoji: "❤️", count: 1, mine: false }]);

		// A client that joins now and gets it all replayed sees the same.
		const late = open(server.url, room, annToken, { since: 0 });
		await late.client.connect();
		await vi.waitFor(() => expect(late.view.snapshot.messages).toEqual(ann.view.snapshot.messages), { timeout: 10_000 });

		// Search finds the latest text, not the old one; the edit history keeps every version.
		const found = await bob.client.search("noon");
		expect(found.results.map((m) => m.msgId).sort()).toEqual([hello.msgId, reply.msgId].sort());
		expect((await bob.client.search("helo")).results).toEqual([]);
		const versions = await ann.client.editHistory(hello.msgId);
		expect(versions.versions.map((v) => v.text)).toEqual(["helo @Bob, lunch?", "hello @Bob, lunch?", "hello @Bob, lunch at noon?"]);
	}, 90_000);
});
