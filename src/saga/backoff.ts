/**
 * @module
 * Retry delays for outbox tasks: exponential from the base, capped, with jitter so that
 * tasks failing together do not retry together. Pure: the random source is a parameter.
 */

/** No retry waits longer than this, whatever the attempt count. */
export const MAX_BACKOFF_MS = 10 * 60 * 1000;

/**
 * The delay before attempt `attempt + 1`, after `attempt` failed attempts (1-based).
 * "Equal jitter": half the exponential step is fixed, half random, so delays never shrink
 * below half the step and stay spread out.
 */
export function backoffDelay(attempt: number, baseMs: number, random: () => number = Math.random): number {
	const exponent = Math.max(0, attempt - 1);
	const step = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.min(exponent, 30));
	return Math.round(step / 2 + random() * (step / 2));
}

/** The lease a claimed task gets before the alarm may claim it again. */
export function leaseMs(baseMs: number): number {
	return Math.min(60_000, Math.max(5_000, baseMs * 30));
}
