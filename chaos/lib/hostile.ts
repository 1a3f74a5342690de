/**
 * @module
 * The hostile catalogue: socket frames and HTTP requests that the server must refuse. Each
 * frame says what it must get (an error frame, or the close code 1009 for frames over
 * MAX_FRAME_BYTES); each request lists the statuses the contract allows for it. Several are
 * valid sends in disguise (prototype pollution, a JSON send in a binary frame): if the server
 * were fooled, an event would appear in history, which the audit reports as a phantom.
 */
export interface HostileFrame {
	label: string;
	data: string | Uint8Array;
	expect: "error" | "close-1009";
}

export interface HostileRequest {
	label: string;
	method: string;
	path: string;
	/** Raw body text, sent with Content-Type: application/json. */
	body?: string;
	/** Send no credentials, the prober's token, or the admin's. */
	as: "prober" | "admin";
	expect: number[];
}

/** The default frame limit (v1.1: large enough for any send the character limits allow). */
export const MAX_FRAME_BYTES = 32_768;
const json = (value: unknown): string => JSON.stringify(value);
const nestedArrays = (depth: number): string => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const nestedObjects = (depth: number): string => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

/** A send frame padded to exactly `bytes` UTF-8 bytes. */
function sendOfBytes(bytes: number, id: string): string {
	const shell = json({ type: "send", id, text: "" });
	return json({ type: "send", id, text: "x".repeat(bytes - shell.length) });
}

export function hostileFrames(room: string): HostileFrame[] {
	const error = (label: string, data: string | Uint8Array): HostileFrame => ({ label, data, expect: "error" });
	const rooms11 = Array.from({ length: 11 }, (_, i) => `r${i}`);
	return [
		// Not JSON objects at all.
		error("not json", "not json"),
		error("truncated", '{"type":"send","id":"t","text":"x"'),
		error("empty", ""),
		error("spaced ping", " ping"),
		error("PING", "PING"),
		error("null", "null"),
		error("array", "[]"),
		error("number", "42"),
		error("string", '"send"'),
		error("NaN", "NaN"),
		// Wrong or missing type.
		error("no type", "{}"),
		error("unknown type", json({ type: "nope" })),
		error("type null", json({ type: null })),
		error("type array", json({ type: ["send"], id: "a", text: "x" })),
		error("type case", json({ type: "SEND", id: "a", text: "x" })),
		// Sends with wrong types or out-of-range fields.
		error("send bare", json({ type: "send" })),
		error("id number", json({ type: "send", id: 1, text: "x" })),
		error("text number", json({ type: "send", id: "h-t1", text: 1 })),
		error("text null", json({ type: "send", id: "h-t2", text: null })),
		error("text object", json({ type: "send", id: "h-t3", text: { toString: "x" } })),
		error("id empty", json({ type: "send", id: "", text: "x" })),
		error("id 65 chars", json({ type: "send", id: "i".repeat(65), text: "x" })),
		error("id 65 code points", json({ type: "send", id: "é".repeat(65), text: "x" })),
		error("text empty", json({ type: "send", id: "h-t4", text: "" })),
		error("text 4001 chars", json({ type: "send", id: "h-t5", text: "y".repeat(4001) })),
		error("frame at the byte limit", sendOfBytes(MAX_FRAME_BYTES, "h-t6")),
		error("crossPost string", json({ type: "send", id: "h-c1", text: "x", crossPost: "other" })),
		error("crossPost empty", json({ type: "send", id: "h-c2", text: "x", crossPost: [] })),
		error("crossPost self", json({ type: "send", id: "h-c3", text: "x", crossPost: [room] })),
		error("crossPost 11", json({ type: "send", id: "h-c4", text: "x", crossPost: rooms11 })),
		error("crossPost bad id", json({ type: "send", id: "h-c5", text: "x", crossPost: ["BAD ROOM"] })),
		error("crossPost twice", json({ type: "send", id: "h-c6", text: "x", crossPost: ["dup", "dup"] })),
		error("crossPost number", json({ type: "send", id: "h-c7", text: "x", crossPost: [1] })),
		// Deletes.
		error("delete bare", json({ type: "delete" })),
		error("delete number", json({ type: "delete", msgId: 5 })),
		error("delete empty", json({ type: "delete", msgId: "" })),
		error("delete long", json({ type: "delete", msgId: "m".repeat(200) })),
		error("delete missing", json({ type: "delete", msgId: "1-0000000000" })),
		// Prototype pollution: each would be a valid send if the parser merged prototypes.
		error("__proto__ whole", '{"__proto__":{"type":"send","id":"pp1","text":"polluted"}}'),
		error("__proto__ fields", '{"type":"send","__proto__":{"id":"pp2","text":"polluted"}}'),
		error("__proto__ text", '{"type":"send","id":"pp3","__proto__":{"text":"polluted"}}'),
		error("constructor.prototype whole", '{"constructor":{"prototype":{"type":"send","id":"pp4","text":"polluted"}}}'),
		error("constructor.prototype text", '{"type":"send","id":"pp5","constructor":{"prototype":{"text":"polluted"}}}'),
		// Deep nesting under the frame limit.
		error("nested arrays", nestedArrays(8000)),
		error("nested objects", nestedObjects(2500)),
		error("nested text", `{"type":"send","id":"h-n1","text":${nestedArrays(3000)}}`),
		// Binary frames under the limit, one of them a valid send in disguise.
		error("binary noise", crypto.getRandomValues(new Uint8Array(100))),
		error("binary send", new TextEncoder().encode(json({ type: "send", id: "bin1", text: "binary" }))),
	];
}

export function oversizedFrames(): HostileFrame[] {
	const close = (label: string, data: string | Uint8Array): HostileFrame => ({ label, data, expect: "close-1009" });
	return [
		close("text one byte over", sendOfBytes(MAX_FRAME_BYTES + 1, "big1")),
		close("multi-byte text", json({ type: "send", id: "big2", text: "€".repeat(12_000) })),
		close("binary one byte over", new Uint8Array(MAX_FRAME_BYTES + 1)),
		close("100 KB", "z".repeat(100_000)),
	];
}

/** Bad HTTP requests on every route; `room` is the honest room, which must gain no event. */
export function hostileRequests(room: string): HostileRequest[] {
	const post = (label: string, body: string, expect = [400]): HostileRequest => ({
		label,
		method: "POST",
		path: `/v1/rooms/${room}/messages`,
		body,
		as: "prober",
		expect,
	});
	const get = (label: string, path: string, expect = [400], as: "prober" | "admin" = "prober"): HostileRequest => ({
		label,
		method: "GET",
		path,
		as,
		expect,
	});
	const adminCall = (label: string, method: string, path: string, body: string | undefined, expect: number[]): HostileRequest => ({
		label,
		method,
		path,
		as: "admin",
		expect,
		...(body === undefined ? {} : { body }),
	});
	return [
		post("body not json", "not json"),
		post("body empty", ""),
		post("body array", "[]"),
		post("body null", "null"),
		post("body string", '"hi"'),
		post("id number", json({ id: 1, text: "x" })),
		post("text missing", json({ id: "p-1" })),
		post("id empty", json({ id: "", text: "x" })),
		post("id 65", json({ id: "i".repeat(65), text: "x" })),
		post("text empty", json({ id: "p-2", text: "" })),
		post("text 4001", json({ id: "p-3", text: "y".repeat(4001) }), [413]),
		post("body over 64 KB", json({ id: "p-4", text: "y".repeat(70_000) }), [413]),
		post("crossPost string", json({ id: "p-5", text: "x", crossPost: "other" })),
		post("crossPost self", json({ id: "p-6", text: "x", crossPost: [room] })),
		post("crossPost 11", json({ id: "p-7", text: "x", crossPost: Array.from({ length: 11 }, (_, i) => `r${i}`) })),
		post("crossPost bad id", json({ id: "p-8", text: "x", crossPost: ["BAD"] })),
		post("__proto__ body", '{"__proto__":{"id":"pp-h1","text":"polluted"}}'),
		post("constructor.prototype body", '{"constructor":{"prototype":{"id":"pp-h2","text":"polluted"}}}'),
		post("nested body", nestedArrays(30_000)),
		get("limit 0", `/v1/rooms/${room}/events?limit=0`),
		get("limit 501", `/v1/rooms/${room}/events?limit=501`),
		get("limit text", `/v1/rooms/${room}/events?limit=abc`),
		get("limit huge", `/v1/rooms/${room}/events?limit=99999999999999999999`),
		get("after negative", `/v1/rooms/${room}/events?after=-1`),
		get("after fraction", `/v1/rooms/${room}/events?after=1.5`),
		get("after exponent", `/v1/rooms/${room}/events?after=1e3`),
		get("after and before", `/v1/rooms/${room}/events?after=1&before=2`),
		get("before text", `/v1/rooms/${room}/events?before=x`),
		get("room upper case", "/v1/rooms/UPPER/events"),
		get("room leading dash", "/v1/rooms/-x/events"),
		get("room with space", "/v1/rooms/a%20b/events"),
		get("room 65 chars", `/v1/rooms/${"r".repeat(65)}/events`),
		get("room NUL", "/v1/rooms/%00/events", [400, 404]),
		get("room dot dot", "/v1/rooms/%2e%2e/events", [400, 404]),
		get("socket route without upgrade", `/v1/rooms/${room}/ws`),
		get("socket since negative", `/v1/rooms/${room}/ws?since=-1`),
		get("unknown route", "/v1/nope", [404]),
		get("room without action", `/v1/rooms/${room}`, [404]),
		{ label: "PATCH messages", method: "PATCH", path: `/v1/rooms/${room}/messages`, as: "prober", expect: [404, 405] },
		{ label: "DELETE unknown msgId", method: "DELETE", path: `/v1/rooms/${room}/messages/nope`, as: "prober", expect: [404] },
		{
			label: "DELETE long msgId",
			method: "DELETE",
			path: `/v1/rooms/${room}/messages/${"m".repeat(1000)}`,
			as: "prober",
			expect: [400, 404],
		},
		adminCall("tasks bad state", "GET", "/v1/admin/tasks?state=bogus", undefined, [400]),
		adminCall("tasks limit 0", "GET", "/v1/admin/tasks?limit=0", undefined, [400]),
		adminCall("tasks bad cursor", "GET", "/v1/admin/tasks?cursor=garbage", undefined, [400]),
		adminCall("sagas bad room", "GET", "/v1/admin/sagas?room=BAD", undefined, [400]),
		adminCall("saga unknown", "GET", "/v1/admin/sagas/garbage", undefined, [404]),
		adminCall("task unknown", "GET", "/v1/admin/tasks/garbage", undefined, [404]),
		adminCall("action unknown task", "POST", "/v1/admin/tasks/garbage/actions", "{}", [400, 404]),
		adminCall("bulk retry no reason", "POST", "/v1/admin/tasks/retry", "{}", [400]),
		adminCall("policy not json", "PUT", `/v1/admin/rooms/${room}/policy`, "x", [400]),
		adminCall("policy readOnly string", "PUT", `/v1/admin/rooms/${room}/policy`, json({ readOnly: "yes" }), [400]),
		adminCall("policy banned string", "PUT", `/v1/admin/rooms/${room}/policy`, json({ banned: "x" }), [400]),
		adminCall("policy __proto__", "PUT", `/v1/admin/rooms/${room}/policy`, '{"__proto__":{"readOnly":true}}', [200]),
		adminCall("policy bad room", "PUT", "/v1/admin/rooms/BAD/policy", json({ readOnly: true }), [400]),
		adminCall("faults rate 2", "POST", "/v1/admin/faults", json({ deliverFailRate: 2 }), [400]),
		adminCall("faults array", "POST", "/v1/admin/faults", "[]", [400]),
		adminCall("faults bad rooms", "POST", "/v1/admin/faults", json({ rooms: "all" }), [400]),
		adminCall("trace bad id", "GET", "/v1/admin/traces/xyz", undefined, [400]),
		adminCall("audit limit -1", "GET", "/v1/admin/audit?limit=-1", undefined, [400]),
		adminCall("moderation empty", "POST", "/v1/admin/moderations", "{}", [400]),
		adminCall("moderation unknown", "GET", "/v1/admin/moderations/garbage", undefined, [404]),
		adminCall("moderation unknown id", "GET", "/v1/admin/moderations/mod@ffffffffffff", undefined, [404]),
		// The routes from before the rename answer the same.
		adminCall("moderation empty (old route)", "POST", "/v1/admin/compensations", "{}", [400]),
		adminCall("moderation unknown (old route)", "GET", "/v1/admin/compensations/garbage", undefined, [404]),
	];
}
