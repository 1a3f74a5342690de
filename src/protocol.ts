/**
 * @module
 * The wire contract (docs/protocol.md) as types, and the parsers that turn untrusted input
 * into those types. Server, client library and tests all import from here: there is one
 * definition of every frame. Parsers return either the typed value or an ErrorBody; the
 * caller never re-checks a field that a parser accepted.
 */

import { isEmoji } from "./emoji.ts";
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
	/** v1.3: the message this one answers, with a snapshot of it taken when this one was sent. */
	replyTo?: ReplyRef;
	/** v1.3: ids of the users `@`-mentioned in `text` (see docs/protocol.md); absent when none. */
	mentions?: string[];
	/**
	 * v1.3, set once edited: the seq of the latest `message.edited` event already reflected in
	 * `text`, and when it was made. A client applies an edit event only if its seq is greater.
	 */
	editSeq?: number;
	editedAt?: number;
	/** v1.3, in replays and history pages only: the reactions it has now, emoji in code point order. */
	reactions?: ReactionCount[];
}

/** v1.3: what a reply shows of the message it answers, without a lookup. */
export interface ReplyRef {
	msgId: string;
	author: UserRef;
	/** The first REPLY_EXCERPT_CHARS code points of its text when the reply was sent; "" once removed. */
	excerpt: string;
	/** True when the quoted message has been retracted (set in replays and history pages). */
	removed?: boolean;
}

/** v1.3: one emoji's reactions on a message. */
export interface ReactionCount {
	emoji: string;
	count: number;
	/** Whether the user reading this reacted with it. */
	mine: boolean;
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

/** v1.3: the author changed a message's text. Sent to every socket; clients that ignore it keep the old text. */
export interface MessageEditedEvent {
	type: "message.edited";
	seq: number;
	msgId: string;
	text: string;
	/** The mentions of the new text (absent when none). */
	mentions?: string[];
	editedAt: number;
	ts: number;
	traceId: string;
}

/** v1.3: a user added or removed one emoji on a message. */
export interface ReactionEvent {
	type: "reaction.added" | "reaction.removed";
	seq: number;
	msgId: string;
	emoji: string;
	user: UserRef;
	ts: number;
	traceId: string;
}

export type RoomEvent = MessageEvent | RetractEvent | MessageEditedEvent | ReactionEvent;

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
	/** Everyone online (you included), or, over the room's list limit, a sample of at most ONLINE_SAMPLE. */
	online: UserRef[];
	/** v1.1 addition (absent from servers that predate it). */
	limits?: RoomLimits;
	/** v1.2: how many distinct users are online; more than `online.length` when the list is a sample. */
	onlineTotal?: number;
	/** v1.3: the caller's read marker in this room and how many messages after it are not theirs. */
	read?: ReadState;
	/** v1.3: the most recent read markers of others (at most RECEIPTS_IN_WELCOME), newest first. */
	receipts?: Receipt[];
}

/** v1.3: a user's read marker: every event up to `seq` has been read. */
export interface ReadState {
	seq: number;
	/** Live messages by others after `seq`. */
	unread: number;
}

export interface Receipt {
	user: UserRef;
	seq: number;
}

/** v1.3, never stored: someone is typing. Show it for TYPING_EXPIRY_MS unless repeated. */
export interface TypingFrame {
	type: "typing";
	user: UserRef;
}

/** v1.3: a user's read marker moved forward (sent to the room's sockets, the reader's own included). */
export interface ReceiptFrame extends Receipt {
	type: "receipt";
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
/** v1: one user's first socket joined, or their last one left (sockets without `features=presence`, in rooms under the list limit). */
export type PresenceFrame = { type: "presence"; joined: UserRef } | { type: "presence"; left: UserRef };
/** How a room reports presence: exact lists up to its list limit, counts above it. */
export type PresenceMode = "list" | "count";
/**
 * v1.2 (`features=presence`): the joins and leaves of one short window, coalesced. In `list`
 * mode `joined` holds users online at the end of the window whose presence changed in it, and
 * `left` those offline at its end; applied as set updates they keep an exact list. `members`
 * (instead of both) replaces the list outright, when a room comes back under its list limit.
 * In `count` mode only `count` is kept: page `GET /v1/rooms/{room}/members` for names.
 */
export interface PresenceUpdateFrame {
	type: "presence";
	mode: PresenceMode;
	/** Distinct users online at the end of the window. */
	count: number;
	joined?: UserRef[];
	left?: UserRef[];
	members?: UserRef[];
}
/**
 * v1.2 (`features=batch`): the events of one commit, in seq order, and this socket's answers
 * (`ack`, `deleted`) to its frames in that commit, in the order it sent them. Read as if each
 * event, then each answer, had arrived as its own frame.
 */
export interface BatchFrame {
	type: "batch";
	events: RoomEvent[];
	acks?: Array<AckFrame | DeletedFrame>;
}
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

export type ServerFrame =
	| WelcomeFrame
	| SyncedFrame
	| RoomEvent
	| AckFrame
	| SagaFrame
	| PresenceFrame
	| DeletedFrame
	| ErrorFrame
	| TypingFrame
	| ReceiptFrame;

/** v1.2 frames: sent only to sockets that asked for them with `?features=` on the upgrade. */
export type FeatureFrame = PresenceUpdateFrame | BatchFrame;
/** Every frame a server may send; a client that asks for features handles all of these. */
export type AnyServerFrame = ServerFrame | FeatureFrame;

/** The frames a batch stands for, in the order a client must handle them: the events, then the answers. */
export function unpackBatch(batch: BatchFrame): ServerFrame[] {
	const events = Array.isArray(batch.events) ? batch.events : [];
	const acks = Array.isArray(batch.acks) ? batch.acks : [];
	return [...events, ...acks];
}

/** Whether a presence frame is the v1.2 coalesced kind. */
export function isPresenceUpdate(frame: PresenceFrame | PresenceUpdateFrame): frame is PresenceUpdateFrame {
	return "mode" in frame;
}

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
	/** v1.3: the msgId of the message (in this room) this one answers; `not_found` if there is none. */
	replyTo?: string;
}
export interface SendFrame extends SendInput {
	type: "send";
}

/** v1.3: the author changes a message's text. Answered with an `ack` (the edit's seq), deduplicated by `id`. */
export interface EditInput {
	id: string;
	msgId: string;
	text: string;
	/** Optional ordering, as for a send: the client id of the sender's previous frame. */
	after?: string;
}
export interface EditFrame extends EditInput {
	type: "edit";
}

/** v1.3: adds (or with `remove`, removes) one emoji. Answered with an `ack`; a repeat is `duplicate`. */
export interface ReactInput {
	id: string;
	msgId: string;
	emoji: string;
	remove?: boolean;
	after?: string;
}
export interface ReactFrame extends ReactInput {
	type: "react";
}

/** v1.3: the sender is typing. Not answered, never stored; at most one per user per TYPING_INTERVAL_MS is passed on. */
export interface TypingInput {
	type: "typing";
	/** Optional; echoed on an error frame answering this one. */
	id?: string;
}

/** v1.3: moves the sender's read marker to `seq` (never backwards). Not answered; a `receipt` goes out. */
export interface ReadFrame {
	type: "read";
	seq: number;
	/** Optional; echoed on an error frame answering this one. */
	id?: string;
}
export interface DeleteFrame {
	type: "delete";
	msgId: string;
	/** Optional; echoed on an error frame answering this one. */
	id?: string;
}
export type ClientFrame = SendFrame | DeleteFrame | EditFrame | ReactFrame | TypingInput | ReadFrame;

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

/** v1.3: `GET /v1/rooms/{room}/messages/{msgId}/edits`: every text the message has had, oldest (the original) first. */
export interface EditHistory {
	room: string;
	msgId: string;
	versions: Array<{ seq: number; text: string; at: number }>;
}

/** v1.3: `GET /v1/rooms/{room}/search?q=`: live messages matching `q`, newest first, with their latest text. */
export interface SearchPage {
	room: string;
	q: string;
	results: MessageEvent[];
	/** Pass as `before` for the next (older) page; absent on the last one. */
	before?: number;
}

/** v1.3: `PUT /v1/rooms/{room}/read` answers with the marker as stored (it never moves back). */
export type ReadResult = ReadState;

/** v1.2: one page of `GET /v1/rooms/{room}/members`, sorted by user id. */
export interface MembersPage {
	room: string;
	/** Distinct users online now. */
	count: number;
	members: UserRef[];
	/** Pass as `cursor` for the next page; absent on the last one. */
	cursor?: string;
}

export interface MembersQuery {
	limit: number;
	/** The last user id of the previous page. */
	cursor?: string;
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
/**
 * Close code of a socket that stopped reading: more than the room's buffer bound was waiting
 * for it. Not an error of the client's making; reconnect with `since` and catch up.
 */
export const SLOW_CONSUMER_CLOSE = 4008;
/** How many users a welcome lists when the room is over its list limit. */
export const ONLINE_SAMPLE = 50;
export const MEMBERS_PAGE_DEFAULT = 100;
export const MEMBERS_PAGE_MAX = 500;
/** v1.3: code points of the quoted text a reply carries. */
export const REPLY_EXCERPT_CHARS = 100;
/** v1.3: distinct emoji one message may carry; one more is refused with `conflict`. */
export const MAX_REACTIONS_PER_MESSAGE = 20;
/** v1.3: `:name:` reactions, as an alternative to one emoji grapheme. */
export const REACTION_NAME_PATTERN = /^:[a-z0-9_+-]{1,32}:$/;
/** v1.3: mentions carried per message at most (the rest stay plain text). */
export const MAX_MENTIONS = 20;
/** v1.3: a room passes on at most one `typing` per user per this many ms. */
export const TYPING_INTERVAL_MS = 3000;
/** v1.3: a client shows "typing…" this long after the last `typing` it heard from a user. */
export const TYPING_EXPIRY_MS = 6000;
/** v1.3: a client sends its read marker at most once per this many ms. */
export const READ_COALESCE_MS = 3000;
/** v1.3: how many others' read markers a welcome carries. */
export const RECEIPTS_IN_WELCOME = 50;
/** v1.3: `ReadState.unread` counts at most this many messages (a client shows it as "1000+"). */
export const UNREAD_COUNT_MAX = 1000;
export const SEARCH_PAGE_DEFAULT = 20;
export const SEARCH_PAGE_MAX = 100;
/** v1.2 socket features, asked for with `?features=a,b` on the upgrade. */
export const FEATURES = ["batch", "presence"] as const;
export type Feature = (typeof FEATURES)[number];
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
	// v1.3: a reply's `replyTo` (an edit frame, with a msgId and no crossPost, is smaller).
	const replyToBytes = MAX_MSG_ID_CHARS * 6;
	const envelope = 128;
	return maxMessageChars * 6 + 2 * idBytes + crossPostBytes + replyToBytes + envelope;
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

/** A frame's client id: 1..MAX_CLIENT_ID_CHARS code points of valid Unicode. */
function checkClientId(raw: unknown): Result<string, Refusal> {
	if (typeof raw !== "string") return refuse("bad_request", "`id` must be a string");
	const length = codePointLength(raw);
	if (length < 1 || length > MAX_CLIENT_ID_CHARS) return refuse("bad_request", `\`id\` must be 1..${MAX_CLIENT_ID_CHARS} chars`, raw);
	if (hasLoneSurrogate(raw)) return refuse("bad_request", "`id` must be valid Unicode (no lone surrogates)", raw);
	return { ok: true, value: raw };
}

/** A message text, by the rules every send and edit share: length, not blank, valid Unicode. */
function checkText(raw: unknown, id: string, limits: MessageLimits): Result<string, Refusal> {
	if (typeof raw !== "string") return refuse("bad_request", "`text` must be a string", id);
	const length = codePointLength(raw);
	if (length < 1) return refuse("bad_request", "`text` must not be empty", id);
	if (length > limits.maxMessageChars) {
		return refuse("too_large", `\`text\` is ${length} chars; the limit is ${limits.maxMessageChars}`, id);
	}
	// Checked after the length, so a huge blank paste is not scanned twice.
	if (raw.trim() === "") return refuse("bad_request", "`text` must not be only white space", id);
	if (hasLoneSurrogate(raw)) return refuse("bad_request", "`text` and `id` must be valid Unicode (no lone surrogates)", id);
	return { ok: true, value: raw };
}

/** The optional `after` of a send or edit: a client id. */
function checkAfter(raw: unknown, id: string): Result<string | undefined, Refusal> {
	if (raw === undefined) return { ok: true, value: undefined };
	if (typeof raw !== "string" || raw.length < 1 || codePointLength(raw) > MAX_CLIENT_ID_CHARS) {
		return refuse("bad_request", `\`after\` must be a client id of 1..${MAX_CLIENT_ID_CHARS} chars`, id);
	}
	return { ok: true, value: raw };
}

/** Longest message id accepted as input (a server's ids are far shorter). */
export const MAX_MSG_ID_CHARS = 128;

/** A message id as rooms make them (objects/event-log.ts): its seq, `-`, and 10 hex digits. */
export const MESSAGE_ID_PATTERN = /^([1-9][0-9]{0,14})-[0-9a-f]{10}$/;

/** The seq a message id carries, or undefined for anything that is not one. */
export function seqOfMessageId(msgId: string): number | undefined {
	const match = MESSAGE_ID_PATTERN.exec(msgId);
	return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** A message id field (`msgId`, `replyTo`): a non-empty string; whether it exists is the room's to say. */
function checkMsgId(raw: unknown, field: string, id?: string): Result<string, Refusal> {
	if (typeof raw !== "string" || raw.length < 1 || raw.length > MAX_MSG_ID_CHARS) {
		return refuse("bad_request", `\`${field}\` must be a message id (1..${MAX_MSG_ID_CHARS} chars)`, id);
	}
	return { ok: true, value: raw };
}

/**
 * Validates an edit (the `edit` frame, or `PATCH /v1/rooms/{room}/messages/{msgId}` with the
 * path's msgId merged in): a client id, the message, and a new text under the send's rules.
 */
export function parseEditInput(input: Record<string, unknown>, limits: MessageLimits): Result<EditInput, Refusal> {
	const id = checkClientId(input.id);
	if (!id.ok) return id;
	const msgId = checkMsgId(input.msgId, "msgId", id.value);
	if (!msgId.ok) return msgId;
	const text = checkText(input.text, id.value, limits);
	if (!text.ok) return text;
	const after = checkAfter(input.after, id.value);
	if (!after.ok) return after;
	const edit: EditInput = { id: id.value, msgId: msgId.value, text: text.value };
	if (after.value !== undefined) edit.after = after.value;
	return { ok: true, value: edit };
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
	const text = checkText(input.text, id, limits);
	if (!text.ok) return text;
	if (hasLoneSurrogate(id)) return refuse("bad_request", "`text` and `id` must be valid Unicode (no lone surrogates)", id);
	const after = checkAfter(input.after, id);
	if (!after.ok) return after;
	const base: SendInput = after.value === undefined ? { id, text: text.value } : { id, text: text.value, after: after.value };
	if (input.replyTo !== undefined) {
		const replyTo = checkMsgId(input.replyTo, "replyTo", id);
		if (!replyTo.ok) return replyTo;
		base.replyTo = replyTo.value;
	}
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
		case "edit": {
			const parsed = parseEditInput(data, limits);
			return parsed.ok ? { ok: true, value: { type: "edit", ...parsed.value } } : parsed;
		}
		case "delete": {
			if (typeof data.msgId !== "string" || data.msgId.length < 1 || data.msgId.length > MAX_MSG_ID_CHARS) {
				return refuse("bad_request", "`msgId` must be a non-empty string", id);
			}
			return {
				ok: true,
				value: id === undefined ? { type: "delete", msgId: data.msgId } : { type: "delete", msgId: data.msgId, id },
			};
		}
		case "react":
		case "typing":
		case "read":
			return parseSocialFrame(data, id);
		default:
			return refuse("bad_request", '`type` must be "send", "edit", "delete", "react", "typing" or "read"', id);
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

/**
 * Parses `?features=` of the socket route: a comma-separated list. Unknown names are ignored,
 * so a client may ask for features a server does not have yet and still connect.
 */
export function parseFeatures(value: string | null): Set<Feature> {
	const wanted = new Set<Feature>();
	for (const name of (value ?? "").split(",")) {
		const feature = FEATURES.find((known) => known === name.trim());
		if (feature !== undefined) wanted.add(feature);
	}
	return wanted;
}

/** Parses `?cursor=&limit=` for the member list. */
export function parseMembersQuery(params: URLSearchParams): Result<MembersQuery> {
	const limitText = params.get("limit");
	let limit = MEMBERS_PAGE_DEFAULT;
	if (limitText !== null) {
		if (!CURSOR.test(limitText)) return refuse("bad_request", "`limit` must be an integer");
		limit = Number(limitText);
		if (limit < 1 || limit > MEMBERS_PAGE_MAX) return refuse("bad_request", `\`limit\` must be 1..${MEMBERS_PAGE_MAX}`);
	}
	const cursor = params.get("cursor");
	if (cursor === null || cursor === "") return { ok: true, value: { limit } };
	// A cursor is a user id (at most 64 chars, `guest:` and 32 for guests).
	if (cursor.length > 128) return refuse("bad_request", "`cursor` is not one this server gave out");
	return { ok: true, value: { limit, cursor } };
}

/** v1.3: `?q=&before=&limit=` of the search route. */
export interface SearchQuery {
	q: string;
	limit: number;
	/** Only messages with a seq below this (the previous page's `before`). */
	before?: number;
}

/** Longest search query, in code points. */
export const MAX_SEARCH_QUERY_CHARS = 200;

/**
 * Parses the search route's query. `q` is words to find (each must appear, as a word or a
 * word's prefix with a trailing `*`); the room turns it into an FTS5 query, so any text is
 * safe here and only its size is checked (URLSearchParams already turned bad UTF-8 into U+FFFD).
 */
export function parseSearchQuery(params: URLSearchParams): Result<SearchQuery> {
	const q = (params.get("q") ?? "").trim();
	if (q === "") return refuse("bad_request", "`q` must not be empty");
	if (codePointLength(q) > MAX_SEARCH_QUERY_CHARS) return refuse("too_large", `\`q\` is limited to ${MAX_SEARCH_QUERY_CHARS} chars`);
	let limit = SEARCH_PAGE_DEFAULT;
	const limitText = params.get("limit");
	if (limitText !== null) {
		if (!CURSOR.test(limitText)) return refuse("bad_request", "`limit` must be an integer");
		limit = Number(limitText);
		if (limit < 1 || limit > SEARCH_PAGE_MAX) return refuse("bad_request", `\`limit\` must be 1..${SEARCH_PAGE_MAX}`);
	}
	const before = params.get("before");
	if (before === null || before === "") return { ok: true, value: { q, limit } };
	if (!CURSOR.test(before)) return refuse("bad_request", "`before` must be a non-negative integer");
	return { ok: true, value: { q, limit, before: Number(before) } };
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

// ---------------------------------------------------------------------------------------
// v1.3 parsers: reactions, typing, read state
// ---------------------------------------------------------------------------------------

/** The `react`, `typing` and `read` frames (parseClientFrame hands them here). */
function parseSocialFrame(data: Record<string, unknown>, id: string | undefined): Result<ClientFrame, Refusal> {
	if (data.type === "react") {
		const parsed = parseReactInput(data);
		return parsed.ok ? { ok: true, value: { type: "react", ...parsed.value } } : parsed;
	}
	if (id !== undefined && !isClientId(id)) return refuse("bad_request", `\`id\` must be 1..${MAX_CLIENT_ID_CHARS} chars`);
	if (data.type === "typing") return { ok: true, value: id === undefined ? { type: "typing" } : { type: "typing", id } };
	const parsed = parseReadInput(data);
	if (!parsed.ok) return id === undefined ? parsed : refuse(parsed.error.code, parsed.error.message, id);
	return { ok: true, value: id === undefined ? { type: "read", seq: parsed.value.seq } : { type: "read", seq: parsed.value.seq, id } };
}

function isClientId(value: unknown): value is string {
	if (typeof value !== "string" || hasLoneSurrogate(value)) return false;
	const length = codePointLength(value);
	return length >= 1 && length <= MAX_CLIENT_ID_CHARS;
}

/** Whether a string is a message id as a room could have made it (the room then looks it up). */
function isMessageIdText(value: unknown): value is string {
	return typeof value === "string" && value.length >= 1 && value.length <= 128;
}

/**
 * Whether `emoji` may be a reaction: exactly one emoji grapheme (src/emoji.ts) or a `:name:`
 * matching REACTION_NAME_PATTERN. Stored and compared as given: no normalization, so "❤" and
 * "❤️" (with the presentation selector) are two reactions, as clients send them.
 */
export function isReactionEmoji(emoji: string): boolean {
	return REACTION_NAME_PATTERN.test(emoji) || (!hasLoneSurrogate(emoji) && isEmoji(emoji));
}

/**
 * Validates a reaction (the `react` frame, or the body of `POST
 * /v1/rooms/{room}/messages/{msgId}/reactions`, whose msgId comes from the path and is passed
 * in `input.msgId` by the route).
 */
export function parseReactInput(input: Record<string, unknown>): Result<ReactInput, Refusal> {
	if (!isClientId(input.id)) return refuse("bad_request", `\`id\` must be a string of 1..${MAX_CLIENT_ID_CHARS} chars`);
	const id = input.id;
	if (!isMessageIdText(input.msgId)) return refuse("bad_request", "`msgId` must be a non-empty string", id);
	const emoji = input.emoji;
	if (typeof emoji !== "string" || !isReactionEmoji(emoji)) {
		return refuse("bad_request", "`emoji` must be exactly one emoji, or a :name: of 1..32 of a-z 0-9 _ + -", id);
	}
	if (input.remove !== undefined && typeof input.remove !== "boolean") return refuse("bad_request", "`remove` must be a boolean", id);
	const value: ReactInput = { id, msgId: input.msgId, emoji };
	if (input.remove === true) value.remove = true;
	if (input.after !== undefined) {
		if (!isClientId(input.after)) return refuse("bad_request", `\`after\` must be a client id of 1..${MAX_CLIENT_ID_CHARS} chars`, id);
		value.after = input.after;
	}
	return { ok: true, value };
}

/**
 * Validates a read marker (the `read` frame, or the body `{seq}` of `PUT
 * /v1/rooms/{room}/read`): a non-negative integer. A seq beyond the room's last one is not
 * refused here; the room clamps it to its `lastSeq` (see docs/protocol.md).
 */
export function parseReadInput(input: Record<string, unknown>): Result<{ seq: number }, Refusal> {
	const seq = input.seq;
	if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) {
		return refuse("bad_request", "`seq` must be a non-negative integer");
	}
	return { ok: true, value: { seq } };
}
