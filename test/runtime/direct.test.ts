/**
 * The direct first attempt: after the commit, the origin room attempts each delivery it
 * claimed itself, under the lease the alarm would have taken, through the target's barrier.
 * The alarm, the Queue and the consumer stay the path for everything that does not go
 * through: a lost answer, an interrupted attempt, a lease that ran out first.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, it, vi } from "vitest";
import type { Identity } from "../../src/auth.ts";
import type { MessageEvent } from "../../src/protocol.ts";
import type { SagaView, TaskMessage, TaskOutcome } from "../../src/saga/types.ts";
import type { Span } from "../../src/ops/types.ts";
import { advanceClockTo, api, freshRoom, token } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };

async function crossPost(origin: string, targets: string[], text = "hello"): Promise<string> {
	const posted = await env.ROOM.getByName(origin).post(
		ann,
		{ id: crypto.randomUUID(), text, crossPost: targets },
		crypto.randomUUID().replaceAll("-", ""),
	);
	if (!posted.ok || posted.value.sagaId === undefined) throw new Error(`send failed: ${JSON.stringify(posted)}`);
	return posted.value.sagaId;
}

async function saga(origin: string, sagaId: string): Promise<SagaView> {
	const view = await env.ROOM.getByName(origin).saga(sagaId);
	if (view === undefined) throw new Error(`no saga ${sagaId}`);
	return view;
}

async function copies(room: string, sagaId: string): Promise<MessageEvent[]> {
	const page = await env.ROOM.getByName(room).events({ after: 0, limit: 100 });
	return page.events.filter((e): e is MessageEvent => e.type === "message" && e.from?.sagaId === sagaId);
}

/** A direct attempt the test lets go when it wants, recording every batch that went out. */
interface Held {
	sent: TaskMessage[][];
	release(): void;
}

/** Replaces the origin's direct attempt (TaskEngine.directAttempt): each call waits for `release`, then does the real thing. */
async function holdDirect(origin: string): Promise<Held> {
	const gate = Promise.withResolvers<void>();
	const sent: TaskMessage[][] = [];
	await runInDurableObject(env.ROOM.getByName(origin), (instance) => {
		const real = instance.engine.directAttempt;
		instance.engine.directAttempt = async (tasks) => {
			sent.push(tasks);
			await gate.promise;
			return await real(tasks);
		};
	});
	return { sent, release: () => gate.resolve() };
}

describe("the direct first attempt", () => {
	it("delivers every copy without the alarm or the queue, as attempt 1 of each task", async ({ expect }) => {
		const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
		const queued: unknown[] = [];
		await runInDurableObject(env.ROOM.getByName(a), (instance) => {
			instance.engine.queue = () => ({ sendBatch: async (messages) => void queued.push(...messages) });
		});
		const sagaId = await crossPost(a, [b, c]);
		const done = await vi.waitUntil(async () => ((await saga(a, sagaId)).state === "succeeded" ? await saga(a, sagaId) : undefined), {
			timeout: 5000,
			interval: 10,
		});
		expect(done.steps.map((s) => [s.room, s.state, s.attempts])).toEqual([
			[b, "succeeded", 1],
			[c, "succeeded", 1],
		]);
		for (const room of [b, c]) expect(await copies(room, sagaId)).toHaveLength(1);
		expect(queued).toEqual([]);
	});

	it("and a queued retry of the same task give one copy: a lost direct answer is retried through the queue", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const stub = env.ROOM.getByName(a);
		// The direct attempt reaches the target (its copy is made) but its answer is lost.
		let direct = 0;
		await runInDurableObject(stub, (instance) => {
			const real = instance.engine.directAttempt;
			instance.engine.directAttempt = async (tasks): Promise<TaskOutcome[]> => {
				direct++;
				await real(tasks);
				return tasks.map(() => ({ status: "transient", code: "unknown", message: "answer lost" }));
			};
		});
		const sagaId = await crossPost(a, [b]);
		// The retry goes the durable way: after its backoff the alarm claims it (attempt 2), and the real queue and consumer run it.
		const done = await vi.waitUntil(async () => ((await saga(a, sagaId)).state === "succeeded" ? await saga(a, sagaId) : undefined), {
			timeout: 10_000,
			interval: 20,
		});
		expect(done.steps[0]).toMatchObject({ state: "succeeded", attempts: 2 });
		expect(direct).toBe(1);
		expect(await copies(b, sagaId)).toHaveLength(1);
		// The queued retry found the direct attempt's copy through the barrier; the trace shows both attempts.
		const response = await api(`/v1/admin/traces/${done.traceId}`, { token: await token({ sub: "ops", role: "admin" }) });
		const trace = ((await response.json()) as { spans: Span[] }).spans;
		expect(trace.map((span) => `${span.component}:${span.event}@${span.room}`)).toEqual(
			expect.arrayContaining([
				`room:deliver.transient@${b}`,
				`outbox:task.dispatch@${a}`,
				`queue:queue.delivered@${a}`,
				`room:deliver.ok@${b}`,
			]),
		);
		expect(trace.find((span) => span.event === "deliver.ok")?.detail).toContain("repeat of an earlier deliver");
	});

	it("interrupted, leaves its task leased, and the alarm re-claims it once the lease has run out", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const stub = env.ROOM.getByName(a);
		// An attempt that never comes back: the runtime died under it, as far as the saga can tell.
		await runInDurableObject(stub, (instance) => {
			instance.engine.directAttempt = () => new Promise<TaskOutcome[]>(() => undefined);
		});
		const sagaId = await crossPost(a, [b]);
		const leased = (await saga(a, sagaId)).steps[0];
		expect(leased).toMatchObject({ state: "processing", attempts: 1 });
		// Before the lease runs out the alarm leaves it alone.
		await runDurableObjectAlarm(stub);
		expect((await saga(a, sagaId)).steps[0]).toMatchObject({ state: "processing", attempts: 1 });
		expect(await copies(b, sagaId)).toEqual([]);
		await advanceClockTo(stub, leased?.nextAttemptAt ?? 0);
		await runDurableObjectAlarm(stub);
		const done = await vi.waitUntil(async () => ((await saga(a, sagaId)).state === "succeeded" ? await saga(a, sagaId) : undefined), {
			timeout: 10_000,
			interval: 20,
		});
		expect(done.steps[0]).toMatchObject({ state: "succeeded", attempts: 2 });
		expect(await copies(b, sagaId)).toHaveLength(1);
	});

	it("never runs for a task that is no longer leased to it", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const stub = env.ROOM.getByName(a);
		const held = await holdDirect(a);
		// The first delivery to b goes out and is held there; the second waits behind it in b's line.
		const first = await crossPost(a, [b], "first");
		const second = await crossPost(a, [b], "second");
		expect(held.sent.map((batch) => batch.map((t) => t.sagaId))).toEqual([[first]]);
		const queued = (await saga(a, second)).steps[0];
		expect(queued).toMatchObject({ state: "processing", attempts: 1 });
		// Its lease runs out while it waits: it is the alarm's now, and the direct line must not send it.
		await advanceClockTo(stub, queued?.nextAttemptAt ?? 0);
		held.release();
		await vi.waitUntil(async () => (await saga(a, first)).state === "succeeded", { timeout: 5000, interval: 10 });
		expect(held.sent.map((batch) => batch.map((t) => t.sagaId))).toEqual([[first]]);
		// The alarm (due with the lease's end) re-claims it, and the durable path delivers it.
		await runDurableObjectAlarm(stub);
		const done = await vi.waitUntil(async () => ((await saga(a, second)).state === "succeeded" ? await saga(a, second) : undefined), {
			timeout: 10_000,
			interval: 20,
		});
		expect(done.steps[0]).toMatchObject({ state: "succeeded", attempts: 2 });
		expect(held.sent).toHaveLength(1);
		expect((await copies(b, second)).map((m) => m.text)).toEqual(["second"]);
	});

	it("keeps copies in commit order when a delivery to the same room is on the durable path", async ({ expect }) => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const stub = env.ROOM.getByName(a);
		// The first attempt's answer is lost: its task waits for a retry, so later ones may not go direct.
		let calls = 0;
		await runInDurableObject(stub, (instance) => {
			const real = instance.engine.directAttempt;
			instance.engine.directAttempt = async (tasks): Promise<TaskOutcome[]> => {
				calls++;
				return calls === 1 ? tasks.map(() => ({ status: "transient", code: "unavailable", message: "busy" })) : await real(tasks);
			};
		});
		const first = await crossPost(a, [b], "one");
		await vi.waitUntil(async () => (await saga(a, first)).steps[0]?.state === "pending", { timeout: 5000, interval: 10 });
		// Claimed at commit it would have gone out at once: it was not, it waits for the alarm behind the first.
		const second = await crossPost(a, [b], "two");
		expect(calls).toBe(1);
		const due = (await saga(a, first)).steps[0]?.nextAttemptAt ?? 0;
		await advanceClockTo(stub, due);
		await runDurableObjectAlarm(stub);
		await vi.waitUntil(async () => (await saga(a, second)).state === "succeeded", { timeout: 10_000, interval: 20 });
		const page = await env.ROOM.getByName(b).events({ after: 0, limit: 10 });
		expect(page.events.map((e) => (e.type === "message" ? e.text : e.type))).toEqual(["one", "two"]);
	});
});
