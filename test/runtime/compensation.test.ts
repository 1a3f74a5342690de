import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, it, vi } from "vitest";
import type { Identity } from "../../src/auth.ts";
import type { CompensationView } from "../../src/ops/compensation.ts";
import type { MessageEvent, RoomEvent } from "../../src/protocol.ts";
import type { TaskMessage } from "../../src/saga/types.ts";
import { api, applyTask, errorCode, freshRoom, token } from "./helpers.ts";

/** A fresh spammer per test: compensations by author reach every room the author posted in. */
let spammer: Identity;
beforeEach(() => {
	spammer = { id: `spam-${crypto.randomUUID().slice(0, 8)}`, name: "Spammer", admin: false, rooms: null, guest: false };
});
const bystander: Identity = { id: "bystander", name: "B", admin: false, rooms: null, guest: false };
const adminToken = await token({ sub: "mod", name: "Mod", role: "admin" });

async function post(path: string, body: unknown, auth = adminToken): Promise<Response> {
	return await api(path, { method: "POST", body: JSON.stringify(body), token: auth });
}

async function say(room: string, who: Identity, text: string, crossPost?: string[]) {
	const posted = await env.ROOM.getByName(room).post(who, { id: crypto.randomUUID(), text, ...(crossPost ? { crossPost } : {}) }, crypto.randomUUID().replaceAll("-", ""));
	if (!posted.ok) throw new Error(JSON.stringify(posted));
	const result = posted.value;
	return result;
}

async function events(room: string): Promise<RoomEvent[]> {
	return (await env.ROOM.getByName(room).events({ after: 0, limit: 500 })).events;
}

const live = (list: RoomEvent[], authorId: string) =>
	list.filter((e): e is MessageEvent => e.type === "message" && e.author.id === authorId && e.retractedBy === undefined);

async function waitFor<T>(what: () => Promise<T | undefined | false>, timeout = 15_000): Promise<T> {
	return (await vi.waitUntil(async () => (await what()) || undefined, { timeout, interval: 30 })) as T;
}

async function view(id: string): Promise<CompensationView> {
	const response = await api(`/v1/admin/compensations/${id}`, { token: adminToken });
	return (await response.json()) as CompensationView;
}

/** Two rooms with the spammer's messages, one of them cross-posted to a third room. */
async function spamWave() {
	const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
	await say(a, spammer, "spam 1");
	await say(a, bystander, "a real message");
	const crossPosted = await say(a, spammer, "spam everywhere", [c]);
	await say(b, spammer, "spam 2");
	await say(b, spammer, "spam 3");
	await waitFor(async () => (await env.ROOM.getByName(a).saga(crossPosted.sagaId ?? ""))?.state === "succeeded");
	// Wait for the author directory to know both rooms.
	await waitFor(async () => {
		const rooms = await runInDurableObject(env.ROOM.getByName(a), (_i, s) => s.storage.sql.exec("SELECT COUNT(*) AS n FROM ops_feed").one().n);
		const roomsB = await runInDurableObject(env.ROOM.getByName(b), (_i, s) => s.storage.sql.exec("SELECT COUNT(*) AS n FROM ops_feed").one().n);
		return rooms === 0 && roomsB === 0;
	});
	return { a, b, c, sagaId: crossPosted.sagaId ?? "" };
}

describe("operator compensation", () => {
	it("previews a dry run without changing anything", async ({ expect }) => {
		const { a, b, c } = await spamWave();
		const before = await Promise.all([a, b, c].map(events));
		const response = await post("/v1/admin/compensations", { selector: { author: spammer.id }, action: "retract", reason: "spam wave", dryRun: true });
		expect(response.status).toBe(200);
		const preview = (await response.json()) as { messages: number; copies: number; rooms: Array<{ room: string; messages: number }>; copyRooms: Array<{ room: string; copies: number }> };
		expect(preview.messages).toBe(4);
		expect(preview.copies).toBe(1);
		expect(preview.rooms.sort((x, y) => x.room.localeCompare(y.room))).toEqual(
			[
				{ room: a, messages: 2, copies: 1 },
				{ room: b, messages: 2, copies: 0 },
			].sort((x, y) => x.room.localeCompare(y.room)),
		);
		expect(preview.copyRooms).toEqual([{ room: c, copies: 1 }]);
		expect(await Promise.all([a, b, c].map(events))).toEqual(before);
	});

	it("retracts every matching message and every copy exactly once, with reason moderated", async ({ expect }) => {
		const { a, b, c, sagaId } = await spamWave();
		const response = await post("/v1/admin/compensations", { selector: { author: spammer.id }, action: "retract", reason: "spam wave" });
		expect(response.status).toBe(201);
		const created = (await response.json()) as CompensationView;
		expect(created).toMatchObject({ actor: "mod", reason: "spam wave", progress: { matched: { messages: 4, copies: 1, rooms: 2 } } });
		expect(created.id).toMatch(/^cmp@/);
		const done = await waitFor(async () => {
			const v = await view(created.id);
			return v.state === "done" && v.progress.done.sagasCompensated === 1 ? v : undefined;
		});
		expect(done.progress.done).toMatchObject({ messages: 4, rooms: 2, sagasCompensated: 1 });
		for (const room of [a, b, c]) {
			const list = await events(room);
			expect(live(list, spammer.id)).toEqual([]);
			const retracts = list.filter((e) => e.type === "retract");
			expect(retracts.every((r) => r.type === "retract" && r.reason === "moderated")).toBe(true);
			// Exactly one retract per spam message.
			const retracted = retracts.map((r) => r.msgId);
			expect(new Set(retracted).size).toBe(retracted.length);
		}
		expect(live(await events(a), bystander.id)).toHaveLength(1);
		expect((await env.ROOM.getByName(a).saga(sagaId))?.state).toBe("compensated");
		// Its tasks are ordinary tasks: listed with the others once indexed.
		await waitFor(async () => {
			const list = (await (await api(`/v1/admin/tasks?kind=moderate&limit=500`, { token: adminToken })).json()) as { tasks: Array<{ taskId: string }> };
			return list.tasks.filter((t) => t.taskId.startsWith(created.id)).length === 2;
		});
		const audit = (await view(created.id)) as CompensationView & { audit: Array<{ action: string; actor: string; reason: string }> };
		expect(audit.audit).toEqual([expect.objectContaining({ action: "compensate", actor: "mod", reason: "spam wave" })]);
		const list = (await (await api("/v1/admin/compensations", { token: adminToken })).json()) as { compensations: Array<{ id: string }> };
		expect(list.compensations.map((x) => x.id)).toContain(created.id);
	});

	it("applies a moderate task once, however often it is delivered, also across eviction", async ({ expect }) => {
		const room = freshRoom("m");
		const first = await say(room, spammer, "one");
		const second = await say(room, spammer, "two");
		const task: TaskMessage = {
			taskId: `cmp@000000000001.m.${room}`,
			sagaId: "cmp@000000000001",
			kind: "moderate",
			originRoom: "cmp@000000000001",
			targetRoom: room,
			dedupKey: "cmp@000000000001:moderate",
			traceId: "d".repeat(32),
			attempt: 1,
			payload: { msgIds: [first.msgId, second.msgId, "99-aaaaaaaaaa"], reason: "moderated" },
		};
		const stub = env.ROOM.getByName(room);
		const outcomes = await Promise.all([1, 2, 3].map(() => applyTask(stub, task, false)));
		await evictDurableObject(stub);
		outcomes.push(await applyTask(stub, task, false));
		expect(outcomes[0]).toMatchObject({ status: "ok", counts: { retracted: 2, alreadyGone: 0, missing: 1 } });
		for (const outcome of outcomes.slice(1)) expect(outcome).toMatchObject({ status: "ok", detail: expect.stringContaining("repeat") });
		expect((await events(room)).filter((e) => e.type === "retract")).toHaveLength(2);
	});

	it("narrows by room and time range", async ({ expect }) => {
		const room = freshRoom("t");
		await say(room, spammer, "old");
		const cut = Date.now() + 1;
		await new Promise((r) => setTimeout(r, 5));
		await say(room, spammer, "new");
		await say(room, bystander, "new too");
		const response = await post("/v1/admin/compensations", { selector: { room, from: cut }, action: "retract", reason: "leak", dryRun: true });
		expect(((await response.json()) as { messages: number }).messages).toBe(2);
		const byAuthor = await post("/v1/admin/compensations", { selector: { room, author: spammer.id, from: cut }, action: "retract", reason: "leak", dryRun: true });
		expect(((await byAuthor.json()) as { messages: number }).messages).toBe(1);
	});

	it("refuses unbounded or malformed selectors, and non-admins", async ({ expect }) => {
		for (const body of [
			{ selector: {}, action: "retract", reason: "x" },
			{ selector: { from: 1, to: 2 }, action: "retract", reason: "x" },
			{ selector: { author: "u" }, action: "delete", reason: "x" },
			{ selector: { author: "u" }, action: "retract" },
			{ selector: { room: "BAD!" }, action: "retract", reason: "x" },
			{ selector: { msgIds: ["1-aaaaaaaaaa"] }, action: "retract", reason: "x" },
			{ selector: { room: "r", from: 5, to: 1 }, action: "retract", reason: "x" },
			{ selector: { author: "u" }, action: "retract", reason: "x", dryRun: "yes" },
		]) {
			const response = await post("/v1/admin/compensations", body);
			expect([JSON.stringify(body), response.status, await errorCode(response)]).toEqual([JSON.stringify(body), 400, "bad_request"]);
		}
		const user = await post("/v1/admin/compensations", { selector: { author: "u" }, action: "retract", reason: "x" }, await token({ sub: "u" }));
		expect(user.status).toBe(403);
		expect((await api("/v1/admin/compensations/cmp@ffffffffffff", { token: adminToken })).status).toBe(404);
	});
});
