/**
 * @module
 * The typing throttle: a room passes on at most one `typing` per user per TYPING_INTERVAL_MS,
 * judged from timestamps (no timers, so it never holds a room awake).
 *
 * It lives in the room's memory only. Typing is ephemeral, so losing it costs at most one
 * extra `typing` frame per user after a restart; and a room hibernates only after 10 s without
 * events, longer than the interval, so the empty throttle a wake starts with is the same state.
 */
import { TYPING_INTERVAL_MS } from "./protocol.ts";

export class TypingThrottle {
	/** When each user's last `typing` was passed on. */
	readonly #passed = new Map<string, number>();
	readonly #intervalMs: number;
	readonly #maxTracked: number;

	constructor(intervalMs = TYPING_INTERVAL_MS, maxTracked = 10_000) {
		this.#intervalMs = intervalMs;
		this.#maxTracked = maxTracked;
	}

	/**
	 * Whether a `typing` from `userId` at `now` is passed on (and, if so, records it). A clock
	 * that went backwards passes it and starts the interval again, so no user is held off
	 * until it catches up.
	 */
	pass(userId: string, now: number): boolean {
		const last = this.#passed.get(userId);
		if (last !== undefined && now < last + this.#intervalMs && now >= last) return false;
		this.#passed.set(userId, now);
		if (this.#passed.size > this.#maxTracked) this.#forgetExpired(now);
		return true;
	}

	/** How many users are remembered (bounded by maxTracked plus the users of one interval). */
	get size(): number {
		return this.#passed.size;
	}

	#forgetExpired(now: number): void {
		for (const [userId, at] of this.#passed) if (now - at >= this.#intervalMs) this.#passed.delete(userId);
	}
}
