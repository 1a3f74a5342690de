/**
 * @module
 * Grouping claimed tasks into queue messages: the tasks for one target room and of one kind
 * travel together, in claim (commit) order, so a target applies a whole line of deliveries
 * in one call. A batch stays well under the queue's 128 KB message limit.
 */
import type { TaskBatch, TaskMessage } from "./types.ts";

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
