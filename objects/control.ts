/**
 * Deployment-wide switches that every Worker isolate must see alike: the fault injection
 * setting for rehearsals (only reachable when FAULTS is "on") and the bulk-retry budget.
 * One object by design: it is read once per queue batch or operator call, never on the
 * chat path.
 */
import { DurableObject } from "cloudflare:workers";
import { type Bucket, takeUpTo } from "../src/token-bucket.ts";
import type { FaultSettings } from "../src/saga/faults.ts";
import { NO_FAULTS } from "../src/saga/faults.ts";

/** Bulk retries across the deployment: a burst of 50 tasks, then 5 per second. */
const BULK_RETRY_BURST = 50;
const BULK_RETRY_PER_SEC = 5;

export class Control extends DurableObject<Env> {
	async getFaults(): Promise<FaultSettings> {
		return (await this.ctx.storage.get<FaultSettings>("faults")) ?? NO_FAULTS;
	}

	async setFaults(faults: FaultSettings): Promise<FaultSettings> {
		await this.ctx.storage.put("faults", faults);
		return faults;
	}

	/** Grants up to `wanted` task retries from the shared bulk-retry budget. */
	async takeBulkRetry(wanted: number, now: number): Promise<{ granted: number; retryAfterMs: number }> {
		const bucket = (await this.ctx.storage.get<Bucket>("bulk-retry")) ?? { tokens: BULK_RETRY_BURST, at: now };
		const take = takeUpTo(bucket, wanted, BULK_RETRY_PER_SEC, BULK_RETRY_BURST, now);
		await this.ctx.storage.put("bulk-retry", take.bucket);
		return { granted: take.granted, retryAfterMs: take.retryAfterMs };
	}
}
