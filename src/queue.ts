/**
 * @module
 * The Queue consumer: carries out cross-room tasks against target rooms and reports each
 * outcome to the origin room, which owns the saga. Every message is acked or retried on
 * its own, never the whole batch for one failure. Every call has a timeout.
 */
import { configFor } from "./config.ts";
import { inboxUserOf } from "./inbox-protocol.ts";
import { classifyThrown, withTimeout } from "./saga/errors.ts";
import { type FaultSettings, NO_FAULTS, shouldInjectFault } from "./saga/faults.ts";
import { originOfRecord } from "./saga/ids.ts";
import { childTraceparent, newSpanId } from "./trace.ts";
import { TASK_OUTCOME_CODES, type TaskBatch, type TaskMessage, type TaskOrigin, type TaskOutcome, type TaskReport } from "./saga/types.ts";

/**
 * Whether a batch comes from a dead-letter queue. Development and production use their own
 * queues (`parley-dev-outbox…` and `parley-outbox…`, see wrangler.toml), so a deployed dev
 * Worker never consumes production's tasks; the dead-letter ones end in `-dlq` in both.
 */
export function isDeadLetterQueue(queue: string): boolean {
	return queue.endsWith("-dlq");
}

/** A room call that takes longer is treated as "unknown": it may or may not have happened. */
const RPC_TIMEOUT_MS = 10_000;

/** Queue-level retry delay, for when a round could not even be reported to the origin. */
export function queueRetryDelaySeconds(attempts: number): number {
	return Math.min(60, 2 ** Math.max(0, attempts - 1));
}

function log(level: "info" | "warn" | "error", msg: string, task: TaskMessage, extra: Record<string, unknown> = {}): void {
	const line = JSON.stringify({
		level,
		msg,
		traceId: task.traceId,
		traceparent: task.traceparent,
		taskId: task.taskId,
		room: task.targetRoom,
		...extra,
	});
	if (level === "error") console.error(line);
	else if (level === "warn") console.warn(line);
	else console.log(line);
}

/** The fault settings (FAULTS=on only), for the consumer and for an origin's direct attempts. */
export async function loadFaults(env: Env): Promise<FaultSettings> {
	if (!configFor(env).faults) return NO_FAULTS;
	return await withTimeout("fault settings", RPC_TIMEOUT_MS, env.CONTROL.getByName("global").getFaults());
}

/**
 * A task as builds before moderations had an origin of their own sent it: `originRoom` named a
 * room or a moderation's `cmp@…` id. Such messages may still be in flight across the upgrade.
 */
type LegacyTaskMessage = Omit<TaskMessage, "origin"> & { origin?: TaskOrigin; originRoom?: string };

/** What the consumer reads: a batch, or a single task from a build that sent them one by one. */
export type QueueBody = TaskBatch | TaskMessage | { tasks: LegacyTaskMessage[] } | LegacyTaskMessage;

/** A queue message body's tasks, each with its origin (filled in for a message of an older build). */
function tasksOf(body: QueueBody): TaskMessage[] {
	const tasks: LegacyTaskMessage[] = "tasks" in body ? body.tasks : [body];
	return tasks.map((task) => ({ ...task, origin: originOfRecord(task) }));
}

/**
/**
 * The tasks as the consumer hands them on: each with a child of the trace context it came
 * with, the consumer's own span (one per round) as the parent of the room calls it makes.
 */
export function withConsumerSpan(tasks: readonly TaskMessage[], spanId: string = newSpanId()): TaskMessage[] {
	return tasks.map((task) => ({ ...task, traceparent: childTraceparent(task.traceparent, task.traceId, spanId) }));
}

/**
 * Runs a batch at its target (a room or an inbox); a call that fails or times out makes every task retryable.
 * The consumer and an origin's direct first attempt (objects/task-engine.ts) both use it.
 */
export async function attempt(env: Env, tasks: TaskMessage[], faults: FaultSettings, spans = true): Promise<TaskOutcome[]> {
	const first = tasks[0];
	if (first === undefined) return [];
	const injected = tasks.map((task) => shouldInjectFault(faults, task.kind, task.targetRoom));
	// A target is a room, or (v1.4) a user's inbox: both apply a batch through their barrier.
	const user = inboxUserOf(first.targetRoom);
	try {
		const call = async (): Promise<TaskOutcome[]> =>
			user === undefined
				? await env.ROOM.getByName(first.targetRoom).applyTasks(tasks, injected, spans)
				: await env.INBOX.getByName(user).applyTasks(tasks, injected, spans);
		return await withTimeout(`${first.kind} to ${first.targetRoom}`, RPC_TIMEOUT_MS, call());
	} catch (error) {
		const kind = classifyThrown(error);
		const message = error instanceof Error ? error.message : String(error);
		const code = kind === "transient" ? "unavailable" : TASK_OUTCOME_CODES.unknown;
		return tasks.map(() => ({ status: "transient", code, message }));
	}
}

/** The object that owns a task: its origin room, or the operator moderation it belongs to. */
function originStub(env: Env, origin: TaskOrigin) {
	return origin.kind === "moderation" ? env.MODERATION.getByName(origin.id) : env.ROOM.getByName(origin.id);
}

async function runBatch(env: Env, message: Message<QueueBody>, faults: FaultSettings): Promise<void> {
	let tasks = tasksOf(message.body);
	const first = tasks[0];
	if (first === undefined) return;
	// Every task of a batch comes from one origin (one room's alarm sent it).
	const origin = originStub(env, first.origin);
	if (message.attempts > 1) {
		// A redelivery: the origin may have moved on (finished, cancelled, re-dispatched).
		// Ask it rather than guess, and act only on the attempts it is still waiting for.
		const statuses = await Promise.all(
			tasks.map(async (task) => await withTimeout("task status", RPC_TIMEOUT_MS, origin.taskStatus(task.taskId))),
		);
		const wanted = tasks.filter((task, i) => statuses[i]?.state === "processing" && statuses[i]?.attempts === task.attempt);
		for (const task of tasks) if (!wanted.includes(task)) log("info", "stale task message dropped", task);
		tasks = wanted;
		if (tasks.length === 0) return;
	}
	const receivedAt = Date.now();
	tasks = withConsumerSpan(tasks);
	const outcomes = await attempt(env, tasks, faults);
	const reports: TaskReport[] = tasks.map((task, i) => {
		const outcome: TaskOutcome = outcomes[i] ?? { status: "transient", code: TASK_OUTCOME_CODES.unknown, message: "no outcome" };
		log(outcome.status === "ok" ? "info" : "warn", `task ${outcome.status}`, task, { outcome });
		return { taskId: task.taskId, attempt: task.attempt, outcome };
	});
	const traceparent = tasks[0]?.traceparent;
	const note =
		traceparent === undefined
			? { receivedAt, queueAttempts: message.attempts }
			: { receivedAt, queueAttempts: message.attempts, traceparent };
	await withTimeout("task report", RPC_TIMEOUT_MS, origin.completeTasks(reports, note));
}

export async function consumeOutbox(batch: MessageBatch<QueueBody>, env: Env): Promise<void> {
	let faults: FaultSettings;
	try {
		faults = await loadFaults(env);
	} catch {
		faults = NO_FAULTS;
	}
	await Promise.all(
		batch.messages.map(async (message) => {
			try {
				await runBatch(env, message, faults);
				message.ack();
			} catch (error) {
				// The round did not complete (the origin could not be told): try again later.
				const first = tasksOf(message.body)[0];
				if (first !== undefined)
					log("error", "task round failed; queue will retry", first, { error: String(error), attempts: message.attempts });
				message.retry({ delaySeconds: queueRetryDelaySeconds(message.attempts) });
			}
		}),
	);
}

/** The dead-letter consumer: a task the queue gave up on is marked failed at its origin. */
export async function consumeDeadLetters(batch: MessageBatch<QueueBody>, env: Env): Promise<void> {
	await Promise.all(
		batch.messages.map(async (message) => {
			const tasks = tasksOf(message.body);
			try {
				for (const task of tasks) {
					await withTimeout(
						"dead letter report",
						RPC_TIMEOUT_MS,
						originStub(env, task.origin).deadLetterTask(task.taskId, "dead-lettered: the queue exhausted its retries"),
					);
					log("error", "task dead-lettered", task);
				}
				message.ack();
			} catch (error) {
				message.retry({ delaySeconds: queueRetryDelaySeconds(message.attempts) });
				const first = tasks[0];
				if (first !== undefined) log("error", "dead letter report failed", first, { error: String(error) });
			}
		}),
	);
}
