/**
 * @module
 * Trace ids: a W3C `traceparent` header sets one, otherwise one is made at ingress.
 */

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

function randomHex(bytes: number): string {
	const buffer = crypto.getRandomValues(new Uint8Array(bytes));
	let out = "";
	for (const byte of buffer) out += byte.toString(16).padStart(2, "0");
	return out;
}

/** A fresh trace id: 32 lowercase hex digits, never all zero. On the hot path of every
 * send, so it uses the runtime's native UUID generator rather than a byte loop. */
export function newTraceId(): string {
	return crypto.randomUUID().replaceAll("-", "");
}

/** The trace id from a `traceparent` header, or a new one when it is absent or invalid. */
export function traceIdFrom(traceparent: string | null | undefined): string {
	const match = traceparent ? TRACEPARENT.exec(traceparent.trim().toLowerCase()) : null;
	const id = match?.[1];
	// The spec forbids the all-zero trace id.
	return id !== undefined && !/^0+$/.test(id) ? id : newTraceId();
}

/** Short random ids for messages, sagas and tasks (URL-safe). */
export function randomId(bytes = 9): string {
	return randomHex(bytes);
}
