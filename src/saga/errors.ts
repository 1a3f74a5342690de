/**
 * @module
 * How failures of cross-room work are classified. Only transient and unknown ones are
 * retried; permanent ones end the task and start compensation.
 */
import type { ErrorCode } from "../errors.ts";
import type { TaskOutcomeCode } from "./types.ts";

export type ErrorClass = "permanent" | "transient" | "unknown";

/** Refusals a target room gives that no retry can change. */
const PERMANENT_CODES: ReadonlySet<string> = new Set<ErrorCode>(["read_only", "banned", "bad_request", "forbidden"]);
const TRANSIENT_CODES: ReadonlySet<string> = new Set<TaskOutcomeCode>(["rate_limited", "internal", "conflict", "fault"]);

/** Takes any string: a code may come from a target running another build. */
export function classifyCode(code: string): ErrorClass {
	if (PERMANENT_CODES.has(code)) return "permanent";
	if (TRANSIENT_CODES.has(code)) return "transient";
	return "unknown";
}

export class TimeoutError extends Error {
	constructor(what: string, ms: number) {
		super(`${what} timed out after ${ms} ms`);
		this.name = "TimeoutError";
	}
}

/** Classifies a thrown error: a timeout or a broken call may or may not have taken effect. */
export function classifyThrown(error: unknown): ErrorClass {
	if (error instanceof TimeoutError) return "unknown";
	// Durable Object errors carry these flags (see Cloudflare's DO error-handling guide):
	// `overloaded` must back off, `retryable` may be retried.
	if (typeof error === "object" && error !== null) {
		const flags = error as { retryable?: unknown; overloaded?: unknown };
		if (flags.overloaded === true || flags.retryable === true) return "transient";
	}
	return "unknown";
}

/** Races a promise against a timer; the timer is always cleared. */
export async function withTimeout<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	try {
		return await Promise.race([
			work,
			new Promise<never>((_, reject) => {
				timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
			}),
		]);
	} finally {
		if (timer !== undefined) clearTimeout(timer);
	}
}
