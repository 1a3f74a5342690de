import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Identity } from "../../src/auth.ts";
import type { SagaView } from "../../src/saga/types.ts";
import { advanceClockTo, api, captureErrors, freshRoom, replaceQueue, token } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };

/** Replaces the room's queue producer; returns a function that puts the real one back. */
async function withQueue(room: string, sendBatch: () => Promise<void>): Promise<() => Promise<void>> {
	return await replaceQueue(room, { sendBatch });
}

async function sagaOf(origin: string, sagaId: string): Promise<SagaView> {
	const view = await env.ROOM.getByName(origin).saga(sagaId);
	if (view === undefined) throw new Error("no saga");
	return view;
}

async function startCrossPost(origin: string, targets: string[]): Promise<string> {
	const posted = await env.ROOM.getByName(origin).post(ann, { id: crypto.randomUUID(), text: "x", crossPost: targets }, "b".repeat(32));
	if (!posted.ok) throw new Error("send failed");
	const result = posted.value;
	if (result.sagaId === undefined) throw new Error("send failed");
	return result.sagaId;
}

async function alarmAndLive(origin: string): Promise<{ alarm: number | null; live: number }> {
	return await runInDurableObject(env.ROOM.getByName(origin), async (_instance, state) => ({
		alarm: await state.storage.getAlarm(),
		live: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE state IN ('pending', 'processing')").one().n,
	}));
}

/** Moves the origin's clock to the end of its (only) task's lease; a processing task's nextAttemptAt is its lease's end. */
async function leaseRunsOut(origin: string, sagaId: string): Promise<void> {
	const until = (await sagaOf(origin, sagaId)).steps[0]?.nextAttemptAt;
	if (until === undefined || until === null) throw new Error("no lease");
	await advanceClockTo(env.ROOM.getByName(origin), until);
}

async function setFaults(body: object): Promise<void> {
	const response = await api("/v1/admin/faults", {
		method: "POST",
		body: JSON.stringify(body),
		token: await token({ sub: "ops", role: "admin" }),
	});
	expect(response.status).toBe(200);
}

afterEach(async () => {
	await setFaults({});
});

describe("the alarm invariant", () => {
	it("keeps an alarm set while a failing queue send leaves tasks pending, then delivers", async () => {
		const errors = captureErrors();
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const restore = await withQueue(a, () => Promise.reject(new Error("queue down")));
		const sagaId = await startCrossPost(a, [b]);
		for (let i = 0; i < 3; i++) {
			// Skip the backoff wait so each alarm run is a fresh attempt: the clock moves to the retry.
			const due = (await sagaOf(a, sagaId)).steps[0]?.nextAttemptAt;
			if (due !== undefined && due !== null) await advanceClockTo(env.ROOM.getByName(a), due);
			await runDurableObjectAlarm(env.ROOM.getByName(a));
			const { alarm, live } = await alarmAndLive(a);
			expect(live).toBe(1);
			expect(alarm).not.toBeNull();
		}
		const task = (await sagaOf(a, sagaId)).steps[0];
		expect(task).toMatchObject({ state: "pending", lastError: expect.stringContaining("queue send failed") });
		expect(task?.attempts).toBeGreaterThanOrEqual(3);
		await restore();
		await vi.waitUntil(async () => (await sagaOf(a, sagaId)).state === "succeeded", { timeout: 15_000, interval: 50 });
		// With the work done and the index fed, the room ends with no alarm set.
		await vi.waitUntil(async () => (await alarmAndLive(a)).alarm === null, { timeout: 5000, interval: 20 });
		expect(await alarmAndLive(a)).toEqual({ alarm: null, live: 0 });
		expect(errors.seen("queue send failed")).toBe(true);
	});

	it("survives the alarm handler throwing repeatedly, with the alarm re-armed every time", async () => {
		const errors = captureErrors();
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const stub = env.ROOM.getByName(a);
		const restore = await withQueue(a, () => Promise.resolve());
		const sagaId = await startCrossPost(a, [b]);
		// Every write transaction of this instance fails, as a storage hiccup would make it.
		const real = await runInDurableObject(stub, (_instance, state) => {
			const original = state.storage.transactionSync;
			state.storage.transactionSync = () => {
				throw new Error("storage hiccup");
			};
			return original;
		});
		for (let i = 0; i < 7; i++) {
			await runDurableObjectAlarm(stub);
			const { alarm, live } = await alarmAndLive(a);
			expect([i, live, alarm === null]).toEqual([i, 1, false]);
		}
		// A new incarnation (fresh instance, working storage) picks the work up from the table.
		await runInDurableObject(stub, (_instance, state) => {
			state.storage.transactionSync = real;
		});
		await restore();
		await evictDurableObject(stub);
		await stub.saga(sagaId);
		await vi.waitUntil(async () => (await sagaOf(a, sagaId)).state === "succeeded", { timeout: 15_000, interval: 50 });
		expect(errors.seen("outbox alarm failed")).toBe(true);
	});

	it("re-arms on start when tasks are live but no alarm is set", async () => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const stub = env.ROOM.getByName(a);
		const restore = await withQueue(a, () => Promise.reject(new Error("queue down")));
		const sagaId = await startCrossPost(a, [b]);
		await runInDurableObject(stub, (_instance, state) => state.storage.deleteAlarm());
		await restore();
		await evictDurableObject(stub);
		expect(await alarmAndLive(a)).toMatchObject({ live: 1 });
		// Any call constructs a fresh instance, which finds live tasks and sets the alarm.
		await stub.saga(sagaId).catch(() => undefined);
		await vi.waitUntil(async () => (await sagaOf(a, sagaId)).state === "succeeded", { timeout: 15_000, interval: 50 });
	});
});

describe("leases", () => {
	it("re-claims a claimed task whose lease expired, once, as a new attempt", async () => {
		const [a, b] = [freshRoom("a"), freshRoom("b")];
		const stub = env.ROOM.getByName(a);
		// The queue swallows messages, as a killed runtime would lose them.
		const restore = await withQueue(a, () => Promise.resolve());
		const sagaId = await startCrossPost(a, [b]);
		await runDurableObjectAlarm(stub);
		expect((await sagaOf(a, sagaId)).steps[0]).toMatchObject({ state: "processing", attempts: 1 });
		await leaseRunsOut(a, sagaId);
		await runDurableObjectAlarm(stub);
		await runDurableObjectAlarm(stub);
		expect((await sagaOf(a, sagaId)).steps[0]).toMatchObject({ state: "processing", attempts: 2 });
		await restore();
		await leaseRunsOut(a, sagaId);
		await runDurableObjectAlarm(stub);
		await vi.waitUntil(async () => (await sagaOf(a, sagaId)).state === "succeeded", { timeout: 15_000, interval: 50 });
		expect((await sagaOf(a, sagaId)).steps[0]).toMatchObject({ state: "succeeded", attempts: 3 });
	});
});

describe("retries", () => {
	it("retries injected transient failures with backoff and still converges", async () => {
		const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
		await setFaults({ deliverFailRate: 0.5, rooms: [b, c] });
		const sagaIds = await Promise.all([0, 1, 2, 3, 4].map(() => startCrossPost(a, [b, c])));
		for (const sagaId of sagaIds) {
			await vi.waitUntil(async () => ["succeeded", "compensated"].includes((await sagaOf(a, sagaId)).state), {
				timeout: 20_000,
				interval: 50,
			});
		}
		const views = await Promise.all(sagaIds.map((id) => sagaOf(a, id)));
		expect(views.some((v) => v.steps.some((s) => s.attempts > 1))).toBe(true);
		for (const room of [b, c]) {
			const page = await env.ROOM.getByName(room).events({ after: 0, limit: 100 });
			for (const view of views) {
				const live = page.events.filter(
					(e) => e.type === "message" && e.from?.sagaId === view.sagaId && e.retractedBy === undefined,
				);
				expect(live.length).toBe(view.state === "succeeded" ? 1 : 0);
			}
			// Copies from one origin show in origin order.
			const order = page.events
				.filter((e) => e.type === "message")
				.map((e) => (e.type === "message" ? sagaIds.indexOf(e.from?.sagaId ?? "") : -1));
			expect(order).toEqual([...order].sort((x, y) => x - y));
		}
	});

	it("fails a task whose attempts are exhausted and compensates its saga", async () => {
		const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
		await setFaults({ deliverFailRate: 1, rooms: [c] });
		const sagaId = await startCrossPost(a, [b, c]);
		await vi.waitUntil(async () => (await sagaOf(a, sagaId)).state === "compensated", { timeout: 30_000, interval: 100 });
		const view = await sagaOf(a, sagaId);
		const deliverC = view.steps.find((s) => s.room === c && s.kind === "deliver");
		expect(deliverC).toMatchObject({ state: "failed", attempts: 8, lastError: expect.stringContaining("fault") });
		// c may have been attempted, so it gets a retract too; b's copy was retracted.
		const copies = await env.ROOM.getByName(b).events({ after: 0, limit: 10 });
		expect(copies.events.map((e) => e.type)).toEqual(["message", "retract"]);
	}, 40_000);
});
