/**
 * @module
 * The wire contract (docs/protocol.md) as types, and the parsers that turn untrusted input
 * into those types. Server, client library and tests all import from here: there is one
 * definition of every frame. Parsers return either the typed value or an ErrorBody; the
 * caller never re-checks a field that a parser accepted.
 */

import type { ErrorBody, ErrorCode, Failure, Result } from "./errors.ts";

// ---------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------

export interface UserRef {
	id: string;
	name: string;
}

/** Where a cross-posted copy came from. */
export interface CopyOrigin {
	room: string;
	msgId: string;
	sagaId: string;
}

export interface MessageEvent {
	type: "message";
	seq: number;
	msgId: string;
	author: UserRef;
	text: string;
	ts: number;
	traceId: string;
	from?: CopyOrigin;
	/** Extension: the seq of the retract that removed this message; its text is then "". */
	retractedBy?: number;
}

export type RetractReason = "deleted" | "compensated" | "moderated";

export interface RetractEvent {
	type: "retract";
	seq: number;
	msgId: string;
	reason: RetractReason;
	ts: number;
	traceId: string;
}

export type RoomEvent = MessageEvent | RetractEvent;

export type SagaState = "running" | "compensating" | "succeeded" | "compensated" | "failed";
export type TaskState = "pending" | "processing" | "succeeded" | "failed" | "skipped" | "cancelled" | "archived";

export interface SagaStepSummary {
	room: string;
	state: TaskState;
	error?: string;
}

/** v1.1: the limits in force for a socket, so a client never sends what would be refused. */
export interface RoomLimits {
	/** Largest text frame, in UTF-8 bytes; a larger one closes the socket with 1009. */
	maxFrameBytes: number;
	/** Longest message text, in code points. */
	maxMessageChars: number;
	/** Frames per second per socket; 0 = no limit. */
	ratePerSec: number;
	/** How many frames may arrive at once before the rate applies. */
	burst: number;
}

export interface WelcomeFrame {
	type: "welcome";
	room: string;
	user: UserRef;
	lastSeq: number;
	online: UserRef[];
	/** v1.1 addition (absent from servers that predate it). */
	limits?: RoomLimits;
}
export interface SyncedFrame {
	type: "synced";
	through: number;
}
export interface AckFrame {
	type: "ack";
	id: string;
	seq: number;
	msgId: string;
	traceId: string;
	duplicate: boolean;
	sagaId?: string;
}
export interface SagaFrame {
	type: "saga";
	sagaId: string;
	state: SagaState;
	steps: SagaStepSummary[];
}
export type PresenceFrame = { type: "presence"; joined: UserRef } | { type: "presence"; left: UserRef };
/** Extension: answers a `delete` frame with the retract's seq (the first one, on a repeat). */
export interface DeletedFrame {
	type: "deleted";
	msgId: string;
	seq: number;
}
export interface ErrorFrame extends ErrorBody {
	type: "error";
	id?: string;
}

export type ServerFrame = WelcomeFrame | SyncedFrame | RoomEvent | AckFrame | SagaFrame | PresenceFrame | DeletedFrame | ErrorFrame;

export interface SendInput {
	id: string;
	text: string;
	crossPost?: string[];
	/**
	 * Extension: the client id of the sender's previous message. The send is refused with
	 * `out_of_order` unless that message is already stored, so a refused or lost earlier
	 * frame can never be overtaken by a later one written behind it.
	 */
	after?: string;
}
export interface SendFrame extends SendInput {
	type: "send";
}
export interface DeleteFrame {
	type: "delete";
	msgId: string;
	/** Optional; echoed on an error frame answering this one. */
	id?: string;
}
export type ClientFrame = SendFrame | DeleteFrame;

/** What a committed (or deduplicated) send answers, over HTTP and in the `ack` frame. */
export interface SendResult {
	seq: number;
	msgId: string;
	traceId: string;
	duplicate: boolean;
	sagaId?: string;
}

export interface EventsPage {
	room: string;
	events: RoomEvent[];
	lastSeq: number;
}

export interface RoomPolicy {
	readOnly: boolean;
	/** Extension: guests (ids `guest:…`) may read but not post; a ban by name is useless against them. */
	banGuests?: boolean;
	banned: string[];
}

// ---------------------------------------------------------------------------------------
// Limits and identifiers
// ---------------------------------------------------------------------------------------

export const ROOM_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const GUEST_NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
export const MAX_CLIENT_ID_CHARS = 64;
export const MAX_CROSS_POSTS = 10;
export const REPLAY_LIMIT = 500;
export const DEFAULT_REPLAY = 50;
export const PAGE_LIMIT_DEFAULT = 50;
export const PAGE_LIMIT_MAX = 500;
export const MAX_BANNED = 1000;
/** Close code of a socket whose token expired while it was open: reconnect with a fresh token. */
export const TOKEN_EXPIRED_CLOSE = 4001;
/** The limits a client assumes until a `welcome` tells it the server's (the defaults). */
export const DEFAULT_LIMITS: RoomLimits = { maxFrameBytes: 32_768, maxMessageChars: 4000, ratePerSec: 10, burst: 20 };

/**
 * The largest frame a send can need when every field is at its limit and every character is
 * escaped to its longest JSON form (`\u0001` is 6 bytes for one code point): the server never
 * sets its frame limit below this, so every send the character limits allow fits in a frame.
 */
export function sendFrameBudget(maxMessageChars: number): number {
	const idBytes = MAX_CLIENT_ID_CHARS * 6;
	const crossPostBytes = MAX_CROSS_POSTS * (64 + 3);
	const envelope = 128;
	return maxMessageChars * 6 + 2 * idBytes + crossPostBytes + envelope;
}

/**
 * The UTF-8 size of a string as compared with `limit`: exact, except that a string clearly
 * under the limit (3 bytes per UTF-16 unit at most) or clearly over it (1 byte at least) is
 * not scanned. `limit` 0 always counts exactly.
 */
export function utf8Bytes(text: string, limit = 0): number {
	if (text.length > limit && limit > 0) return text.length;
	if (text.length * 3 <= limit) return text.length;
	let bytes = 0;
	for (let i = 0; i < text.length; i++) {
		const unit = text.charCodeAt(i);
		if (unit < 0x80) bytes += 1;
		else if (unit < 0x800) bytes += 2;
		else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
			bytes += 4;
			i++;
		} else bytes += 3;
	}
	return bytes;
}

/** Whether a user id is a guest's: a guest identity is only a name, which anyone can take. */
export function isGuestId(userId: string): boolean {
	return userId.startsWith("guest:");
}

/** Why a room's policy refuses a post by this user, if it does (sends and cross-post deliveries alike). */
export function policyRefusal(
	policy: RoomPolicy,
	userId: string,
	admin: boolean,
): { code: "banned" | "read_only"; message: string } | undefined {
	if (policy.banned.includes(userId)) return { code: "banned", message: "you are banned from this room" };
	if (policy.banGuests === true && isGuestId(userId)) return { code: "banned", message: "guests may not post in this room; sign in" };
	if (policy.readOnly && !admin) return { code: "read_only", message: "this room is read-only" };
	return undefined;
}

export function isRoomId(value: unknown): value is string {
	return typeof value === "string" && ROOM_ID_PATTERN.test(value);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether a string holds half of a surrogate pair on its own: such text is not Unicode, and
 * SQLite would store each half as three bytes of U+FFFD, so it is refused rather than mangled.
 */
export function hasLoneSurrogate(text: string): boolean {
	return LONE_SURROGATE.test(text);
}

/** Length in Unicode code points, as the contract counts "chars". */
export function codePointLength(text: string): number {
	let surrogatePairs = 0;
	for (let i = 0; i < text.length; i++) {
		const unit = text.charCodeAt(i);
		if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
			const next = text.charCodeAt(i + 1);
			if (next >= 0xdc00 && next <= 0xdfff) {
				surrogatePairs++;
				i++;
			}
		}
	}
	return text.length - surrogatePairs;
}

// ---------------------------------------------------------------------------------------
// Parsers
// ---------------------------------------------------------------------------------------

/** A refused frame or request: the contract's error body, naming the frame's `id` when it had one. */
export type Refusal = ErrorBody & { id?: string };

function refuse(code: ErrorCode, message: string, id?: string): Failure<Refusal> {
	return { ok: false, error: id === undefined ? { code, message } : { code, message, id } };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Parses JSON text without throwing; `undefined` means it was not JSON. */
export function parseJson(text: string): unknown {
	try {
		return JSON.parse(text) as unknown;
	} catch {
		return undefined;
	}
}

export interface MessageLimits {
	maxMessageChars: number;
}

/**
 * Validates the body of a send (frame or HTTP). `room` is the room it is sent in, so a
 * cross-post back to it can be refused.
 */
export function parseSendInput(input: Record<string, unknown>, room: string, limits: MessageLimits): Result<SendInput, Refusal> {
	const rawId = input.id;
	const id = typeof rawId === "string" ? rawId : undefined;
	if (id === undefined) return refuse("bad_request", "`id` must be a string");
	const idLength = codePointLength(id);
	if (idLength < 1 || idLength > MAX_CLIENT_ID_CHARS) {
		return refuse("bad_request", `\`id\` must be 1..${MAX_CLIENT_ID_CHARS} chars`, id);
	}
	const text = input.text;
	if (typeof text !== "string") return refuse("bad_request", "`text` must be a string", id);
	const textLength = codePointLength(text);
	if (textLength < 1) return refuse("bad_request", "`text` must not be empty", id);
	if (textLength > limits.maxMessageChars) {
		return refuse("too_large", `\`text\` is ${textLength} chars; the limit is ${limits.maxMessageChars}`, id);
	}
	// Checked after the length, so a huge blank paste is not scanned twice.
	if (text.trim() === "") return refuse("bad_request", "`text` must not be only white space", id);
	if (hasLoneSurrogate(text) || hasLoneSurrogate(id))
		return refuse("bad_request", "`text` and `id` must be valid Unicode (no lone surrogates)", id);
	let after: string | undefined;
	if (input.after !== undefined) {
		if (typeof input.after !== "string" || input.after.length < 1 || codePointLength(input.after) > MAX_CLIENT_ID_CHARS) {
			return refuse("bad_request", `\`after\` must be a client id of 1..${MAX_CLIENT_ID_CHARS} chars`, id);
		}
		after = input.after;
	}
	const base: SendInput = after === undefined ? { id, text } : { id, text, after };
	if (input.crossPost === undefined) return { ok: true, value: base };
	const crossPost = input.crossPost;
	if (!Array.isArray(crossPost) || crossPost.length < 1 || crossPost.length > MAX_CROSS_POSTS) {
		return refuse("bad_request", `\`crossPost\` must be an array of 1..${MAX_CROSS_POSTS} room ids`, id);
	}
	const seen = new Set<string>();
	for (const target of crossPost) {
		if (!isRoomId(target)) return refuse("bad_request", "`crossPost` entries must be room ids", id);
		if (target === room) return refuse("bad_request", "`crossPost` must not name the room the message is sent in", id);
		if (seen.has(target)) return refuse("bad_request", `\`crossPost\` names ${target} twice`, id);
		seen.add(target);
	}
	return { ok: true, value: { ...base, crossPost: [...seen] } };
}

/** Parses one text frame from a client socket. */
export function parseClientFrame(raw: string, room: string, limits: MessageLimits): Result<ClientFrame, Refusal> {
	const data = parseJson(raw);
	if (!isPlainObject(data)) return refuse("bad_request", "a frame must be a JSON object");
	const id = typeof data.id === "string" ? data.id : undefined;
	switch (data.type) {
		case "send": {
			const parsed = parseSendInput(data, room, limits);
			return parsed.ok ? { ok: true, value: { type: "send", ...parsed.value } } : parsed;
		}
		case "delete": {
			if (typeof data.msgId !== "string" || data.msgId.length < 1 || data.msgId.length > 128) {
				return refuse("bad_request", "`msgId` must be a non-empty string", id);
			}
			return {
				ok: true,
				value: id === undefined ? { type: "delete", msgId: data.msgId } : { type: "delete", msgId: data.msgId, id },
			};
		}
		default:
			return refuse("bad_request", '`type` must be "send" or "delete"', id);
	}
}

/**
 * The `id` of a raw client frame, when it is a JSON object with a string `id`: every error
 * frame answering such a frame carries it, even when the frame was refused before parsing.
 */
export function frameId(raw: string): string | undefined {
	const data = parseJson(raw);
	return isPlainObject(data) && typeof data.id === "string" ? data.id : undefined;
}

export type EventsQuery = { limit: number } & ({ after: number } | { before: number } | { latest: true });

const CURSOR = /^(0|[1-9][0-9]{0,14})$/;

/** Parses `?after=&before=&limit=` for the history route. */
export function parseEventsQuery(params: URLSearchParams): Result<EventsQuery> {
	const after = params.get("after");
	const before = params.get("before");
	const limitText = params.get("limit");
	if (after !== null && before !== null) return refuse("bad_request", "give `after` or `before`, not both");
	let limit = PAGE_LIMIT_DEFAULT;
	if (limitText !== null) {
		if (!CURSOR.test(limitText)) return refuse("bad_request", "`limit` must be an integer");
		limit = Number(limitText);
		if (limit < 1 || limit > PAGE_LIMIT_MAX) return refuse("bad_request", `\`limit\` must be 1..${PAGE_LIMIT_MAX}`);
	}
	if (after !== null) {
		if (!CURSOR.test(after)) return refuse("bad_request", "`after` must be a non-negative integer");
		return { ok: true, value: { limit, after: Number(after) } };
	}
	if (before !== null) {
		if (!CURSOR.test(before)) return refuse("bad_request", "`before` must be a non-negative integer");
		return { ok: true, value: { limit, before: Number(before) } };
	}
	return { ok: true, value: { limit, after: 0 } };
}

/** Parses the `since` query parameter of the socket route; absent means "latest 50". */
export function parseSince(value: string | null): Result<number | undefined> {
	if (value === null || value === "") return { ok: true, value: undefined };
	if (!CURSOR.test(value)) return refuse("bad_request", "`since` must be a non-negative integer");
	return { ok: true, value: Number(value) };
}

export interface PolicyPatch {
	readOnly?: boolean;
	banGuests?: boolean;
	banned?: string[];
}

/** Parses the admin policy body. Absent fields leave the current value unchanged. */
export function parsePolicyPatch(input: unknown): Result<PolicyPatch> {
	if (!isPlainObject(input)) return refuse("bad_request", "the body must be a JSON object");
	const patch: PolicyPatch = {};
	if (input.readOnly !== undefined) {
		if (typeof input.readOnly !== "boolean") return refuse("bad_request", "`readOnly` must be a boolean");
		patch.readOnly = input.readOnly;
	}
	if (input.banGuests !== undefined) {
		if (typeof input.banGuests !== "boolean") return refuse("bad_request", "`banGuests` must be a boolean");
		patch.banGuests = input.banGuests;
	}
	if (input.banned !== undefined) {
		const banned = input.banned;
		if (!Array.isArray(banned) || banned.length > MAX_BANNED) {
			return refuse("bad_request", `\`banned\` must be an array of at most ${MAX_BANNED} user ids`);
		}
		for (const user of banned) {
			if (typeof user !== "string" || user.length < 1 || codePointLength(user) > 64) {
				return refuse("bad_request", "`banned` entries must be user ids of 1..64 chars");
			}
		}
		patch.banned = [...new Set(banned as string[])];
	}
	return { ok: true, value: patch };
}

/** Parses a request body as a JSON object; `undefined` body text counts as malformed. */
export function parseJsonObject(text: string): Result<Record<string, unknown>> {
	const data = parseJson(text);
	if (!isPlainObject(data)) return refuse("bad_request", "the body must be a JSON object");
	return { ok: true, value: data };
}
