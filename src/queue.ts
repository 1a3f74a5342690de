/**
 * @module
 * The Queue consumer: carries out cross-room tasks against target rooms and reports each
 * outcome to the origin room, which owns the saga. Every message is acked or retried on
 * its own, never the whole batch for one failure. Every call has a timeout.
 */
import { configFor } from "./config.ts";
import { classifyThrown, withTimeout } from "./saga/errors.ts";
import { type FaultSettings, NO_FAULTS, shouldInjectFault } from "./saga/faults.ts";
import { originOf } from "./saga/ids.ts";
import type { TaskMessage, TaskOutcome } from "./saga/types.ts";

export const OUTBOX_QUEUE = "parley-outbox";
export const DEAD_LETTER_QUEUE = "parley-outbox-dlq";

/** A room call that takes longer is treated as "unknown": it may or may not have happened. */
const RPC_TIMEOUT_MS = 10_000;

/** Queue-level retry delay, for when a round could not even be reported to the origin. */
export function queueRetryDelaySeconds(attempts: number): number {
	return Math.min(60, 2 ** Math.max(0, attempts - 1));
}

function log(level: "info" | "warn" | "error", msg: string, task: TaskMessage, extra: Record<string, unknown> = {}): void {
	const line = JSON.stringify({ level, msg, traceId: task.traceId, taskId: task.taskId, room: task.targetRoom, ...extra });
	if (level === "error") console.error(line);
	else if (level === "warn") console.warn(line);
	else console.log(line);
}

async function loadFaults(env: Env): Promise<FaultSettings> {
	if (!configFor(env).faults) return NO_FAULTS;
	return await withTimeout("fault settings", RPC_TIMEOUT_MS, env.CONTROL.getByName("global").getFaults());
}

/** Runs one task at its target; a call that fails or times out becomes a retryable outcome. */
async function attempt(env: Env, task: TaskMessage, faults: FaultSettings): Promise<TaskOutcome> {
	const fault = shouldInjectFault(faults, task.kind, task.targetRoom);
	try {
		const call = async (): Promise<TaskOutcome> => await env.ROOM.getByName(task.targetRoom).applyTask(task, fault);
		return await withTimeout(`${task.kind} to ${task.targetRoom}`, RPC_TIMEOUT_MS, call());
	} catch (error) {
		const kind = classifyThrown(error);
		return { status: "transient", code: kind === "transient" ? "unavailable" : "unknown", message: error instanceof Error ? error.message : String(error) };
	}
}

/** The object that owns a task: its origin room, or the operator compensation it belongs to. */
function originStub(env: Env, origin: string) {
	const where = originOf(origin);
	return where.kind === "compensation" ? env.COMPENSATION.getByName(where.id) : env.ROOM.getByName(where.room);
}

async function runTask(env: Env, message: Message<TaskMessage>, faults: FaultSettings): Promise<void> {
	const task = message.body;
	const origin = originStub(env, task.originRoom);
	if (message.attempts > 1) {
		// A redelivery: the origin may have moved on (finished, cancelled, re-dispatched).
		// Ask it rather than guess, and act only on the attempt it is waiting for.
		const status = await withTimeout("task status", RPC_TIMEOUT_MS, origin.taskStatus(task.taskId));
		if (status === undefined || status.state !== "processing" || status.attempts !== task.attempt) {
			log("info", "stale task message dropped", task, { originState: status?.state ?? null });
			return;
		}
	}
	const receivedAt = Date.now();
	const outcome = await attempt(env, task, faults);
	log(outcome.status === "ok" ? "info" : "warn", `task ${outcome.status}`, task, { outcome });
	await withTimeout("task report", RPC_TIMEOUT_MS, origin.completeTask(task.taskId, task.attempt, outcome, { receivedAt, queueAttempts: message.attempts }));
}

export async function consumeOutbox(batch: MessageBatch<TaskMessage>, env: Env): Promise<void> {
	let faults: FaultSettings;
	try {
		faults = await loadFaults(env);
	} catch {
		faults = NO_FAULTS;
	}
	await Promise.all(
		batch.messages.map(async (message) => {
			try {
				await runTask(env, message, faults);
				message.ack();
			} catch (error) {
				// The round did not complete (the origin could not be told): try again later.
				log("error", "task round failed; queue will retry", message.body, { error: String(error), attempts: message.attempts });
				message.retry({ delaySeconds: queueRetryDelaySeconds(message.attempts) });
			}
		}),
	);
}

/** The dead-letter consumer: a task the queue gave up on is marked failed at its origin. */
export async function consumeDeadLetters(batch: MessageBatch<TaskMessage>, env: Env): Promise<void> {
	await Promise.all(
		batch.messages.map(async (message) => {
			const task = message.body;
			try {
				await withTimeout(
					"dead letter report",
					RPC_TIMEOUT_MS,
					originStub(env, task.originRoom).deadLetterTask(task.taskId, "dead-lettered: the queue exhausted its retries"),
				);
				log("error", "task dead-lettered", task);
				message.ack();
			} catch (error) {
				message.retry({ delaySeconds: queueRetryDelaySeconds(message.attempts) });
				log("error", "dead letter report failed", task, { error: String(error) });
			}
		}),
	);
}
