/**
 * @module
 * Grouping claimed tasks into queue messages: the tasks for one target room and of one kind
 * travel together, in claim (commit) order, so a target applies a whole line of deliveries
 * in one call. A batch stays well under the queue's 128 KB message limit. And how a target (a
 * room or an inbox) goes through a batch it is handed (`applyInOrder`).
 */
import type { TaskBatch, TaskMessage, TaskOutcome } from "./types.ts";

/**
 * Applies a batch at its target, in order: an injected fault (`faults[i]`) is refused `fault`
 * without applying the task, and once one task does not go through the rest are answered
 * `deferred` (they come again, so they never overtake it). `onFault` lets a target note the
 * fault (a room's span). The caller holds the transaction.
 */
export function applyInOrder(
	tasks: readonly TaskMessage[],
	faults: readonly boolean[],
	apply: (task: TaskMessage) => TaskOutcome,
	onFault: (task: TaskMessage) => void = () => undefined,
): TaskOutcome[] {
	const done: TaskOutcome[] = [];
	for (const [i, task] of tasks.entries()) {
		if (done.some((outcome) => outcome.status !== "ok")) {
			done.push({ status: "deferred", code: "deferred", message: "an earlier task of the batch did not go through" });
		} else if (faults[i] === true) {
			onFault(task);
			done.push({ status: "transient", code: "fault", message: "injected fault (FAULTS=on)" });
		} else {
			done.push(apply(task));
		}
	}
	return done;
}

/** Leaves room for the queue's own metadata under its 128 KB limit. */
export const MAX_BATCH_BYTES = 96 * 1024;

export function batchTasks(tasks: readonly TaskMessage[], maxBytes = MAX_BATCH_BYTES): TaskBatch[] {
	const open = new Map<string, { batch: TaskBatch; bytes: number }>();
	const batches: TaskBatch[] = [];
	for (const task of tasks) {
		const key = `${task.kind}\\u0000${task.targetRoom}`;
		const size = JSON.stringify(task).length;
		let current = open.get(key);
		if (current === undefined || current.bytes + size > maxBytes) {
			current = { batch: { tasks: [] }, bytes: 0 };
			open.set(key, current);
			batches.push(current.batch);
		}
		current.batch.tasks.push(task);
		current.bytes += size;
	}
	return batches;
}
