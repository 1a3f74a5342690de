import { env } from "cloudflare:workers";
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm } from "cloudflare:test";
import { describe, it } from "vitest";
import worker from "../../src/index.ts";
import type { QueueBody } from "../../src/queue.ts";
import type { Identity } from "../../src/auth.ts";
import type { TaskBatch, TaskMessage } from "../../src/saga/types.ts";
import { captureErrors, freshRoom, replaceQueue, roomAlerts } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };

/** A cross-post whose queue sends are swallowed, claimed once: its task is processing. */
async function claimedTask(): Promise<{ origin: string; target: string; task: TaskMessage }> {
	const [origin, target] = [freshRoom("a"), freshRoom("b")];
	const stub = env.ROOM.getByName(origin);
	const sent: TaskBatch[] = [];
	await replaceQueue(origin, { sendBatch: async (messages) => void sent.push(...messages.map((m) => m.body)) });
	const posted = await stub.post(ann, { id: "x", text: "hello", crossPost: [target] }, "e".repeat(32));
	if (!posted.ok) throw new Error("send failed");
	await runDurableObjectAlarm(stub);
	const task = sent[0]?.tasks[0];
	if (task === undefined) throw new Error("nothing was dispatched");
	return { origin, target, task };
}

function batchOf(queue: string, bodies: QueueBody[], attempts = 1) {
	return createMessageBatch<QueueBody>(
		queue,
		bodies.map((body, i) => ({ id: `m${i}`, timestamp: Date.now(), attempts, body })),
	);
}

describe("the queue consumer", () => {
	it("applies a batch at its target, reports to the origin and acks each message on its own", async ({ expect }) => {
		const errors = captureErrors();
		const { origin, target, task } = await claimedTask();
		const ctx = createExecutionContext();
		// A second message whose origin cannot be told (its calls fail).
		const broken: TaskMessage = { ...task, taskId: `${task.taskId}-2`, origin: { kind: "room", id: "unreachable" } };
		const ROOM = {
			getByName: (name: string) =>
				name === "unreachable"
					? { completeTasks: async () => await Promise.reject(new Error("origin down")) }
					: env.ROOM.getByName(name),
		};
		const batch = batchOf("parley-dev-outbox", [{ tasks: [task] }, { tasks: [broken] }]);
		await worker.queue(batch, { ...env, ROOM } as unknown as Env);
		const result = await getQueueResult(batch, ctx);
		// The good message is acked; the one whose origin cannot be told is retried alone.
		expect(result.explicitAcks).toEqual(["m0"]);
		expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
		expect(result.retryBatch.retry).toBe(false);
		expect((await env.ROOM.getByName(origin).taskStatus(task.taskId))?.state).toBe("succeeded");
		const copies = await env.ROOM.getByName(target).events({ after: 0, limit: 10 });
		expect(copies.events).toHaveLength(1);
		expect(errors.seen("task round failed")).toBe(true);
	});

	it("applies a message sent before tasks named their origin (`originRoom` only)", async ({ expect }) => {
		const { origin, target, task } = await claimedTask();
		expect(task.origin).toEqual({ kind: "room", id: origin });
		const ctx = createExecutionContext();
		const { origin: _now, ...rest } = task;
		const batch = batchOf("parley-dev-outbox", [{ tasks: [{ ...rest, originRoom: origin }] }]);
		await worker.queue(batch, env);
		expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m0"]);
		expect((await env.ROOM.getByName(origin).taskStatus(task.taskId))?.state).toBe("succeeded");
		const copies = (await env.ROOM.getByName(target).events({ after: 0, limit: 10 })).events;
		expect(copies).toEqual([expect.objectContaining({ type: "message", from: expect.objectContaining({ room: origin }) })]);
	});

	it("drops a redelivered message the origin no longer waits for", async ({ expect }) => {
		const { target, task } = await claimedTask();
		const ctx = createExecutionContext();
		const stale: TaskMessage = { ...task, attempt: task.attempt + 5 };
		const batch = batchOf("parley-dev-outbox", [{ tasks: [stale] }], 2);
		await worker.queue(batch, env);
		expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m0"]);
		expect((await env.ROOM.getByName(target).events({ after: 0, limit: 10 })).events).toEqual([]);
	});

	it("marks a dead-lettered task failed at its origin, and alerts", async ({ expect }) => {
		const errors = captureErrors();
		const { origin, task } = await claimedTask();
		const ctx = createExecutionContext();
		const batch = batchOf("parley-dev-outbox-dlq", [{ tasks: [task] }]);
		await worker.queue(batch, env);
		expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m0"]);
		const failed = await env.ROOM.getByName(origin).taskStatus(task.taskId);
		expect(failed).toMatchObject({ state: "failed", lastError: expect.stringContaining("dead-lettered") });
		const alerts = await roomAlerts(origin);
		expect(alerts).toEqual([expect.objectContaining({ kind: "task_failed", taskId: task.taskId })]);
		expect(errors.seen("task dead-lettered")).toBe(true);
	});
});
