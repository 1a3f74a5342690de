/**
 * v1.3: an edit of a cross-posted original reaches every copy through the outbox (an `edit`
 * task per copy and edit, behind the copy's delivery, through the target's barrier), exactly
 * once, a later edit winning over an earlier one that arrives late; under injected faults;
 * with the operator's retry/skip/cancel like any other task.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Identity } from "../../src/auth.ts";
import type { MessageEditedEvent, MessageEvent, RoomEvent } from "../../src/protocol.ts";
import type { SagaView, TaskMessage, TaskView } from "../../src/saga/types.ts";
import { api, applyTask, captureErrors, exhaust, freshRoom, replaceQueue, token } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };
const adminToken = await token({ sub: "ops", name: "Ops", role: "admin" });
const trace = () => crypto.randomUUID().replaceAll("-", "");

async function setFaults(body: object): Promise<void> {
	const response = await api("/v1/admin/faults", { method: "POST", body: JSON.stringify(body), token: adminToken });
	expect(response.status).toBe(200);
}

afterEach(async () => {
	await setFaults({});
});

async function crossPost(origin: string, targets: string[], text: string): Promise<{ msgId: string; sagaId: string }> {
	const posted = await env.ROOM.getByName(origin).post(ann, { id: crypto.randomUUID(), text, crossPost: targets }, trace());
	if (!posted.ok || posted.value.sagaId === undefined) throw new Error("cross-post failed");
	return { msgId: posted.value.msgId, sagaId: posted.value.sagaId };
}

async function editOriginal(origin: string, msgId: string, text: string): Promise<number> {
	const edited = await env.ROOM.getByName(origin).edit(ann, { id: crypto.randomUUID(), msgId, text }, trace());
	if (!edited.ok) throw new Error(`edit failed: ${edited.error.message}`);
	return edited.value.seq;
}

async function sagaOf(origin: string, sagaId: string): Promise<SagaView> {
	const view = await env.ROOM.getByName(origin).saga(sagaId);
	if (view === undefined) throw new Error("no saga");
	return view;
}

const finished = (task: TaskView) => !["pending", "processing"].includes(task.state);

/**
 * Waits until the saga is over (succeeded, compensated or failed) and every one of its tasks
 * (edits included) is finished, so a saga that went wrong fails the test's assertions, not a timeout.
 */
async function settled(origin: string, sagaId: string, timeout = 30_000): Promise<SagaView> {
	await vi.waitUntil(
		async () => {
			const view = await sagaOf(origin, sagaId);
			return !["running", "compensating"].includes(view.state) && view.steps.every(finished);
		},
		{ timeout, interval: 50 },
	);
	return await sagaOf(origin, sagaId);
}

async function eventsOf(room: string): Promise<RoomEvent[]> {
	return (await env.ROOM.getByName(room).events({ after: 0, limit: 500 })).events;
}

function copyOf(events: RoomEvent[], sagaId: string): MessageEvent | undefined {
	return events.find((e): e is MessageEvent => e.type === "message" && e.from?.sagaId === sagaId);
}

function editsOf(events: RoomEvent[], msgId: string): MessageEditedEvent[] {
	return events.filter((e): e is MessageEditedEvent => e.type === "message.edited" && e.msgId === msgId);
}

describe("editing a cross-posted original", () => {
	it("converges in every copy under injected faults: latest text, each edit applied at most once, in order", async () => {
		const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
		// Six posts to two rooms, each edited twice: 36 tasks at a 25 % fault rate. That none is
		// retried (which the test checks did happen) has a chance of 0.75^36 ≈ 1 in 30,000, and
		// that one fails all 8 attempts 36 × 0.25^8 ≈ 1 in 1,800 (at 50 % it was 1 in 8, and did).
		await setFaults({ deliverFailRate: 0.25, rooms: [b, c] });
		const posts = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => crossPost(a, [b, c], `post ${i} v1`)));
		// Edited at once: some deliveries are still on their way (or failing), some have landed.
		for (const { msgId } of posts) await editOriginal(a, msgId, `${msgId} v2`);
		for (const { msgId } of posts) await editOriginal(a, msgId, `${msgId} v3`);
		const views = await Promise.all(posts.map(({ sagaId }) => settled(a, sagaId)));
		for (const view of views) expect(view.state).toBe("succeeded");
		expect(views.some((view) => view.steps.some((step) => step.attempts > 1))).toBe(true);
		for (const view of views) expect(view.steps.every((step) => step.state === "succeeded")).toBe(true);
		for (const room of [b, c]) {
			const events = await eventsOf(room);
			for (const { msgId, sagaId } of posts) {
				const copy = copyOf(events, sagaId);
				expect(copy?.text).toBe(`${msgId} v3`);
				const edits = editsOf(events, copy?.msgId ?? "").map((e) => e.text);
				// An edit applies once or not at all (a delivery or a newer edit got there first), never back to an older text.
				expect(edits.length).toBeLessThanOrEqual(2);
				expect(new Set(edits).size).toBe(edits.length);
				expect([[], [`${msgId} v2`], [`${msgId} v3`], [`${msgId} v2`, `${msgId} v3`]]).toContainEqual(edits);
			}
		}
		// The original's own history is the one the copies followed.
		const history = await env.ROOM.getByName(a).editHistory(posts[0]?.msgId ?? "");
		expect(history.ok ? history.value.versions.map((v) => v.text) : []).toEqual([
			"post 1 v1",
			`${posts[0]?.msgId} v2`,
			`${posts[0]?.msgId} v3`,
		]);
	}, 60_000);

	it("is a no-op with a tombstone reason where the copy was retracted, and changes no other copy's fate", async () => {
		const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
		const { msgId, sagaId } = await crossPost(a, [b, c], "hello both");
		await settled(a, sagaId);
		const copyInB = copyOf(await eventsOf(b), sagaId);
		const removed = await env.ROOM.getByName(b).remove(ann, copyInB?.msgId ?? "", trace());
		expect(removed.ok).toBe(true);
		const editTrace = trace();
		const edited = await env.ROOM.getByName(a).edit(ann, { id: "e1", msgId, text: "hello both, edited" }, editTrace);
		const editSeq = edited.ok ? edited.value.seq : -1;
		const view = await settled(a, sagaId);
		const edits = view.steps.filter((step) => step.kind === "edit");
		expect(edits.map((step) => [step.room, step.state, step.taskId])).toEqual([
			[b, "succeeded", `${sagaId}.e${editSeq}.${b}`],
			[c, "succeeded", `${sagaId}.e${editSeq}.${c}`],
		]);
		// The attempt's spans give the reason: the target's own (queued attempt) or the origin's task row (direct one).
		const spans = [...(await env.ROOM.getByName(b).spans(editTrace)), ...(await env.ROOM.getByName(a).spans(editTrace, [sagaId]))];
		expect(spans.map((span) => span.detail ?? "").join("\n")).toContain("tombstone: the copy was retracted here");
		expect(editsOf(await eventsOf(b), copyInB?.msgId ?? "")).toEqual([]);
		expect(copyOf(await eventsOf(b), sagaId)?.retractedBy).toBeDefined();
		expect(copyOf(await eventsOf(c), sagaId)?.text).toBe("hello both, edited");
	});

	it("shows its tasks to operators, who retry a failed one like any other", async () => {
		captureErrors();
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const { msgId, sagaId } = await crossPost(a, [b], "draft");
		await settled(a, sagaId);
		// The queue loses every message: the edit's attempts all fail, and it ends failed.
		const restore = await replaceQueue(a, { sendBatch: async () => undefined });
		const editSeq = await editOriginal(a, msgId, "final");
		const taskId = `${sagaId}.e${editSeq}.${b}`;
		const failed = await exhaust(a, taskId);
		expect(failed).toMatchObject({ kind: "edit", state: "failed", actions: ["retry", "skip", "cancel"] });
		// The ops index lists it with the other tasks, by kind and state.
		const listed = await vi.waitUntil(
			async () => {
				const page = (await (await api(`/v1/admin/tasks?kind=edit&state=failed&room=${b}`, { token: adminToken })).json()) as {
					tasks: TaskView[];
				};
				return page.tasks.find((task) => task.taskId === taskId);
			},
			{ timeout: 10_000, interval: 50 },
		);
		expect(listed).toMatchObject({ kind: "edit", state: "failed", room: b, actions: ["retry", "skip", "cancel"] });
		// The saga's state is its deliveries': an edit's failure does not undo the cross-post.
		expect((await sagaOf(a, sagaId)).state).toBe("succeeded");
		await restore();
		const retried = await api(`/v1/admin/tasks/${taskId}/actions`, {
			method: "POST",
			body: JSON.stringify({ action: "retry", reason: "queue is back" }),
			token: adminToken,
		});
		expect(retried.status).toBe(200);
		await settled(a, sagaId);
		expect((await env.ROOM.getByName(a).taskStatus(taskId))?.state).toBe("succeeded");
		expect(copyOf(await eventsOf(b), sagaId)?.text).toBe("final");
	}, 40_000);
});

describe("an edit task at the target's barrier", () => {
	/** A copy delivered to `target` from a made-up origin, and a builder of that saga's edit tasks. */
	async function delivered(target: string) {
		const origin = freshRoom("o");
		const sagaId = `${origin}~${"ab12".repeat(3)}`;
		const base = { sagaId, origin: { kind: "room" as const, id: origin }, targetRoom: target, traceId: trace(), attempt: 1 };
		const payload = { msgId: "7-abcdef0123", author: { id: "ann", name: "Ann" }, text: "v1", ts: Date.now() };
		const stub = env.ROOM.getByName(target);
		const deliver: TaskMessage = { ...base, taskId: `${sagaId}.d.${target}`, kind: "deliver", dedupKey: `${sagaId}:deliver`, payload };
		expect(await applyTask(stub, deliver)).toMatchObject({ status: "ok" });
		const edit = (editSeq: number, text: string): TaskMessage => ({
			...base,
			taskId: `${sagaId}.e${editSeq}.${target}`,
			kind: "edit",
			dedupKey: `${sagaId}:edit:${editSeq}`,
			payload: { ...payload, text, editSeq, editedAt: Date.now() },
		});
		return { stub, edit, sagaId, base, payload };
	}

	it("applies an edit once: a repeat and an older edit arriving late change nothing", async () => {
		const target = freshRoom("t");
		const { stub, edit, sagaId } = await delivered(target);
		const applied = await applyTask(stub, edit(5, "v5"));
		expect(applied).toMatchObject({ status: "ok", detail: "copy edited" });
		expect(await applyTask(stub, edit(5, "v5"))).toMatchObject({
			status: "ok",
			detail: expect.stringContaining("already shows edit 5"),
		});
		expect(await applyTask(stub, edit(3, "v3"))).toMatchObject({
			status: "ok",
			detail: expect.stringContaining("already shows edit 5"),
		});
		const events = await eventsOf(target);
		const copy = copyOf(events, sagaId);
		expect(copy).toMatchObject({ text: "v5", editSeq: applied.status === "ok" ? applied.seq : -1 });
		expect(editsOf(events, copy?.msgId ?? "").map((e) => e.text)).toEqual(["v5"]);
		expect(await applyTask(stub, edit(8, "v8"))).toMatchObject({ status: "ok", detail: "copy edited" });
		expect(copyOf(await eventsOf(target), sagaId)?.text).toBe("v8");
		// The copy is still a copy: its own room cannot edit it.
		const refused = await stub.edit(ann, { id: "e", msgId: copy?.msgId ?? "", text: "x" }, trace());
		expect(refused).toMatchObject({ ok: false, error: { code: "forbidden" } });
	});

	it("after the copy's compensation, or where no copy was made, is a no-op saying so", async () => {
		const target = freshRoom("t");
		const { stub, edit, sagaId, base, payload } = await delivered(target);
		const retract: TaskMessage = {
			...base,
			taskId: `${sagaId}.r.${target}`,
			kind: "retract",
			dedupKey: `${sagaId}:retract`,
			payload: { ...payload, text: "", reason: "compensated" },
		};
		expect(await applyTask(stub, retract)).toMatchObject({ status: "ok" });
		expect(await applyTask(stub, edit(9, "too late"))).toMatchObject({ status: "ok", detail: expect.stringContaining("tombstone") });
		expect(editsOf(await eventsOf(target), copyOf(await eventsOf(target), sagaId)?.msgId ?? "")).toEqual([]);

		const empty = freshRoom("t");
		const task = { ...edit(4, "nothing here"), targetRoom: empty, taskId: `${sagaId}.e4.${empty}` };
		expect(await applyTask(env.ROOM.getByName(empty), task)).toMatchObject({
			status: "ok",
			detail: expect.stringContaining("no copy"),
		});
		expect(await eventsOf(empty)).toEqual([]);
	});

	it("a delivery made after the original was edited carries the latest text, and older edits then change nothing", async () => {
		const target = freshRoom("t");
		const origin = freshRoom("o");
		const sagaId = `${origin}~${"cd34".repeat(3)}`;
		const stub = env.ROOM.getByName(target);
		const payload = {
			msgId: "9-abcdef0123",
			author: { id: "ann", name: "Ann" },
			text: "edited before delivery",
			ts: Date.now(),
			editSeq: 12,
		};
		const base = { sagaId, origin: { kind: "room" as const, id: origin }, targetRoom: target, traceId: trace(), attempt: 1 };
		await applyTask(stub, { ...base, taskId: `${sagaId}.d.${target}`, kind: "deliver", dedupKey: `${sagaId}:deliver`, payload });
		const late: TaskMessage = {
			...base,
			taskId: `${sagaId}.e11.${target}`,
			kind: "edit",
			dedupKey: `${sagaId}:edit:11`,
			payload: { ...payload, text: "older", editSeq: 11 },
		};
		expect(await applyTask(stub, late)).toMatchObject({ status: "ok", detail: expect.stringContaining("already shows edit 12") });
		expect(copyOf(await eventsOf(target), sagaId)?.text).toBe("edited before delivery");
	});
});
