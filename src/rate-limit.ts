/**
 * @module
 * Limits as pure functions over small records, so they need no timers: a token bucket per
 * user per room (shared by all the user's sockets and HTTP posts), and an abuse window per socket.
 */
import { type Bucket, burstOf, fullBucket, takeToken } from "./token-bucket.ts";

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
