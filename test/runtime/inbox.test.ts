/**
 * v1.4: a user's inbox through its seams: tasks applied with `applyTasks` as rooms deliver them
 * (hand-built, as test/runtime/saga.edits.test.ts drives rooms), the inbox routes through the
 * app, DM access on every room route and the room socket, and the inbox socket.
 */
import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, it, onTestFinished, vi } from "vitest";
import type { Identity } from "../../src/auth.ts";
import {
	type DmResult,
	type InboxPage,
	type InboxServerFrame,
	inboxTarget,
	type InboxPayload,
	type JoinResult,
	MAX_INBOX_ROOMS,
	type MentionsPage,
	type UnreadFrame,
} from "../../src/inbox-protocol.ts";
import type { TaskKind, TaskMessage, TaskOutcome } from "../../src/saga/types.ts";
import { FrameLog } from "../support/frame-log.ts";
import { api, BASE, connect, errorCode, freshRoom, token } from "./helpers.ts";

const trace = () => crypto.randomUUID().replaceAll("-", "");
const freshUser = (prefix = "u") => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
const person = (id: string): Identity => ({ id, name: id, admin: false, rooms: null, guest: false });

/** A message id as rooms make them: `<seq>-<10 hex>`. */
const msgIdAt = (seq: number) => `${seq}-${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;

interface TaskSpec {
	user: string;
	room: string;
	msgId: string;
	version: number;
	text?: string;
	gone?: boolean;
	author?: string;
	ts?: number;
	editedAt?: number;
	with?: { id: string; name: string };
}

function task(kind: TaskKind, spec: TaskSpec): TaskMessage {
	const payload: InboxPayload = {
		msgId: spec.msgId,
		author: { id: spec.author ?? "writer", name: spec.author ?? "writer" },
		text: spec.text ?? "",
		ts: spec.ts ?? 1_000 + spec.version,
		version: spec.version,
		...(spec.gone === undefined ? {} : { gone: spec.gone }),
		...(spec.editedAt === undefined ? {} : { editedAt: spec.editedAt }),
		...(spec.with === undefined ? {} : { with: spec.with }),
	};
	return {
		taskId: crypto.randomUUID(),
		sagaId: `${kind}:${spec.room}:${spec.msgId}`,
		kind,
		origin: { kind: "room", id: spec.room },
		targetRoom: inboxTarget(spec.user),
		dedupKey: `${kind}:${spec.msgId}:${spec.version}`,
		traceId: trace(),
		attempt: 1,
		payload,
	};
}

async function apply(user: string, tasks: TaskMessage[], faults: boolean[] = tasks.map(() => false)): Promise<TaskOutcome[]> {
	return await env.INBOX.getByName(user).applyTasks(tasks, faults);
}

async function applyOne(kind: TaskKind, spec: TaskSpec): Promise<TaskOutcome> {
	const [outcome] = await apply(spec.user, [task(kind, spec)]);
	if (outcome === undefined) throw new Error("no outcome");
	return outcome;
}

const detail = (outcome: TaskOutcome) => (outcome.status === "ok" ? outcome.detail : `${outcome.status} ${outcome.code}`);

async function getJson<T>(path: string, tokenValue: string): Promise<T> {
	const response = await api(path, { token: tokenValue });
	if (response.status !== 200) throw new Error(`${path}: ${response.status} ${await response.text()}`);
	return (await response.json()) as T;
}

async function mentionsOf(user: string, query = ""): Promise<MentionsPage> {
	return await getJson<MentionsPage>(`/v1/me/mentions${query}`, await token({ sub: user }));
}

async function inboxOf(user: string, tokenValue?: string): Promise<InboxPage> {
	return await getJson<InboxPage>("/v1/me/inbox", tokenValue ?? (await token({ sub: user })));
}

async function joinRoom(room: string, tokenValue: string): Promise<Response> {
	return await api(`/v1/rooms/${room}/join`, { method: "POST", token: tokenValue });
}

/** The inbox socket, recording every frame it receives. */
class InboxSocket {
	readonly ws: WebSocket;
	readonly log = new FrameLog<InboxServerFrame | string>();

	constructor(ws: WebSocket) {
		this.ws = ws;
		this.log.listen(ws, (data) => (data === "pong" ? data : (JSON.parse(data) as InboxServerFrame)));
	}

	get frames(): Array<InboxServerFrame | string> {
		return this.log.frames;
	}

	/** Frames after the welcome and up to (without) the synced frame, or every frame so far. */
	durable(): InboxServerFrame[] {
		return this.frames.filter(
			(f): f is InboxServerFrame =>
				typeof f !== "string" && ["mention", "mention.removed", "room.joined", "room.left"].includes(f.type),
		);
	}

	async until<T>(predicate: (frames: Array<InboxServerFrame | string>) => T | undefined | false, timeoutMs = 5000): Promise<T> {
		const value = await this.log.waitFor(() => predicate(this.frames), timeoutMs);
		if (value === undefined) throw new Error(`timed out; frames so far: ${JSON.stringify(this.frames).slice(0, 2000)}`);
		return value;
	}

	async frame<K extends InboxServerFrame["type"]>(type: K, match: (f: Extract<InboxServerFrame, { type: K }>) => boolean = () => true) {
		return await this.until((frames) =>
			frames.find(
				(f): f is Extract<InboxServerFrame, { type: K }> =>
					typeof f !== "string" && f.type === type && match(f as Extract<InboxServerFrame, { type: K }>),
			),
		);
	}

	close(): void {
		try {
			this.ws.close(1000, "bye");
		} catch {
			// already closed
		}
	}
}

async function inboxSocket(query: string): Promise<InboxSocket> {
	const response = await exports.default.fetch(new Request(`${BASE}/v1/me/ws?${query}`, { headers: { Upgrade: "websocket" } }));
	const ws = response.webSocket;
	if (ws === null) throw new Error(`upgrade refused: ${response.status} ${await response.text()}`);
	ws.accept();
	const socket = new InboxSocket(ws);
	onTestFinished(() => socket.close());
	await socket.frame("inbox.synced");
	return socket;
}

async function upgradeStatus(path: string): Promise<number> {
	const response = await exports.default.fetch(new Request(`${BASE}${path}`, { headers: { Upgrade: "websocket" } }));
	response.webSocket?.accept();
	response.webSocket?.close(1000, "done");
	return response.status;
}

describe("the inbox barrier", () => {
	it("delivers a mention once: a duplicate changes nothing and says so", async ({ expect }) => {
		const user = freshUser();
		const room = freshRoom();
		const msgId = msgIdAt(5);
		const spec = { user, room, msgId, version: 5, text: "hi @you", ts: 5000 };
		expect(await applyOne("mention", spec)).toEqual({ status: "ok", seq: null, msgId, detail: "mention delivered" });
		expect(detail(await applyOne("mention", spec))).toBe("already at version 5");
		const page = await mentionsOf(user);
		expect(page.mentions).toEqual([{ room, msgId, seq: 5, author: { id: "writer", name: "writer" }, excerpt: "hi @you", ts: 5000 }]);
	});

	it("keeps the latest edit when an older one arrives late (out of order)", async ({ expect }) => {
		const user = freshUser();
		const room = freshRoom();
		const msgId = msgIdAt(5);
		await applyOne("mention", { user, room, msgId, version: 9, text: "edited @you", ts: 5000, editedAt: 9000 });
		expect(detail(await applyOne("mention", { user, room, msgId, version: 5, text: "first @you", ts: 5000 }))).toBe(
			"already at version 9",
		);
		const [only] = (await mentionsOf(user)).mentions;
		expect(only).toMatchObject({ excerpt: "edited @you", editedAt: 9000, seq: 5 });
	});

	it("retracts a mention, and a repeat of the mention after it does not bring it back", async ({ expect }) => {
		const user = freshUser();
		const room = freshRoom();
		const msgId = msgIdAt(3);
		await applyOne("mention", { user, room, msgId, version: 3, text: "@you" });
		expect(detail(await applyOne("unmention", { user, room, msgId, version: 4, gone: true }))).toBe("mention gone at version 4");
		expect((await mentionsOf(user)).mentions).toEqual([]);
		expect(detail(await applyOne("mention", { user, room, msgId, version: 3, text: "@you" }))).toMatch(/gone/);
		expect(detail(await applyOne("mention", { user, room, msgId, version: 12, text: "@you" }))).toMatch(/never comes back/);
		expect((await mentionsOf(user)).mentions).toEqual([]);
	});

	it("leaves a tombstone for an unmention that arrives before its mention, which is then refused", async ({ expect }) => {
		const user = freshUser();
		const room = freshRoom();
		const msgId = msgIdAt(7);
		expect(detail(await applyOne("unmention", { user, room, msgId, version: 8 }))).toMatch(/^tombstone recorded \(removed\)/);
		expect(detail(await applyOne("mention", { user, room, msgId, version: 7, text: "late @you" }))).toBe("already at version 8");
		expect((await mentionsOf(user)).mentions).toEqual([]);
		// An edit that mentions again, newer than the tombstone, is a mention again.
		expect(detail(await applyOne("mention", { user, room, msgId, version: 10, text: "again @you" }))).toBe(
			"mention updated to version 10",
		);
		expect((await mentionsOf(user)).mentions.map((m) => m.excerpt)).toEqual(["again @you"]);
	});

	it("converges on the same mentions whatever order a batch of late and repeated deliveries takes", async ({ expect }) => {
		const room = freshRoom();
		const [a, b, c] = [msgIdAt(1), msgIdAt(2), msgIdAt(3)];
		const history: Array<[TaskKind, TaskSpec]> = [
			["mention", { user: "", room, msgId: a, version: 1, text: "a1" }],
			["mention", { user: "", room, msgId: a, version: 6, text: "a6" }],
			["mention", { user: "", room, msgId: b, version: 2, text: "b2" }],
			["unmention", { user: "", room, msgId: b, version: 5 }],
			["mention", { user: "", room, msgId: c, version: 3, text: "c3" }],
			["unmention", { user: "", room, msgId: c, version: 4, gone: true }],
		];
		const results: string[][] = [];
		const shuffled = [3, 5, 1, 0, 4, 2].map((i) => history[i] as [TaskKind, TaskSpec]);
		for (const order of [history, [...history].reverse(), shuffled]) {
			const user = freshUser();
			for (const [kind, spec] of [...order, ...order]) await applyOne(kind, { ...spec, user });
			results.push((await mentionsOf(user)).mentions.map((m) => `${m.msgId}:${m.excerpt}`));
		}
		expect(results[0]).toEqual([`${a}:a6`]);
		expect(results[1]).toEqual(results[0]);
		expect(results[2]).toEqual(results[0]);
	});

	it("does not deliver a DM's mention to a user who is not one of its members, nor a self-mention", async ({ expect }) => {
		const [ann, bob, carol] = [freshUser("ann"), freshUser("bob"), freshUser("carol")];
		const created = await api("/v1/dms", { method: "POST", token: await token({ sub: ann }), body: JSON.stringify({ with: bob }) });
		const dm = ((await created.json()) as DmResult).room;
		expect(
			detail(await applyOne("mention", { user: carol, room: dm, msgId: msgIdAt(1), version: 1, author: ann, text: "@carol" })),
		).toBe("not delivered: no access to the room");
		expect((await mentionsOf(carol)).mentions).toEqual([]);
		expect(detail(await applyOne("mention", { user: bob, room: dm, msgId: msgIdAt(1), version: 1, author: ann, text: "@bob" }))).toBe(
			"mention delivered",
		);
		expect(detail(await applyOne("mention", { user: ann, room: freshRoom(), msgId: msgIdAt(1), version: 1, author: ann }))).toBe(
			"not delivered: a self-mention",
		);
	});

	it("never makes a DM member from a first post: membership comes from POST /v1/dms only", async ({ expect }) => {
		const [ann, bob, carol] = [freshUser("ann"), freshUser("bob"), freshUser("carol")];
		const created = await api("/v1/dms", { method: "POST", token: await token({ sub: ann }), body: JSON.stringify({ with: bob }) });
		const dm = ((await created.json()) as DmResult).room;
		await env.INBOX.getByName(carol).postedIn([{ room: dm, at: Date.now() }]);
		expect(await env.INBOX.getByName(carol).isMember(dm)).toBe(false);
		expect((await api(`/v1/rooms/${dm}/events`, { token: await token({ sub: carol }) })).status).toBe(403);
		await env.INBOX.getByName(bob).postedIn([{ room: dm, at: Date.now() }]);
		expect(await env.INBOX.getByName(bob).isMember(dm)).toBe(true);
	});

	it("refuses an injected fault without writing, defers the rest of the batch, and applies them on the retry", async ({ expect }) => {
		const user = freshUser();
		const room = freshRoom();
		const tasks = [
			task("mention", { user, room, msgId: msgIdAt(1), version: 1, text: "one" }),
			task("mention", { user, room, msgId: msgIdAt(2), version: 2, text: "two" }),
		];
		const faulted = await apply(user, tasks, [true, false]);
		expect(faulted[0]).toMatchObject({ status: "transient", code: "fault" });
		expect(faulted[1]).toMatchObject({ status: "deferred" });
		expect((await mentionsOf(user)).mentions).toEqual([]);
		const retried = await apply(user, tasks);
		expect(retried.map(detail)).toEqual(["mention delivered", "mention delivered"]);
		expect((await mentionsOf(user)).mentions.map((m) => m.excerpt)).toEqual(["two", "one"]);
	});

	it("refuses, for good, a task that belongs to a room", async ({ expect }) => {
		const user = freshUser();
		const [outcome] = await apply(user, [
			{ ...task("mention", { user, room: freshRoom(), msgId: msgIdAt(1), version: 1 }), kind: "deliver" },
		]);
		expect(outcome).toMatchObject({ status: "permanent", code: "bad_request" });
	});

	it("joins a room on a first post once (the author directory says so), and respects an explicit leave", async ({ expect }) => {
		const user = freshUser();
		const room = freshRoom();
		const userToken = await token({ sub: user });
		const inbox = env.INBOX.getByName(user);
		await inbox.postedIn([{ room, at: Date.now() }]);
		await inbox.postedIn([{ room, at: Date.now() }]);
		expect((await inboxOf(user)).rooms.map((r) => r.room)).toEqual([room]);
		expect((await api(`/v1/rooms/${room}/join`, { method: "DELETE", token: userToken })).status).toBe(200);
		await inbox.postedIn([{ room, at: Date.now() }]);
		expect((await inboxOf(user)).rooms).toEqual([]);
	});
});

describe("GET /v1/me/mentions", () => {
	it("pages live mentions newest first with a cursor, every mention exactly once", async ({ expect }) => {
		const user = freshUser();
		const [r1, r2] = [freshRoom("a"), freshRoom("b")];
		const tasks: TaskMessage[] = [];
		for (let i = 1; i <= 7; i++) {
			tasks.push(
				task("mention", {
					user,
					room: i % 2 === 0 ? r1 : r2,
					msgId: msgIdAt(i),
					version: i,
					text: `m${i}`,
					ts: i < 4 ? 100 : 100 + i,
				}),
			);
		}
		await apply(user, tasks);
		const seen: string[] = [];
		let before: string | undefined;
		let pages = 0;
		do {
			const page = await mentionsOf(user, `?limit=3${before === undefined ? "" : `&before=${before}`}`);
			expect(page.mentions.length).toBeLessThanOrEqual(3);
			seen.push(...page.mentions.map((m) => m.excerpt));
			before = page.before;
			pages++;
		} while (before !== undefined && pages < 10);
		expect(pages).toBe(3);
		expect(seen.slice(0, 4)).toEqual(["m7", "m6", "m5", "m4"]);
		expect(new Set(seen).size).toBe(7);
	});

	it("refuses a bad limit or cursor with 400, and no credentials with 401", async ({ expect }) => {
		const userToken = await token({ sub: freshUser() });
		for (const query of ["limit=0", "limit=101", "limit=abc", "before=not-a-cursor"]) {
			const response = await api(`/v1/me/mentions?${query}`, { token: userToken });
			expect(response.status, query).toBe(400);
			expect(await errorCode(response)).toBe("bad_request");
		}
		expect((await api("/v1/me/mentions")).status).toBe(401);
		expect((await api("/v1/me/inbox")).status).toBe(401);
	});
});

describe("GET /v1/me/inbox", () => {
	it("counts unread and mentions per joined room after reads, sorted unread first", async ({ expect }) => {
		const user = freshUser("me");
		const userToken = await token({ sub: user });
		const [busy, read, quiet] = [freshRoom("busy"), freshRoom("read"), freshRoom("quiet")];
		for (const room of [busy, read, quiet]) expect((await joinRoom(room, userToken)).status).toBe(200);
		const other = person("other");
		const posted: Record<string, string[]> = { [busy]: [], [read]: [] };
		for (const [room, n] of [
			[busy, 3],
			[read, 2],
		] as const) {
			for (let i = 0; i < n; i++) {
				const result = await env.ROOM.getByName(room).post(
					other,
					{ id: crypto.randomUUID(), text: `@${user} ${room} ${i}` },
					trace(),
				);
				if (!result.ok) throw new Error(result.error.message);
				posted[room]?.push(result.value.msgId);
				await applyOne("mention", {
					user,
					room,
					msgId: result.value.msgId,
					version: result.value.seq,
					author: "other",
					text: `${room} ${i}`,
				});
			}
		}
		// The user reads `read` up to its first message: one unread and one mention left there.
		const marked = await env.ROOM.getByName(read).markRead(person(user), 1);
		expect(marked).toMatchObject({ ok: true });
		const page = await inboxOf(user, userToken);
		expect(page.rooms.map((r) => [r.room, r.unread, r.mentions])).toEqual([
			[read, 1, 1],
			[busy, 3, 3],
			[quiet, 0, 0],
		]);
		expect(page.rooms[1]).toMatchObject({
			kind: "room",
			lastSeq: 3,
			readSeq: 0,
			last: { excerpt: `@${user} ${busy} 2`, author: other && { id: "other" } },
		});
		expect(page).toMatchObject({ user: { id: user }, unreadTotal: 4, mentionTotal: 4 });
		expect(page.mentions).toHaveLength(5);
		expect(page.before).toBeUndefined();

		// Reading `busy` to its end clears it once the cached summary is older than SUMMARY_CACHE_MS.
		await env.ROOM.getByName(busy).markRead(person(user), 3);
		await vi.waitUntil(async () => (await inboxOf(user, userToken)).rooms.find((r) => r.room === busy)?.unread === 0, {
			timeout: 6000,
			interval: 250,
		});
		const after = await inboxOf(user, userToken);
		expect(after.rooms.find((r) => r.room === busy)).toMatchObject({ unread: 0, mentions: 0, readSeq: 3 });
		expect(after).toMatchObject({ unreadTotal: 1, mentionTotal: 1 });
		// Mentions stay listed after they are read: the count is what is unread.
		expect(after.mentions).toHaveLength(5);
	});

	it("shows only the rooms the caller's token grants, DMs always", async ({ expect }) => {
		const user = freshUser();
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const full = await token({ sub: user });
		await joinRoom(a, full);
		await joinRoom(b, full);
		const dm = (await (
			await api("/v1/dms", { method: "POST", token: full, body: JSON.stringify({ with: freshUser("peer") }) })
		).json()) as DmResult;
		await applyOne("mention", { user, room: b, msgId: msgIdAt(1), version: 1, text: "in b" });
		const narrow = await inboxOf(user, await token({ sub: user, rooms: [a] }));
		expect(narrow.rooms.map((r) => r.room).sort()).toEqual([a, dm.room].sort());
		expect(narrow.mentions).toEqual([]);
	});
});

describe("joining rooms", () => {
	it("joins, rejoins and leaves, with 400 for a bad room id and 403 outside the token's rooms", async ({ expect }) => {
		const user = freshUser();
		const room = freshRoom();
		const userToken = await token({ sub: user });
		const joined = await joinRoom(room, userToken);
		expect((await joined.json()) as JoinResult).toEqual({ room, joined: true });
		expect((await (await joinRoom(room, userToken)).json()) as JoinResult).toEqual({ room, joined: true });
		const left = await api(`/v1/rooms/${room}/join`, { method: "DELETE", token: userToken });
		expect((await left.json()) as JoinResult).toEqual({ room, joined: false });
		expect((await inboxOf(user, userToken)).rooms).toEqual([]);
		await joinRoom(room, userToken);
		expect((await inboxOf(user, userToken)).rooms.map((r) => r.room)).toEqual([room]);

		const bad = await joinRoom("Not_A_Room", userToken);
		expect([bad.status, await errorCode(bad)]).toEqual([400, "bad_request"]);
		const denied = await joinRoom(room, await token({ sub: user, rooms: ["elsewhere"] }));
		expect([denied.status, await errorCode(denied)]).toEqual([403, "forbidden"]);
		expect((await api(`/v1/rooms/${room}/join`, { method: "POST" })).status).toBe(401);
	});

	it(`refuses a join beyond ${MAX_INBOX_ROOMS} rooms with 413 too_large`, async ({ expect }) => {
		const user = freshUser();
		const stub = env.INBOX.getByName(user);
		const prefix = freshRoom("many");
		for (let i = 0; i < MAX_INBOX_ROOMS; i++) expect((await stub.join(`${prefix}-${i}`)).ok).toBe(true);
		const response = await joinRoom(`${prefix}-x`, await token({ sub: user }));
		expect([response.status, await errorCode(response)]).toEqual([413, "too_large"]);
	});
});

describe("direct messages", () => {
	async function startDm(from: string, peer: string): Promise<Response> {
		return await api("/v1/dms", {
			method: "POST",
			token: await token({ sub: from, name: `${from}-name` }),
			body: JSON.stringify({ with: peer }),
		});
	}

	it("gives both users the same room, in both inboxes, with each other's names", async ({ expect }) => {
		const [ann, bob] = [freshUser("ann"), freshUser("bob")];
		// Bob's inbox learns his name when he reads it.
		await inboxOf(bob, await token({ sub: bob, name: `${bob}-name` }));
		const first = await startDm(ann, bob);
		expect(first.status).toBe(201);
		const created = (await first.json()) as DmResult;
		expect(created).toMatchObject({ with: { id: bob, name: `${bob}-name` }, created: true });
		expect(created.room).toMatch(/^dm\.[0-9a-f]{40}$/);
		const second = await startDm(bob, ann);
		expect(second.status).toBe(200);
		expect((await second.json()) as DmResult).toEqual({ room: created.room, with: { id: ann, name: `${ann}-name` }, created: false });
		expect((await startDm(ann, bob)).status).toBe(200);
		for (const [user, peer] of [
			[ann, bob],
			[bob, ann],
		] as const) {
			const rooms = (await inboxOf(user)).rooms;
			expect(rooms).toHaveLength(1);
			expect(rooms[0]).toMatchObject({ room: created.room, kind: "dm", with: { id: peer } });
		}
	});

	it("refuses yourself and bad peers with 400, guests with 403, no credentials with 401", async ({ expect }) => {
		const ann = freshUser("ann");
		for (const body of [{ with: ann }, { with: "" }, {}, { with: "guest:zoe" }, { with: "x".repeat(65) }]) {
			const response = await api("/v1/dms", { method: "POST", token: await token({ sub: ann }), body: JSON.stringify(body) });
			expect([response.status, await errorCode(response)], JSON.stringify(body)).toEqual([400, "bad_request"]);
		}
		const guest = await api("/v1/dms?guest=zoe", { method: "POST", body: JSON.stringify({ with: ann }) });
		expect([guest.status, await errorCode(guest)]).toEqual([403, "forbidden"]);
		expect((await api("/v1/dms", { method: "POST", body: JSON.stringify({ with: ann }) })).status).toBe(401);
	});

	it("is open to its two members only: a third user is refused over HTTP and the socket, whatever their token", async ({ expect }) => {
		const [ann, bob, carol] = [freshUser("ann"), freshUser("bob"), freshUser("carol")];
		const dm = ((await (await startDm(ann, bob)).json()) as DmResult).room;
		const carolToken = await token({ sub: carol });
		const adminToken = await token({ sub: freshUser("admin"), role: "admin" });
		for (const who of [carolToken, adminToken]) {
			const events = await api(`/v1/rooms/${dm}/events`, { token: who });
			expect([events.status, await errorCode(events)]).toEqual([403, "forbidden"]);
			const post = await api(`/v1/rooms/${dm}/messages`, {
				method: "POST",
				token: who,
				body: JSON.stringify({ id: "x", text: "hi" }),
			});
			expect([post.status, await errorCode(post)]).toEqual([403, "forbidden"]);
			expect(await upgradeStatus(`/v1/rooms/${dm}/ws?token=${who}`)).toBe(403);
			const joined = await joinRoom(dm, who);
			expect(joined.status).toBe(403);
		}
		// Nor can anyone else reach it by cross-posting.
		const room = freshRoom();
		const cross = await api(`/v1/rooms/${room}/messages`, {
			method: "POST",
			token: carolToken,
			body: JSON.stringify({ id: "c", text: "hi", crossPost: [dm] }),
		});
		expect([cross.status, await errorCode(cross)]).toEqual([403, "forbidden"]);
		// A guest never opens a DM.
		expect(await upgradeStatus(`/v1/rooms/${dm}/ws?guest=${ann}`)).toBe(403);
		// The check order holds: a bad room id is 400 before any access check.
		expect((await api("/v1/rooms/DM.bad/events", { token: carolToken })).status).toBe(400);
	});

	it("is open to a member whose token's rooms claim does not name it", async ({ expect }) => {
		const [ann, bob] = [freshUser("ann"), freshUser("bob")];
		const dm = ((await (await startDm(ann, bob)).json()) as DmResult).room;
		const narrow = await token({ sub: ann, rooms: ["somewhere-else"] });
		expect((await api(`/v1/rooms/${dm}/events`, { token: narrow })).status).toBe(200);
		const post = await api(`/v1/rooms/${dm}/messages`, {
			method: "POST",
			token: narrow,
			body: JSON.stringify({ id: "m1", text: "hi bob" }),
		});
		expect(post.status).toBe(201);
		const socket = await connect(dm, `token=${narrow}`);
		await socket.frame("synced");
		expect((await api(`/v1/rooms/${dm}/events`, { token: await token({ sub: bob }) })).status).toBe(200);
	});
});

describe("the inbox socket", () => {
	it("welcomes, replays after since, pushes live changes, and resumes with exactly the missing changes", async ({ expect }) => {
		const user = freshUser();
		const userToken = await token({ sub: user, name: "Me" });
		const room = freshRoom();
		const [m1, m2, m3] = [msgIdAt(1), msgIdAt(2), msgIdAt(3)];
		await applyOne("mention", { user, room, msgId: m1, version: 1, text: "one" });
		await applyOne("mention", { user, room, msgId: m2, version: 2, text: "two" });

		const fresh = await inboxSocket(`token=${userToken}`);
		const welcome = await fresh.frame("inbox.welcome");
		expect(welcome).toEqual({ type: "inbox.welcome", user: { id: user, name: "Me" }, seq: 2 });
		// Without since nothing is replayed: GET /v1/me/inbox holds the state.
		expect(fresh.durable()).toEqual([]);
		expect(await fresh.frame("inbox.synced")).toEqual({ type: "inbox.synced", through: 2 });

		const replayed = await inboxSocket(`token=${userToken}&since=1`);
		expect(replayed.durable().map((f) => f.type === "mention" && f.mention.msgId)).toEqual([m2]);

		// Live: a mention and a retract reach every open socket once committed.
		await applyOne("mention", { user, room, msgId: m3, version: 3, text: "three" });
		const live = await fresh.frame("mention", (f) => f.mention.msgId === m3);
		expect(live).toMatchObject({ seq: 3, mention: { room, msgId: m3, seq: 3, excerpt: "three" } });
		await applyOne("unmention", { user, room, msgId: m1, version: 4, gone: true });
		expect(await fresh.frame("mention.removed")).toEqual({ type: "mention.removed", seq: 4, room, msgId: m1 });
		fresh.close();

		// Offline: a join and an edit of m2. The resume from 4 gets exactly those two, as rows stand now.
		await joinRoom(room, userToken);
		await applyOne("mention", { user, room, msgId: m2, version: 6, text: "two, edited" });
		const resumed = await inboxSocket(`token=${userToken}&since=4`);
		expect(resumed.durable()).toEqual([
			{ type: "room.joined", seq: 5, room, kind: "room", joinedAt: expect.any(Number) },
			{ type: "mention", seq: 6, mention: expect.objectContaining({ msgId: m2, excerpt: "two, edited" }) },
		]);
		expect(await resumed.frame("inbox.synced")).toEqual({ type: "inbox.synced", through: 6 });
		// From 0 everything, state-based: m1 replays as removed, m2 and m3 as they are.
		const all = await inboxSocket(`token=${userToken}&since=0`);
		expect(all.durable().map((f) => f.type)).toEqual(["mention", "mention.removed", "room.joined", "mention"]);
	});

	it("sends an unread frame when a watched room reports a change, for joined rooms only", async ({ expect }) => {
		const user = freshUser();
		const userToken = await token({ sub: user });
		const [room, stranger] = [freshRoom(), freshRoom()];
		await joinRoom(room, userToken);
		await applyOne("mention", { user, room, msgId: msgIdAt(4), version: 4, text: "hey" });
		await applyOne("mention", { user, room, msgId: msgIdAt(2), version: 2, text: "old" });
		const socket = await inboxSocket(`token=${userToken}`);
		const last = { msgId: msgIdAt(5), seq: 5, author: { id: "w", name: "w" }, excerpt: "latest", ts: 5 };
		const inbox = env.INBOX.getByName(user);
		await inbox.roomChanged({ room: stranger, lastSeq: 9, readSeq: 0, unread: 9, last: null });
		await inbox.roomChanged({ room, lastSeq: 5, readSeq: 3, unread: 2, last });
		expect(await socket.frame("unread")).toEqual({ type: "unread", room, lastSeq: 5, readSeq: 3, unread: 2, mentions: 1, last });
		expect(socket.frames.filter((f) => typeof f !== "string" && f.type === "unread")).toHaveLength(1);
	});

	it("hears from its rooms on their own: a message there, and the user's read, push unread frames to the open socket", async ({
		expect,
	}) => {
		const user = freshUser();
		const userToken = await token({ sub: user });
		const room = freshRoom();
		await joinRoom(room, userToken);
		const socket = await inboxSocket(`token=${userToken}`);
		// Opening the socket asked the room to push this inbox its changes (Room.watchInbox).
		await vi.waitUntil(async () => await runInDurableObject(env.ROOM.getByName(room), (instance) => instance.watchers.watching(user)), {
			timeout: 5_000,
			interval: 20,
		});
		const writer: Identity = { id: "w", name: "Writer", admin: false, rooms: null, guest: false };
		const posted = await env.ROOM.getByName(room).post(writer, { id: "p1", text: "news" }, "a".repeat(32));
		if (!posted.ok) throw new Error("post failed");
		const pushed = await socket.until((frames) =>
			frames.find((f): f is UnreadFrame => typeof f !== "string" && f.type === "unread" && f.lastSeq === posted.value.seq),
		);
		expect(pushed).toMatchObject({ room, readSeq: 0, unread: 1, mentions: 0, last: { msgId: posted.value.msgId, excerpt: "news" } });
		const reader: Identity = { id: user, name: user, admin: false, rooms: null, guest: false };
		await env.ROOM.getByName(room).markRead(reader, posted.value.seq);
		const read = await socket.until((frames) =>
			frames.find((f): f is UnreadFrame => typeof f !== "string" && f.type === "unread" && f.readSeq === posted.value.seq),
		);
		expect(read).toMatchObject({ room, unread: 0 });
	});

	it("answers ping, refuses any other frame, and 400 for a bad since, 401 without credentials", async ({ expect }) => {
		const userToken = await token({ sub: freshUser() });
		const socket = await inboxSocket(`token=${userToken}`);
		socket.ws.send("ping");
		await socket.until((frames) => frames.includes("pong"));
		socket.ws.send(JSON.stringify({ type: "send", text: "hi" }));
		expect(await socket.frame("error")).toMatchObject({ type: "error", code: "bad_request" });
		expect(await upgradeStatus(`/v1/me/ws?token=${userToken}&since=-1`)).toBe(400);
		expect(await upgradeStatus(`/v1/me/ws?token=${userToken}&since=x`)).toBe(400);
		expect(await upgradeStatus("/v1/me/ws")).toBe(401);
	});

	it("closes with 4001 once the token has expired, when it has something to send", async ({ expect }) => {
		const user = freshUser();
		const socket = await inboxSocket(`token=${await token({ sub: user, ttlSeconds: 2 })}`);
		// exp is in whole seconds, so it falls somewhere in the next 1-2 s.
		await new Promise((resolve) => setTimeout(resolve, 2100));
		await applyOne("mention", { user, room: freshRoom(), msgId: msgIdAt(1), version: 1, text: "late" });
		const closed = await socket.until(() => socket.log.closed);
		expect(closed.code).toBe(4001);
		expect(socket.durable()).toEqual([]);
	});

	it("renews its rooms' watch by alarm while sockets are open, and sets none once they are closed", async ({ expect }) => {
		const user = freshUser();
		const userToken = await token({ sub: user });
		await joinRoom(freshRoom(), userToken);
		const stub = env.INBOX.getByName(user);
		const alarm = () => runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
		expect(await alarm()).toBeNull();
		const socket = await inboxSocket(`token=${userToken}`);
		expect(await alarm()).not.toBeNull();
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect(await alarm()).not.toBeNull();
		socket.close();
		await vi.waitUntil(async () => (await runInDurableObject(stub, (_instance, state) => state.getWebSockets().length)) === 0, {
			timeout: 3000,
		});
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect(await alarm()).toBeNull();
	});

	it("serves a room that cannot be asked as stale, with the mentions it holds", async ({ expect }) => {
		const user = freshUser();
		const room = freshRoom();
		await joinRoom(room, await token({ sub: user }));
		await applyOne("mention", { user, room, msgId: msgIdAt(1), version: 1, text: "hey" });
		const stub = env.INBOX.getByName(user);
		await runInDurableObject(stub, (instance) => {
			const held = instance as unknown as { env: Env };
			const down = { getByName: () => ({ inboxSummary: () => Promise.reject(new Error("room down")) }) };
			held.env = { ...held.env, ROOM: down as unknown as Env["ROOM"] };
		});
		const warned = vi.spyOn(console, "warn").mockImplementation(() => undefined);
		onTestFinished(() => warned.mockRestore());
		const page = await inboxOf(user);
		expect(page.rooms).toEqual([
			{ room, kind: "room", joinedAt: expect.any(Number), lastSeq: 0, readSeq: 0, unread: 0, mentions: 1, last: null, stale: true },
		]);
		expect(warned.mock.calls.some((call) => String(call[0]).includes("inbox.summary_failed"))).toBe(true);
	});
});

describe("what an inbox writes", () => {
	async function rowsWritten(user: string): Promise<number> {
		return await runInDurableObject(
			env.INBOX.getByName(user),
			(instance) => instance.storageMeter.rowsWritten + instance.storageMeter.alarmWrites,
		);
	}

	it("writes one row per mention change, per join or leave, none per read or repeat", async ({ expect }) => {
		const user = freshUser();
		const userToken = await token({ sub: user });
		const room = freshRoom();
		const msgId = msgIdAt(1);
		await inboxOf(user, userToken);
		const cost = async (work: () => Promise<unknown>): Promise<number> => {
			const before = await rowsWritten(user);
			await work();
			return (await rowsWritten(user)) - before;
		};
		expect(await cost(() => applyOne("mention", { user, room, msgId, version: 1, text: "a" }))).toBe(1);
		expect(await cost(() => applyOne("mention", { user, room, msgId, version: 1, text: "a" }))).toBe(0);
		expect(await cost(() => applyOne("mention", { user, room, msgId, version: 2, text: "b" }))).toBe(1);
		expect(await cost(() => applyOne("unmention", { user, room, msgId, version: 3 }))).toBe(1);
		expect(await cost(() => applyOne("unmention", { user, room, msgId: msgIdAt(9), version: 9 }))).toBe(1);
		expect(await cost(() => joinRoom(room, userToken))).toBe(1);
		expect(await cost(() => joinRoom(room, userToken))).toBe(0);
		expect(await cost(() => inboxOf(user, userToken))).toBe(0);
		expect(await cost(() => mentionsOf(user))).toBe(0);
		expect(await cost(() => api(`/v1/rooms/${room}/join`, { method: "DELETE", token: userToken }))).toBe(1);
		expect(await cost(() => env.INBOX.getByName(user).roomChanged({ room, lastSeq: 1, readSeq: 0, unread: 1, last: null }))).toBe(0);
	});

	it("writes one row in each of the two inboxes for a new DM, none for a repeat", async ({ expect }) => {
		const [ann, bob] = [freshUser("ann"), freshUser("bob")];
		const annToken = await token({ sub: ann });
		await inboxOf(ann, annToken);
		await inboxOf(bob);
		const before = (await rowsWritten(ann)) + (await rowsWritten(bob));
		await api("/v1/dms", { method: "POST", token: annToken, body: JSON.stringify({ with: bob }) });
		expect((await rowsWritten(ann)) + (await rowsWritten(bob)) - before).toBe(2);
		await api("/v1/dms", { method: "POST", token: annToken, body: JSON.stringify({ with: bob }) });
		expect((await rowsWritten(ann)) + (await rowsWritten(bob)) - before).toBe(2);
	});
});
