/**
 * @module
 * The reconnect schedule: exponential growth with full jitter.
 *
 * The ceiling for attempt `n` (0-based) is `min(maxMs, minMs * factor^n)` and the delay is
 * drawn uniformly from `[0, ceiling]`. Full jitter (rather than "ceiling ± a bit") is what
 * spreads a crowd of clients that all lost the same server at the same instant: their
 * reconnects land anywhere in the window instead of in a spike at its end.
 */

export interface BackoffOptions {
	/** Ceiling of the first delay, in ms. */
	minMs: number;
	/** Largest ceiling any delay can reach, in ms. */
	maxMs: number;
	/** How much the ceiling grows per failed attempt. */
	factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 500, maxMs: 30_000, factor: 2 };

/** One step of the schedule: which attempt it is, its ceiling and the jittered delay. */
export interface BackoffStep {
	attempt: number;
	capMs: number;
	delayMs: number;
}

/** Throws on options that would make the schedule meaningless (NaN, shrinking, negative). */
export function checkBackoffOptions(options: BackoffOptions): BackoffOptions {
	const { minMs, maxMs, factor } = options;
	if (!(Number.isFinite(minMs) && minMs >= 0)) throw new RangeError("backoff.minMs must be a finite number >= 0");
	if (!(Number.isFinite(maxMs) && maxMs >= minMs)) throw new RangeError("backoff.maxMs must be a finite number >= minMs");
	if (!(Number.isFinite(factor) && factor >= 1)) throw new RangeError("backoff.factor must be a finite number >= 1");
	return options;
}

/** The ceiling of attempt `attempt` (0-based). */
export function backoffCap(attempt: number, options: BackoffOptions): number {
	// Computed by repeated multiplication with an early exit, so a long outage cannot
	// overflow to Infinity (factor^1000) and the result is exactly maxMs once reached.
	let cap = options.minMs;
	for (let i = 0; i < attempt && cap < options.maxMs; i++) cap *= options.factor;
	return Math.min(cap, options.maxMs);
}

/** A full-jitter delay for attempt `attempt`; `random` returns values in [0, 1). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
	return Math.floor(random() * (backoffCap(attempt, options) + 1));
}

/**
 * The stateful schedule a connection loop uses: `next()` after each failure, `reset()` once a
 * connection has proven itself (it was up and synced), so one bad minute long ago does not
 * make the next blip wait 30 s.
 */
export class Backoff {
	readonly options: BackoffOptions;
	readonly #random: () => number;
	#attempt = 0;

	constructor(options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random) {
		this.options = checkBackoffOptions(options);
		this.#random = random;
	}

	/** How many delays have been handed out since the last reset. */
	get attempt(): number {
		return this.#attempt;
	}

	next(): BackoffStep {
		const attempt = this.#attempt++;
		const capMs = backoffCap(attempt, this.options);
		const delayMs = Math.min(capMs, Math.floor(this.#random() * (capMs + 1)));
		return { attempt, capMs, delayMs };
	}

	reset(): void {
		this.#attempt = 0;
	}
}
