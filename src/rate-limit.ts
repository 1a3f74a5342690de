/**
 * @module
 * Per-socket limits as pure functions over small records that live in the socket's
 * attachment, so they survive hibernation and need no timers.
 */

/** A token bucket: `tokens` available at time `at` (ms). */
export interface Bucket {
	tokens: number;
	at: number;
}

export type Take = { ok: true; bucket: Bucket } | { ok: false; bucket: Bucket; retryAfterMs: number };

/** A full bucket for a new socket. Burst is twice the per-second rate, per the contract. */
export function fullBucket(ratePerSec: number, now: number): Bucket {
	return { tokens: ratePerSec * 2, at: now };
}

/** Takes one token, refilling at `ratePerSec` up to a burst of `2 * ratePerSec`. Rate 0 = off. */
export function takeToken(bucket: Bucket, ratePerSec: number, now: number): Take {
	if (ratePerSec <= 0) return { ok: true, bucket };
	const burst = ratePerSec * 2;
	const elapsed = Math.max(0, now - bucket.at);
	const tokens = Math.min(burst, bucket.tokens + (elapsed * ratePerSec) / 1000);
	if (tokens >= 1) return { ok: true, bucket: { tokens: tokens - 1, at: now } };
	const retryAfterMs = Math.ceil(((1 - tokens) * 1000) / ratePerSec);
	return { ok: false, bucket: { tokens, at: now }, retryAfterMs };
}

/** Refused frames in a sliding-ish window: the count restarts when the window has passed. */
export interface AbuseWindow {
	count: number;
	since: number;
}

export const ABUSE_WINDOW_MS = 10_000;
export const ABUSE_MAX_REFUSED = 50;

/** Records one refused frame; `close` is true once more than 50 were refused within 10 s. */
export function recordRefusal(window: AbuseWindow, now: number): { window: AbuseWindow; close: boolean } {
	const current = now - window.since > ABUSE_WINDOW_MS ? { count: 0, since: now } : window;
	const next = { count: current.count + 1, since: current.since };
	return { window: next, close: next.count > ABUSE_MAX_REFUSED };
}
