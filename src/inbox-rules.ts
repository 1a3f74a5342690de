/**
 * @module
 * The inbox's rules, as pure functions (objects/inbox.ts applies them; test/unit/inbox-rules.test.ts
 * holds them to their contract): the mention register that makes repeats and late arrivals
 * converge, joining and leaving, the order of the room list, the mentions cursor, and the
 * inputs of the inbox routes.
 */
import { type ErrorBody, fail, ok, type Result } from "./errors.ts";
import type { InboxRoom } from "./inbox-protocol.ts";
import { MENTIONS_PAGE_DEFAULT, MENTIONS_PAGE_MAX } from "./inbox-protocol.ts";
import { codePointLength, hasLoneSurrogate } from "./protocol.ts";

// -----------------------------------------------------------------------------------------
// The mention register
// -----------------------------------------------------------------------------------------

/**
 * `live`: shown. `removed`: edited away, or a tombstone of an unmention that arrived first; a
 * later version may bring it back. `gone`: the message was deleted or moderated; nothing brings
 * it back.
 */
export type MentionState = "live" | "removed" | "gone";

/** What the inbox holds for one (room, msgId). */
export interface MentionRegister {
	version: number;
	state: MentionState;
}

/** A change a task brings: `version` is the origin room's seq of it. */
export type MentionChange = { kind: "mention"; version: number } | { kind: "unmention"; version: number; gone: boolean };

export type MentionDecision =
	/** Write the register with this state and the change's version (a new row, or over the old one). */
	| { action: "insert" | "update"; state: MentionState }
	/** Nothing to write; `reason` goes in the task's outcome. */
	| { action: "noop"; reason: string };

/**
 * The register: a change applies only when its version is higher than the one held, and a
 * `gone` entry stays gone. An unmention with no entry leaves a tombstone at its version (the
 * barrier's null compensation), so the mention it retracts, arriving later with a lower
 * version, is refused (no hanging entry). Any order of any repeats ends in the state of the
 * highest version, gone winning where the message was deleted.
 */
export function decideMention(entry: MentionRegister | undefined, change: MentionChange): MentionDecision {
	const target: MentionState = change.kind === "mention" ? "live" : change.gone ? "gone" : "removed";
	if (entry === undefined) return { action: "insert", state: target };
	if (entry.state === "gone") return { action: "noop", reason: `the message is gone (version ${entry.version}): it never comes back` };
	if (entry.version >= change.version) return { action: "noop", reason: `already at version ${entry.version}` };
	return { action: "update", state: target };
}

// -----------------------------------------------------------------------------------------
// Joining and leaving
// -----------------------------------------------------------------------------------------

/** An inbox's row for a room, as far as joining is concerned. */
export interface JoinedRow {
	left: boolean;
}

/**
 * `implicit`: a first post (learnt from the author directory), which only ever adds a room the inbox never had (an
 * explicit leave is respected). `explicit`: `POST /v1/rooms/{room}/join`, which also rejoins.
 */
export function decideJoin(row: JoinedRow | undefined, how: "implicit" | "explicit"): "insert" | "rejoin" | "noop" {
	if (row === undefined) return "insert";
	if (row.left && how === "explicit") return "rejoin";
	return "noop";
}

export function decideLeave(row: JoinedRow | undefined): "leave" | "noop" {
	return row !== undefined && !row.left ? "leave" : "noop";
}

// -----------------------------------------------------------------------------------------
// The room list
// -----------------------------------------------------------------------------------------

/** When a room last saw activity the inbox knows of: its latest message, else the join. */
export function lastActivity(room: Pick<InboxRoom, "last" | "joinedAt">): number {
	return room.last?.ts ?? room.joinedAt;
}

/** Rooms with unread messages first, then by last activity (newest first), then by id. */
export function compareRooms(a: InboxRoom, b: InboxRoom): number {
	const unread = Number(b.unread > 0) - Number(a.unread > 0);
	if (unread !== 0) return unread;
	const activity = lastActivity(b) - lastActivity(a);
	if (activity !== 0) return activity;
	return a.room < b.room ? -1 : a.room > b.room ? 1 : 0;
}

/** Live mentions after the reader's marker, the room's `mentions` count. */
export function mentionCount(liveSeqs: readonly number[], readSeq: number): number {
	return liveSeqs.filter((seq) => seq > readSeq).length;
}

// -----------------------------------------------------------------------------------------
// Mentions: excerpt, order and cursor
// -----------------------------------------------------------------------------------------

/** One excerpt rule for the rooms that send mentions and the inbox that keeps them. */
export { excerptOf } from "./inbox-protocol.ts";

/** Where a mentions page stops: the last mention it holds, in the list's order. */
export interface MentionCursor {
	ts: number;
	room: string;
	msgId: string;
}

/** Mentions are listed newest first by (ts, room, msgId), which an edit does not move. */
export function compareMentions(a: MentionCursor, b: MentionCursor): number {
	if (a.ts !== b.ts) return b.ts - a.ts;
	if (a.room !== b.room) return a.room < b.room ? 1 : -1;
	return a.msgId < b.msgId ? 1 : a.msgId > b.msgId ? -1 : 0;
}

/** Whether `m` comes after the cursor (is older), so it belongs to the page it starts. */
export function isAfterCursor(m: MentionCursor, cursor: MentionCursor): boolean {
	return compareMentions(m, cursor) > 0;
}

function toBase64Url(text: string): string {
	const bytes = new TextEncoder().encode(text);
	let binary = "";
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): string | undefined {
	if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
	try {
		const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
		return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
	} catch {
		return undefined;
	}
}

/** An opaque cursor: base64url of `[ts, room, msgId]`. */
export function encodeMentionCursor(cursor: MentionCursor): string {
	return toBase64Url(JSON.stringify([cursor.ts, cursor.room, cursor.msgId]));
}

export function decodeMentionCursor(raw: string): MentionCursor | undefined {
	const text = fromBase64Url(raw);
	if (text === undefined) return undefined;
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		return undefined;
	}
	if (!Array.isArray(value) || value.length !== 3) return undefined;
	const [ts, room, msgId] = value as unknown[];
	if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < 0) return undefined;
	if (typeof room !== "string" || typeof msgId !== "string" || room === "" || msgId === "") return undefined;
	return { ts, room, msgId };
}

export interface MentionsQuery {
	limit: number;
	before?: MentionCursor;
}

/** `?before=&limit=` of `GET /v1/me/mentions`. */
export function parseMentionsQuery(params: URLSearchParams): Result<MentionsQuery> {
	const rawLimit = params.get("limit");
	let limit = MENTIONS_PAGE_DEFAULT;
	if (rawLimit !== null && rawLimit !== "") {
		if (!/^[0-9]{1,4}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > MENTIONS_PAGE_MAX) {
			return fail("bad_request", `\`limit\` must be an integer in 1..${MENTIONS_PAGE_MAX}`);
		}
		limit = Number(rawLimit);
	}
	const rawBefore = params.get("before");
	if (rawBefore === null || rawBefore === "") return ok({ limit });
	const before = decodeMentionCursor(rawBefore);
	if (before === undefined) return fail("bad_request", "`before` must be a cursor from an earlier page");
	return ok({ limit, before });
}

// -----------------------------------------------------------------------------------------
// Direct messages
// -----------------------------------------------------------------------------------------

/** The longest user id a DM may name: a token's `sub` is at most 64 code points. */
export const MAX_USER_ID_CHARS = 64;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u;

/** Whether `id` is a user id as a token's `sub` (or a guest's id) may be: 1..64 code points, no control or bidi characters, valid Unicode. */
export function isUserId(id: string): boolean {
	return id !== "" && codePointLength(id) <= MAX_USER_ID_CHARS && !CONTROL_OR_BIDI.test(id) && !hasLoneSurrogate(id);
}

/**
 * The peer of `POST /v1/dms {"with": userId}`: a user id as a token's `sub` may be (1..64 code
 * points, no control or bidi characters, valid Unicode), not a guest (a guest name is anyone's
 * to take, so it cannot hold a private room) and not the caller.
 */
export function parseDmInput(body: Record<string, unknown>, self: string): Result<string, ErrorBody> {
	const peer = body.with;
	if (typeof peer !== "string" || peer === "") return fail("bad_request", "`with` must be a user id");
	if (!isUserId(peer)) {
		return fail("bad_request", `\`with\` must be a user id: 1..${MAX_USER_ID_CHARS} characters, no control characters`);
	}
	if (peer.startsWith("guest:")) return fail("bad_request", "guests have no direct messages");
	if (peer === self) return fail("bad_request", "a direct message needs another user");
	return ok(peer);
}
