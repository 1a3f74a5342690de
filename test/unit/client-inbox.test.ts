/**
 * InboxClient against a scripted fake server: the page read before every socket, resume by the
 * page's seq without duplicates, the token provider asked on every connect, 4001 reconnects,
 * refused credentials, the heartbeat, and the HTTP calls (older mentions, joins, DMs).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { InboxClient } from "../../client/inbox.ts";
import type { InboxClientOptions, InboxStatusEvent } from "../../client/inbox.ts";
import type { InboxPage, InboxServerFrame, Mention } from "../../src/inbox-protocol.ts";
import { FakeSocket } from "../support/fake-room.ts";

const ann = { id: "ann", name: "Ann" };
const bob = { id: "bob", name: "Bob" };

const mention = (roomId: string, seq: number): Mention => ({
	room: roomId,
	msgId: `${roomId}-m${seq}`,
	seq,
	author: bob,
	excerpt: `@Ann ${seq}`,
	ts: seq * 1000,
});

const inboxPage = (seq: number, extra: Partial<InboxPage> = {}): InboxPage => ({
	user: ann,
	seq,
	rooms: [
		{ room: "team-a", kind: "room", joinedAt: 1, lastSeq: 4, readSeq: 2, unread: 2, mentions: 1, last: null },
		{ room: "team-b", kind: "room", joinedAt: 2, lastSeq: 0, readSeq: 0, unread: 0, mentions: 0, last: null },
	],
	unreadTotal: 2,
	mentionTotal: 1,
	mentions: [mention("team-a", 4)],
	...extra,
});

interface Request {
	url: URL;
	method: string;
	headers: Headers;
	body: string | undefined;
}

interface Harness {
	client: InboxClient;
	sockets: FakeSocket[];
	requests: Request[];
	statuses: InboxStatusEvent[];
	socket(index: number): Promise<FakeSocket>;
}

let current: InboxClient | undefined;
afterEach(() => {
	current?.close();
	current = undefined;
});

function harness(answer: (request: Request) => Response, options: Partial<InboxClientOptions> = {}): Harness {
	const sockets: FakeSocket[] = [];
	const requests: Request[] = [];
	const client = new InboxClient({
		url: "http://parley.test",
		token: "t",
		backoff: { minMs: 5, maxMs: 20, factor: 2 },
		createSocket: (url) => {
			const socket = new FakeSocket(new URL(url));
			sockets.push(socket);
			return socket;
		},
		fetch: async (input, init) => {
			const request: Request = {
				url: new URL(input),
				method: init?.method ?? "GET",
				headers: new Headers(init?.headers),
				body: typeof init?.body === "string" ? init.body : undefined,
			};
			requests.push(request);
			return answer(request);
		},
		...options,
	});
	current = client;
	const statuses: InboxStatusEvent[] = [];
	client.on("status", (s) => statuses.push(s));
	return {
		client,
		sockets,
		requests,
		statuses,
		socket: async (index) =>
			await vi.waitFor(() => sockets[index] ?? Promise.reject(new Error(`no socket #${index}`)), { timeout: 2000 }),
	};
}

const push = (socket: FakeSocket, frame: InboxServerFrame): void => socket.push(frame as never);

async function live(h: Harness, index: number, seq: number): Promise<FakeSocket> {
	const socket = await h.socket(index);
	socket.open();
	push(socket, { type: "inbox.welcome", user: ann, seq });
	push(socket, { type: "inbox.synced", through: seq });
	await vi.waitFor(() => expect(h.client.state).toBe("live"));
	return socket;
}

const pages = (...seqs: number[]): ((request: Request) => Response) => {
	let n = 0;
	return (request) => {
		if (request.url.pathname !== "/v1/me/inbox") return Response.json({ error: { code: "not_found", message: "?" } }, { status: 404 });
		const seq = seqs[Math.min(n++, seqs.length - 1)] ?? 0;
		return Response.json(inboxPage(seq));
	};
};

describe("InboxClient", () => {
	it("reads the page, then follows the socket from the page's seq with the token in the query", async () => {
		const h = harness(pages(5));
		const connected = h.client.connect();
		const socket = await h.socket(0);
		expect(h.requests[0]?.url.pathname).toBe("/v1/me/inbox");
		expect(h.requests[0]?.headers.get("authorization")).toBe("Bearer t");
		expect(socket.url.pathname).toBe("/v1/me/ws");
		expect(socket.url.protocol).toBe("ws:");
		expect(socket.url.searchParams.get("since")).toBe("5");
		expect(socket.url.searchParams.get("token")).toBe("t");
		socket.open();
		push(socket, { type: "inbox.welcome", user: ann, seq: 6 });
		push(socket, { type: "mention", seq: 6, mention: mention("team-b", 3) });
		push(socket, { type: "inbox.synced", through: 6 });
		await connected;
		expect(h.client.inbox.seq).toBe(6);
		expect(h.client.inbox.mentionTotal).toBe(2);
		expect(h.client.inbox.mentions.map((m) => m.msgId)).toEqual(["team-a-m4", "team-b-m3"]);
	});

	it("after a reconnect reads the page again and resumes from its seq; replayed frames change nothing twice", async () => {
		const h = harness(pages(5, 7));
		const mentions: string[] = [];
		h.client.on("mention", (m) => mentions.push(m.msgId));
		void h.client.connect().catch(() => undefined);
		const first = await live(h, 0, 5);
		push(first, { type: "mention", seq: 6, mention: mention("team-b", 3) });
		push(first, { type: "room.joined", seq: 7, room: "team-c", kind: "room", joinedAt: 9 });
		first.close(1006);
		const second = await h.socket(1);
		expect(h.requests.filter((r) => r.url.pathname === "/v1/me/inbox")).toHaveLength(2);
		expect(second.url.searchParams.get("since")).toBe("7");
		second.open();
		push(second, { type: "inbox.welcome", user: ann, seq: 8 });
		// A server that repeats changes the page already had: ignored.
		push(second, { type: "mention", seq: 6, mention: mention("team-b", 3) });
		push(second, { type: "mention", seq: 8, mention: mention("team-b", 5) });
		push(second, { type: "mention", seq: 8, mention: mention("team-b", 5) });
		push(second, { type: "inbox.synced", through: 8 });
		await vi.waitFor(() => expect(h.client.state).toBe("live"));
		expect(mentions).toEqual(["team-b-m3", "team-b-m5"]);
		// The second page (seq 7) holds the counts (one mention in team-a); only seq 8 came on top, once.
		expect(h.client.inbox.seq).toBe(8);
		expect(h.client.inbox.mentions.filter((m) => m.msgId === "team-b-m5")).toHaveLength(1);
		expect(h.client.inbox.mentionTotal).toBe(2);
	});

	it("asks the token provider on every connect, and reconnects at once with a fresh token after 4001", async () => {
		let n = 0;
		const h = harness(pages(5), { token: () => `token-${++n}` });
		void h.client.connect().catch(() => undefined);
		const first = await live(h, 0, 5);
		first.close(4001, "token expired");
		const second = await live(h, 1, 5);
		expect(h.sockets.map((s) => s.url.searchParams.get("token"))).toEqual(["token-2", "token-4"]);
		expect(h.requests.map((r) => r.headers.get("authorization"))).toEqual(["Bearer token-1", "Bearer token-3"]);
		expect(h.statuses.some((s) => s.state === "reconnecting")).toBe(false);
		expect(second.readyState).toBe(1);
	});

	it("stops for good when the credentials are refused, after asking the provider once more", async () => {
		const issued: string[] = [];
		const h = harness(() => Response.json({ error: { code: "unauthorized", message: "expired" } }, { status: 401 }), {
			token: () => `t${issued.push("x")}`,
		});
		await expect(h.client.connect()).rejects.toMatchObject({ code: "unauthorized" });
		expect(issued).toHaveLength(2);
		expect(h.client.state).toBe("unauthorized");
		expect(h.sockets).toHaveLength(0);
		await expect(h.client.connect()).rejects.toMatchObject({ code: "unauthorized" });
	});

	it("stops at once against a server without an inbox (404): retrying would not make one", async () => {
		const h = harness(() => Response.json({ error: { code: "not_found", message: "no route" } }, { status: 404 }));
		await expect(h.client.connect()).rejects.toMatchObject({ code: "not_found" });
		expect(h.client.state).toBe("rejected");
		expect(h.requests).toHaveLength(1);
	});

	it("keeps retrying with backoff while the inbox cannot be read, then goes live", async () => {
		let n = 0;
		const h = harness(() =>
			n++ < 2 ? Response.json({ error: { code: "internal", message: "down" } }, { status: 500 }) : Response.json(inboxPage(1)),
		);
		const errors: string[] = [];
		h.client.on("error", (e) => errors.push(e.code));
		const connected = h.client.connect();
		await live(h, 0, 1);
		await connected;
		expect(h.statuses.filter((s) => s.state === "reconnecting")).toHaveLength(2);
		expect(errors).toEqual(["internal", "internal"]);
	});

	it("declares a silent socket dead after the heartbeat timeout and reconnects", async () => {
		const h = harness(pages(5), { heartbeatIntervalMs: 20, heartbeatTimeoutMs: 30 });
		void h.client.connect().catch(() => undefined);
		const first = await live(h, 0, 5);
		await h.socket(1);
		expect(first.sent).toContain("ping");
		expect(h.statuses.some((s) => s.reason === "heartbeat timeout")).toBe(true);
	});

	it("applies unread frames, and emits typed events for each change", async () => {
		const h = harness(pages(5));
		const seen: string[] = [];
		h.client.on("unread", (u) => seen.push(`unread ${u.room} ${u.unread}${u.held ? " held" : ""}`));
		h.client.on("room", (r) => seen.push(`room ${r.type} ${r.type === "joined" ? r.room.room : r.room}`));
		h.client.on("mentionRemoved", (r) => seen.push(`removed ${r.msgId} ${r.known}`));
		void h.client.connect().catch(() => undefined);
		const socket = await live(h, 0, 5);
		push(socket, { type: "unread", room: "team-b", lastSeq: 9, readSeq: 0, unread: 9, mentions: 0, last: null });
		push(socket, { type: "unread", room: "team-z", lastSeq: 1, readSeq: 0, unread: 1, mentions: 0, last: null });
		push(socket, { type: "mention.removed", seq: 6, room: "team-a", msgId: "team-a-m4" });
		push(socket, { type: "room.left", seq: 7, room: "team-a" });
		expect(seen).toEqual(["unread team-b 9", "unread team-z 1 held", "removed team-a-m4 true", "room left team-a"]);
		expect(h.client.inbox.unreadTotal).toBe(9);
		expect(h.client.inbox.rooms.map((r) => r.room)).toEqual(["team-b"]);
	});

	it("loads older mentions with `before`, one page at a time", async () => {
		const h = harness((request) =>
			request.url.pathname === "/v1/me/inbox"
				? Response.json(inboxPage(5, { before: "c1" }))
				: Response.json({
						mentions: [mention("team-b", 1)],
						...(request.url.searchParams.get("before") === "c1" ? { before: "c2" } : {}),
					}),
		);
		void h.client.connect().catch(() => undefined);
		await live(h, 0, 5);
		await expect(h.client.loadOlderMentions(10)).resolves.toBe(1);
		const older = h.requests.at(-1);
		expect(older?.url.pathname).toBe("/v1/me/mentions");
		expect(older?.url.searchParams.get("before")).toBe("c1");
		expect(older?.url.searchParams.get("limit")).toBe("10");
		expect(h.client.inbox.before).toBe("c2");
		await expect(h.client.loadOlderMentions()).resolves.toBe(0); // a repeat brings nothing new
		expect(h.client.inbox.before).toBeUndefined();
		const asked = h.requests.length;
		await expect(h.client.loadOlderMentions()).resolves.toBe(0);
		expect(h.requests.length).toBe(asked);
	});

	it("opens a DM and joins and leaves rooms over HTTP, listing the changes at once", async () => {
		const dm = "dm.0123456789abcdef0123456789abcdef01234567";
		const h = harness((request) => {
			const path = request.url.pathname;
			if (path === "/v1/me/inbox") return Response.json(inboxPage(5));
			if (path === "/v1/dms") return Response.json({ room: dm, with: bob, created: true });
			if (path === "/v1/rooms/team-c/join") return Response.json({ room: "team-c", joined: request.method === "POST" });
			return Response.json({ error: { code: "not_found", message: "no such user" } }, { status: 404 });
		});
		void h.client.connect().catch(() => undefined);
		await live(h, 0, 5);
		await expect(h.client.openDm("bob")).resolves.toEqual({ room: dm, with: bob, created: true });
		const post = h.requests.at(-1);
		expect(post?.method).toBe("POST");
		expect(JSON.parse(post?.body ?? "{}")).toEqual({ with: "bob" });
		expect(post?.headers.get("content-type")).toBe("application/json");
		expect(h.client.inbox.rooms.find((r) => r.room === dm)).toMatchObject({ kind: "dm", with: bob });

		await h.client.joinRoom("team-c");
		expect(h.client.inbox.rooms.some((r) => r.room === "team-c")).toBe(true);
		await h.client.leaveRoom("team-c");
		expect(h.requests.at(-1)?.method).toBe("DELETE");
		expect(h.client.inbox.rooms.some((r) => r.room === "team-c")).toBe(false);
		await expect(h.client.joinRoom("Not A Room")).rejects.toMatchObject({ code: "bad_request" });
	});

	it("rejects HTTP calls with the server's code", async () => {
		const h = harness((request) =>
			request.url.pathname === "/v1/me/inbox"
				? Response.json(inboxPage(5))
				: Response.json({ error: { code: "not_found", message: "no such user" } }, { status: 404 }),
		);
		void h.client.connect().catch(() => undefined);
		await live(h, 0, 5);
		await expect(h.client.openDm("nobody")).rejects.toMatchObject({ code: "not_found", status: 404 });
	});

	it("identifies a guest with ?guest= on HTTP and on the socket", async () => {
		const h = harness(pages(0), { token: undefined, guest: "ann" });
		void h.client.connect().catch(() => undefined);
		const socket = await h.socket(0);
		expect(h.requests[0]?.url.searchParams.get("guest")).toBe("ann");
		expect(socket.url.searchParams.get("guest")).toBe("ann");
		expect(socket.url.searchParams.has("token")).toBe(false);
	});

	it("close() ends the loop and rejects a pending connect", async () => {
		const h = harness(pages(5));
		const connected = h.client.connect();
		await h.socket(0);
		h.client.close();
		await expect(connected).rejects.toMatchObject({ code: "closed" });
		expect(h.client.state).toBe("closed");
	});
});
