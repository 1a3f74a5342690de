/**
 * @module
 * What an operator's search text may name, most specific first: a trace id (or a whole
 * `traceparent`), a task id, a saga id, an operator moderation id, a message id (alone, or
 * after its room as `room/msgId`), or a room id. Pure; the server tries the candidates in
 * order and the console opens the first that exists.
 */
import { isRoomId, MESSAGE_ID_PATTERN } from "../protocol.ts";
import { isModerationId, originOfSagaId, originOfTaskId } from "../saga/ids.ts";

export type SearchCandidate =
	| { kind: "trace"; traceId: string }
	| { kind: "task"; taskId: string }
	| { kind: "saga"; sagaId: string }
	| { kind: "moderation"; id: string }
	| { kind: "message"; msgId: string; room?: string }
	| { kind: "room"; room: string };

/** What the search found, as the console needs it to open the right view. */
export type SearchHit =
	| { kind: "trace"; traceId: string; rooms: string[] }
	| { kind: "saga"; sagaId: string; traceId: string }
	| { kind: "task"; taskId: string; sagaId: string; traceId: string }
	| { kind: "moderation"; id: string }
	| { kind: "message"; room: string; msgId: string; seq: number; traceId: string; sagaId?: string }
	| { kind: "room"; room: string; lastSeq: number };

const TRACE_ID = /^[0-9a-f]{32}$/;
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** At most this many characters are looked at: every id is shorter. */
export const MAX_SEARCH_CHARS = 200;

export function searchCandidates(text: string): SearchCandidate[] {
	const query = text.trim();
	if (query === "" || query.length > MAX_SEARCH_CHARS) return [];
	const lower = query.toLowerCase();
	const out: SearchCandidate[] = [];
	const traceparent = TRACEPARENT.exec(lower);
	if (traceparent?.[1] !== undefined) out.push({ kind: "trace", traceId: traceparent[1] });
	if (TRACE_ID.test(lower)) out.push({ kind: "trace", traceId: lower });
	if (originOfTaskId(query) !== undefined) out.push({ kind: "task", taskId: query });
	if (originOfSagaId(query) !== undefined) out.push({ kind: "saga", sagaId: query });
	if (isModerationId(query)) out.push({ kind: "moderation", id: query });
	const scoped = /^([^/\s]+)[/\s]+([^/\s]+)$/.exec(query);
	if (scoped?.[1] !== undefined && scoped[2] !== undefined && isRoomId(scoped[1]) && MESSAGE_ID_PATTERN.test(scoped[2])) {
		out.push({ kind: "message", room: scoped[1], msgId: scoped[2] });
	}
	if (MESSAGE_ID_PATTERN.test(query)) out.push({ kind: "message", msgId: query });
	if (isRoomId(query)) out.push({ kind: "room", room: query });
	return out;
}
