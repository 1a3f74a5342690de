/**
 * @module
 * A token bucket as pure functions over a small record, so it needs no timers. Shared by the
 * room (per-user limits), the control object and the client library (its own pacing), so it
 * imports nothing.
 */

/** A token bucket: `tokens` available at time `at` (ms). */
export interface Bucket {
	tokens: number;
	at: number;
}

export type Take = { ok: true; bucket: Bucket } | { ok: false; bucket: Bucket; retryAfterMs: number };

/** The burst for a rate: twice the per-second rate, per the contract. */
export function burstOf(ratePerSec: number): number {
	return ratePerSec * 2;
}

/** A full bucket for a new socket. */
export function fullBucket(ratePerSec: number, now: number): Bucket {
	return { tokens: burstOf(ratePerSec), at: now };
}

/** The tokens available at `now`, refilled at `ratePerSec` up to `burst`. */
function refill(bucket: Bucket, ratePerSec: number, burst: number, now: number): number {
	const elapsed = Math.max(0, now - bucket.at);
	return Math.min(burst, bucket.tokens + (elapsed * ratePerSec) / 1000);
}

/**
 * Takes `cost` tokens (default one, all or none; never more than a burst), refilling at
 * `ratePerSec` up to a burst of `2 * ratePerSec`. Rate 0 = off.
 */
export function takeToken(bucket: Bucket, ratePerSec: number, now: number, cost = 1): Take {
	if (ratePerSec <= 0) return { ok: true, bucket };
	const burst = burstOf(ratePerSec);
	const tokens = refill(bucket, ratePerSec, burst, now);
	const needed = Math.min(cost, burst);
	if (tokens >= needed) return { ok: true, bucket: { tokens: tokens - needed, at: now } };
	const retryAfterMs = Math.ceil(((needed - tokens) * 1000) / ratePerSec);
	return { ok: false, bucket: { tokens, at: now }, retryAfterMs };
}

/**
 * Takes up to `wanted` whole tokens at once (for bulk operations); `retryAfterMs` says when
 * the next token is due if fewer than wanted were granted.
 */
export function takeUpTo(
	bucket: Bucket,
	wanted: number,
	ratePerSec: number,
	burst: number,
	now: number,
): { granted: number; bucket: Bucket; retryAfterMs: number } {
	const tokens = refill(bucket, ratePerSec, burst, now);
	const granted = Math.max(0, Math.min(wanted, Math.floor(tokens)));
	const left = tokens - granted;
	const retryAfterMs = granted < wanted ? Math.ceil(((1 - (left % 1)) * 1000) / ratePerSec) : 0;
	return { granted, bucket: { tokens: left, at: now }, retryAfterMs };
}
