/**
 * @module
 * Trace ids are minted by the server, one per request at ingress. A caller's W3C
 * `traceparent` never becomes a trace id here: trace ids key what the operator's trace view
 * merges (the ops index records which rooms took part in a trace), so a caller who could
 * choose one could send another user's trace id and get its own rooms merged into the
 * victim's trace. The caller's context is kept only as a parent link (see `parentFrom`).
 */

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

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

/**
 * The trace id for a request: always a fresh one, whatever the `traceparent` header says.
 * The parameter stays so every ingress reads the header the same way; `parentFrom` keeps it.
 */
export function traceIdFrom(_traceparent: string | null | undefined): string {
	return newTraceId();
}

/**
 * The caller's `traceparent`, normalised (trimmed, lowercase), when it is a valid W3C one:
 * version `ff`, an all-zero trace id and an all-zero parent id are invalid. Kept only as
 * the parent link of the server's own trace, never as its id.
 */
export function parentFrom(traceparent: string | null | undefined): string | undefined {
	if (traceparent === null || traceparent === undefined) return undefined;
	const normalised = traceparent.trim().toLowerCase();
	const match = TRACEPARENT.exec(normalised);
	if (match === null) return undefined;
	const [, version, traceId, parentId] = match;
	if (version === "ff" || /^0+$/.test(traceId ?? "") || /^0+$/.test(parentId ?? "")) return undefined;
	return normalised;
}

/** Short random ids for messages, sagas and tasks (URL-safe). */
export function randomId(bytes = 9): string {
	return randomHex(bytes);
}
