/**
 * v1.4, the room's side of a user's inbox: a message that mentions users commits, in its own
 * transaction, one `mention` task per mentioned user to that user's inbox; an edit that no
 * longer mentions someone, a delete and a moderation unmention them the same way; an author's
 * first post joins their inbox to the room. The tasks are outbox tasks like any other: in the
 * message's inbox run, through the inbox's barrier, in the ops index with retry/skip/cancel.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { Identity } from "../../src/auth.ts";
import type { InboxPage, MentionsPage } from "../../src/inbox-protocol.ts";
import { inboxRunId } from "../../src/saga/ids.ts";
import type { SagaView, TaskView } from "../../src/saga/types.ts";
import { api, captureErrors, exhaust, freshRoom, replaceQueue, token } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };
const bob: Identity = { id: "bob", name: "Bob", admin: false, rooms: null, guest: false };
const cat: Identity = { id: "cat", name: "Cat", admin: false, rooms: null, guest: false };
const adminToken = await token({ sub: "ops", name: "Ops", role: "admin" });
const trace = () => crypto.randomUUID().replaceAll("-", "");

async function post(room: string, who: Identity, text: string): Promise<{ msgId: string; seq: number }> {
	const posted = await env.ROOM.getByName(room).post(who, { id: crypto.randomUUID(), text }, trace());
	if (!posted.ok) throw new Error(`post failed: ${posted.error.message}`);
	return { msgId: posted.value.msgId, seq: posted.value.seq };
}

/** The message's inbox run once every task of it is finished (a message without one fails the wait). */
async function settledRun(room: string, seq: number): Promise<SagaView> {
	const runId = inboxRunId(room, seq);
	let view: SagaView | undefined;
	await vi.waitUntil(
		async () => {
			view = await env.ROOM.getByName(room).saga(runId);
			return view?.steps.every((step) => !["pending", "processing"].includes(step.state));
		},
		{ timeout: 10_000, interval: 20 },
	);
	if (view === undefined) throw new Error("no run");
	return view;
}

const steps = (view: SagaView) => view.steps.map((step) => [step.kind, step.room, step.state]);

async function mentionsOf(who: Identity): Promise<MentionsPage> {
	const response = await api("/v1/me/mentions", { token: await token({ sub: who.id, name: who.name }) });
	expect(response.status).toBe(200);
	return (await response.json()) as MentionsPage;
}

/** A room where ann, bob and cat have each posted once (mentions match users a room has seen). */
async function roomWithUsers(): Promise<string> {
	const room = freshRoom("i");
	for (const who of [ann, bob, cat]) await post(room, who, `hello from ${who.name}`);
	return room;
}

describe("a message's inbox run", () => {
	it("makes no task for a first post: the author's inbox joins the room through the author directory", async () => {
		const room = freshRoom("j");
		const first = await post(room, ann, "my first words here");
		expect(await env.ROOM.getByName(room).saga(inboxRunId(room, first.seq))).toBeUndefined();
		const annToken = await token({ sub: "ann", name: "Ann" });
		await vi.waitUntil(
			async () => {
				const inbox = (await (await api("/v1/me/inbox", { token: annToken })).json()) as InboxPage;
				return inbox.rooms.some((entry) => entry.room === room);
			},
			{ timeout: 15_000, interval: 100 },
		);
	}, 20_000);

	it("sends one mention task per mentioned user, never to the author, and the inbox shows the excerpt", async () => {
		const room = await roomWithUsers();
		const sent = await post(room, ann, "@Bob and @cat, and me @ann: look at this");
		const run = await settledRun(room, sent.seq);
		expect(steps(run).sort()).toEqual([
			["mention", "@bob", "succeeded"],
			["mention", "@cat", "succeeded"],
		]);
		expect(run.steps.map((step) => step.taskId).sort()).toEqual([
			`${inboxRunId(room, sent.seq)}.n${sent.seq}.@bob`,
			`${inboxRunId(room, sent.seq)}.n${sent.seq}.@cat`,
		]);
		const mine = (await mentionsOf(bob)).mentions.filter((m) => m.room === room);
		expect(mine).toMatchObject([{ room, msgId: sent.msgId, seq: sent.seq, author: { id: "ann" } }]);
		expect(mine[0]?.excerpt).toBe("@Bob and @cat, and me @ann: look at this");
		expect((await mentionsOf(ann)).mentions.filter((m) => m.room === room)).toEqual([]);
	});

	it("follows edits: one that drops a user unmentions them, one that keeps a user updates the text, a delete removes it for good", async () => {
		const room = await roomWithUsers();
		const stub = env.ROOM.getByName(room);
		const sent = await post(room, ann, "ping @bob and @cat");
		await settledRun(room, sent.seq);
		const edited = await stub.edit(ann, { id: crypto.randomUUID(), msgId: sent.msgId, text: "ping @bob only" }, trace());
		if (!edited.ok) throw new Error("edit failed");
		const afterEdit = await settledRun(room, sent.seq);
		expect(
			afterEdit.steps
				.filter((s) => s.taskId.includes(`.u${edited.value.seq}.`) || s.taskId.includes(`.n${edited.value.seq}.`))
				.map((s) => [s.kind, s.room])
				.sort(),
		).toEqual([
			["mention", "@bob"],
			["unmention", "@cat"],
		]);
		expect((await mentionsOf(cat)).mentions.filter((m) => m.room === room)).toEqual([]);
		expect((await mentionsOf(bob)).mentions.filter((m) => m.room === room).map((m) => m.excerpt)).toEqual(["ping @bob only"]);
		const removed = await stub.remove(ann, sent.msgId, trace());
		if (!removed.ok) throw new Error("delete failed");
		const afterDelete = await settledRun(room, sent.seq);
		expect(afterDelete.steps.filter((s) => s.taskId.includes(`.u${removed.value.seq}.`)).map((s) => [s.kind, s.room, s.state])).toEqual(
			[["unmention", "@bob", "succeeded"]],
		);
		expect((await mentionsOf(bob)).mentions.filter((m) => m.room === room)).toEqual([]);
		expect(afterDelete.state).toBe("succeeded");
	});

	it("shows each attempt in the message's trace: the inbox's answer, noted by the origin in the task's row", async () => {
		const room = await roomWithUsers();
		const traceId = trace();
		const posted = await env.ROOM.getByName(room).post(ann, { id: "t1", text: "traced @bob" }, traceId);
		if (!posted.ok) throw new Error("post failed");
		await settledRun(room, posted.value.seq);
		const spans = await vi.waitUntil(
			async () => {
				const response = await api(`/v1/admin/traces/${traceId}`, { token: adminToken });
				if (response.status !== 200) return undefined;
				const body = (await response.json()) as {
					spans: Array<{ component: string; event: string; detail?: string; room?: string }>;
				};
				return body.spans.some((span) => span.component === "inbox") ? body.spans : undefined;
			},
			{ timeout: 10_000, interval: 50 },
		);
		expect(spans.filter((span) => span.component === "inbox")).toMatchObject([
			{ event: "mention.ok", room: "@bob", detail: expect.stringContaining("mention delivered") },
		]);
	});

	it("removes the mention for good when an operator's moderation retracts the message", async () => {
		const room = await roomWithUsers();
		const sent = await post(room, ann, "spam for @bob");
		await settledRun(room, sent.seq);
		expect((await mentionsOf(bob)).mentions.filter((m) => m.room === room)).toHaveLength(1);
		const moderationId = "mod@0123456789ab";
		const [outcome] = await env.ROOM.getByName(room).applyTasks(
			[
				{
					taskId: `${moderationId}.m.${room}`,
					sagaId: moderationId,
					kind: "moderate",
					origin: { kind: "moderation", id: moderationId },
					targetRoom: room,
					dedupKey: `${moderationId}:moderate`,
					traceId: trace(),
					attempt: 1,
					payload: { msgIds: [sent.msgId], reason: "moderated" },
				},
			],
			[false],
		);
		expect(outcome).toMatchObject({ status: "ok", counts: { retracted: 1 } });
		const run = await settledRun(room, sent.seq);
		expect(run.steps.filter((s) => s.kind === "unmention").map((s) => [s.room, s.state])).toEqual([["@bob", "succeeded"]]);
		expect((await mentionsOf(bob)).mentions.filter((m) => m.room === room)).toEqual([]);
	});

	it("does not mention a user banned in the room", async () => {
		const room = await roomWithUsers();
		await env.ROOM.getByName(room).updatePolicy({ banned: ["cat"] });
		const sent = await post(room, ann, "@bob @cat hello");
		expect(steps(await settledRun(room, sent.seq))).toEqual([["mention", "@bob", "succeeded"]]);
	});

	it("shows its tasks to operators in the ops index, who retry a failed mention like any other task", async () => {
		captureErrors();
		const room = await roomWithUsers();
		const restore = await replaceQueue(room, { sendBatch: async () => undefined });
		const sent = await post(room, ann, "are you there @bob?");
		const taskId = `${inboxRunId(room, sent.seq)}.n${sent.seq}.@bob`;
		const failed = await exhaust(room, taskId);
		expect(failed).toMatchObject({ kind: "mention", state: "failed", room: "@bob", actions: ["retry", "skip", "cancel"] });
		const listed = await vi.waitUntil(
			async () => {
				const page = (await (await api("/v1/admin/tasks?kind=mention&state=failed", { token: adminToken })).json()) as {
					tasks: TaskView[];
				};
				return page.tasks.find((task) => task.taskId === taskId);
			},
			{ timeout: 10_000, interval: 50 },
		);
		expect(listed).toMatchObject({ kind: "mention", state: "failed", room: "@bob", originRoom: room });
		expect((await mentionsOf(bob)).mentions.filter((m) => m.room === room)).toEqual([]);
		await restore();
		const retried = await api(`/v1/admin/tasks/${encodeURIComponent(taskId)}/actions`, {
			method: "POST",
			body: JSON.stringify({ action: "retry", reason: "inbox is back" }),
			token: adminToken,
		});
		expect(retried.status).toBe(200);
		await settledRun(room, sent.seq);
		expect((await env.ROOM.getByName(room).taskStatus(taskId))?.state).toBe("succeeded");
		expect((await mentionsOf(bob)).mentions.filter((m) => m.room === room).map((m) => m.msgId)).toEqual([sent.msgId]);
	}, 30_000);

	it("refuses a cross-post into a direct-message room", async () => {
		const room = freshRoom("x");
		const refused = await env.ROOM.getByName(room).post(
			ann,
			{ id: "x1", text: "sneaky", crossPost: [`dm.${"ab".repeat(20)}`] },
			trace(),
		);
		expect(refused.ok ? undefined : refused.error.code).toBe("forbidden");
	});
});
