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

// -----------------------------------------------------------------------------------------
// W3C trace context (https://www.w3.org/TR/trace-context/) carried beyond the ingress
// -----------------------------------------------------------------------------------------

/**
 * One hop's trace context: the server's own trace id, this hop's span id, whether the caller
 * asked for sampling, and what came in with the request (the caller's `traceparent`, kept as
 * the parent link, and its `tracestate`, passed on untouched).
 */
export interface TraceContext {
	traceId: string;
	spanId: string;
	sampled: boolean;
	parent?: string;
	tracestate?: string;
}

/** A fresh span id: 16 lowercase hex digits, never all zero. */
export function newSpanId(): string {
	return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}

/** FNV-1a over a string with a seed; two of them make a 64-bit span id. */
function fnv(text: string, seed: number): number {
	let hash = seed;
	for (let i = 0; i < text.length; i++) {
		hash ^= text.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193);
	}
	return hash >>> 0;
}

/**
 * A span id derived from a key (a task id and attempt): the alarm that dispatches an attempt
 * and the consumer that receives it name the same span without storing it anywhere.
 */
export function spanIdFor(key: string): string {
	const id = `${fnv(key, 0x811c9dc5).toString(16).padStart(8, "0")}${fnv(key, 0x050c5d1f).toString(16).padStart(8, "0")}`;
	return /^0+$/.test(id) ? "0000000000000001" : id;
}

/** `00-<trace id>-<span id>-<flags>`. */
export function formatTraceparent(traceId: string, spanId: string, sampled = true): string {
	return `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`;
}

/** The trace id, parent span id and sampled flag of a valid `traceparent`. */
export function parseTraceparent(
	traceparent: string | null | undefined,
): { traceId: string; spanId: string; sampled: boolean } | undefined {
	const valid = parentFrom(traceparent);
	if (valid === undefined) return undefined;
	const [, traceId = "", spanId = "", flags = "00"] = valid.split("-");
	return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

const TRACESTATE_KEY = /^([a-z0-9][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})$/;
const TRACESTATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * A caller's `tracestate`, when it is valid: at most 32 `key=value` members, 512 characters in
 * all, keys unique. Anything else is dropped whole (the spec allows that), never repaired.
 */
export function tracestateFrom(header: string | null | undefined): string | undefined {
	if (header === null || header === undefined) return undefined;
	const trimmed = header.trim();
	if (trimmed === "" || trimmed.length > 512) return undefined;
	const members = trimmed
		.split(",")
		.map((member) => member.trim())
		.filter((member) => member !== "");
	if (members.length === 0 || members.length > 32) return undefined;
	const keys = new Set<string>();
	for (const member of members) {
		const eq = member.indexOf("=");
		if (eq <= 0) return undefined;
		const key = member.slice(0, eq);
		if (!TRACESTATE_KEY.test(key) || !TRACESTATE_VALUE.test(member.slice(eq + 1)) || keys.has(key)) return undefined;
		keys.add(key);
	}
	return members.join(",");
}

/**
 * The context of a request at ingress: a minted trace id (see the module comment), a new span,
 * the caller's sampling decision (sampled when it sent none), its `traceparent` as the parent
 * link and its `tracestate` to pass on.
 */
export function ingressContext(traceparent: string | null | undefined, tracestate: string | null | undefined): TraceContext {
	const parent = parentFrom(traceparent);
	const state = tracestateFrom(tracestate);
	const context: TraceContext = { traceId: newTraceId(), spanId: newSpanId(), sampled: parseTraceparent(parent)?.sampled ?? true };
	if (parent !== undefined) context.parent = parent;
	if (state !== undefined) context.tracestate = state;
	return context;
}

/** The `traceparent` a hop sends onwards: its trace, its own span as the parent. */
export function traceparentOf(context: TraceContext): string {
	return formatTraceparent(context.traceId, context.spanId, context.sampled);
}

/**
 * A child hop of a received `traceparent` (a queue consumer's RPC to a room): same trace id and
 * flags, a new span. A missing or invalid one starts from the trace id alone.
 */
export function childTraceparent(received: string | undefined, traceId: string, spanId = newSpanId()): string {
	const parsed = parseTraceparent(received);
	if (parsed === undefined || parsed.traceId !== traceId) return formatTraceparent(traceId, spanId);
	return formatTraceparent(parsed.traceId, spanId, parsed.sampled);
}

/** What a response says of the trace that served it: its `traceparent`, and the caller's `tracestate` as it came. */
export function traceResponseHeaders(context: TraceContext): Array<[string, string]> {
	const headers: Array<[string, string]> = [["traceparent", traceparentOf(context)]];
	if (context.tracestate !== undefined) headers.push(["tracestate", context.tracestate]);
	return headers;
}

/** ` · via <span id>` for a span's detail, when a hop passed its trace context on. */
export function viaSpan(traceparent: string | undefined): string {
	const span = parseTraceparent(traceparent)?.spanId;
	return span === undefined ? "" : ` · via ${span}`;
}

/**
 * The `traceparent` an attempt travels with: the attempt's own span of the task's trace,
 * derived from the task id and attempt, so the dispatcher (the alarm, or an origin's direct
 * attempt) and whoever receives it name the same span without storing it anywhere.
 */
export function attemptTraceparent(task: { taskId: string; traceId: string; attempt: number }): string {
	return formatTraceparent(task.traceId, spanIdFor(`${task.taskId}#${task.attempt}`));
}
