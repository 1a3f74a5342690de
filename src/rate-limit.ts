/**
 * @module
 * Limits as pure functions over small records, so they need no timers: a token bucket per
 * user per room (shared by all the user's sockets and HTTP posts), and an abuse window per socket.
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

/**
 * What opening a socket costs in a user's allowance: a new socket is welcomed with a replay of
 * up to 500 events, so reconnecting in a loop would otherwise be the cheapest flood there is.
 * An honest client reconnects seldom and never notices.
 */
export const SOCKET_OPEN_COST = 5;

/**
 * One token bucket per user, shared by every socket and HTTP post of that user in one room, so
 * opening more sockets or reconnecting never buys a bigger allowance. Kept in the room's memory:
 * a room hibernates only after 10 s without events, by which time every bucket has refilled
 * (a full burst takes 2 s), so a bucket lost with the memory is the same as the full one a
 * wake starts with. Buckets that have refilled are forgotten once the map grows.
 */
export class UserBuckets {
	readonly #buckets = new Map<string, Bucket>();
	private readonly ratePerSec: number;
	private readonly maxTracked: number;

	constructor(ratePerSec: number, maxTracked = 10_000) {
		this.ratePerSec = ratePerSec;
		this.maxTracked = maxTracked;
	}

	/**
	 * Takes `cost` tokens for `userId` (all or none); `retryAfterMs` says when they will be there.
	 * A frame or a post costs 1; opening a socket costs more (see SOCKET_OPEN_COST).
	 */
	take(userId: string, now: number, cost = 1): { ok: true } | { ok: false; retryAfterMs: number } {
		if (this.ratePerSec <= 0) return { ok: true };
		const taken = takeToken(this.#buckets.get(userId) ?? fullBucket(this.ratePerSec, now), this.ratePerSec, now, cost);
		this.#buckets.set(userId, taken.bucket);
		if (this.#buckets.size > this.maxTracked) this.#forgetFull(now);
		return taken.ok ? { ok: true } : { ok: false, retryAfterMs: taken.retryAfterMs };
	}

	/** How many users have a bucket that is not full (for tests and stats). */
	get size(): number {
		return this.#buckets.size;
	}

	#forgetFull(now: number): void {
		const refillMs = (burstOf(this.ratePerSec) * 1000) / this.ratePerSec;
		for (const [userId, bucket] of this.#buckets) if (now - bucket.at >= refillMs) this.#buckets.delete(userId);
	}
}
