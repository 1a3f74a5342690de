/**
 * @module
 * Merging shard statistics into the contract's `/v1/admin/stats` answer.
 */
import { LATENCY_BUCKETS_MS, type ShardStats } from "./types.ts";

export interface Stats {
	tasks: Record<string, number>;
	sagas: Record<string, number>;
	latency: { buckets: Array<{ leMs: number | null; count: number }>; count: number; p50Ms: number | null; p99Ms: number | null };
	oldestPendingAgeMs: number | null;
	shards: number;
}

const TASK_STATES = ["pending", "processing", "succeeded", "failed", "skipped", "cancelled", "archived"];
const SAGA_STATES = ["running", "compensating", "succeeded", "compensated", "failed"];

function sum(into: Record<string, number>, from: Record<string, number>): void {
	for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
}

/** The upper bound of the bucket holding the q-quantile (null = above the last bound). */
function quantile(counts: number[], q: number): number | null {
	const total = counts.reduce((a, b) => a + b, 0);
	if (total === 0) return null;
	const rank = Math.ceil(q * total);
	let seen = 0;
	for (let i = 0; i < counts.length; i++) {
		seen += counts[i] ?? 0;
		if (seen >= rank) return LATENCY_BUCKETS_MS[i] ?? null;
	}
	return null;
}

export function mergeStats(shards: ShardStats[], now: number): Stats {
	const tasks = Object.fromEntries(TASK_STATES.map((s) => [s, 0]));
	const sagas = Object.fromEntries(SAGA_STATES.map((s) => [s, 0]));
	const counts = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
	let oldest: number | null = null;
	for (const shard of shards) {
		sum(tasks, shard.tasks);
		sum(sagas, shard.sagas);
		shard.latency.forEach((count, i) => {
			counts[i] = (counts[i] ?? 0) + count;
		});
		if (shard.oldestPendingCreatedAt !== null) oldest = Math.min(oldest ?? Infinity, shard.oldestPendingCreatedAt);
	}
	return {
		tasks,
		sagas,
		latency: {
			buckets: counts.map((count, i) => ({ leMs: LATENCY_BUCKETS_MS[i] ?? null, count })),
			count: counts.reduce((a, b) => a + b, 0),
			p50Ms: quantile(counts, 0.5),
			p99Ms: quantile(counts, 0.99),
		},
		oldestPendingAgeMs: oldest === null ? null : Math.max(0, now - oldest),
		shards: shards.length,
	};
}
