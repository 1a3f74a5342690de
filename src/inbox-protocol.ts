/**
 * @module
 * v1.4 wire shapes of a user's view across rooms (docs/protocol.md, "v1.4 additions"): the
 * inbox (`GET /v1/me/inbox`), its mentions (`GET /v1/me/mentions`), direct messages
 * (`POST /v1/dms`), joining rooms (`POST|DELETE /v1/rooms/{room}/join`), and the inbox socket
 * (`GET /v1/me/ws`). Shared by the server (objects/inbox.ts, src/inbox-routes.ts), the client
 * library, the page and the terminal client, so there is one source of truth for them.
 *
 * Also the shapes the rooms and the inboxes exchange: the outbox task payload that carries a
 * mention or a join to an inbox, and a room's summary for one reader.
 */
import type { UserRef } from "./protocol.ts";
import type { CopyPayload } from "./saga/types.ts";

/** A room in a user's inbox: an ordinary room, or a direct-message room of two users. */
export type InboxRoomKind = "room" | "dm";

/** The start of a message, enough to show it in a list. */
export interface MessagePreview {
	msgId: string;
	seq: number;
	author: UserRef;
	/** The first MENTION_EXCERPT_CHARS code points of the message's latest text. */
	excerpt: string;
	ts: number;
}

/** A message of a room that mentions the inbox's user, as the inbox holds it. */
export interface Mention extends MessagePreview {
	room: string;
	/** When the message was last edited, if it was (the excerpt is then of the latest text). */
	editedAt?: number;
}

/** One room of the inbox, with its counts as computed when the inbox was read. */
export interface InboxRoom {
	room: string;
	kind: InboxRoomKind;
	/** For a DM: the other user. */
	with?: UserRef;
	joinedAt: number;
	/** The room's last seq. */
	lastSeq: number;
	/** The user's read marker there (0 when they never read). */
	readSeq: number;
	/** Live messages by others after the marker, at most UNREAD_COUNT_MAX. */
	unread: number;
	/** Live mentions of the user after the marker. */
	mentions: number;
	/** The room's latest live message, if any. */
	last: MessagePreview | null;
	/**
	 * Present (true) when the room could not be asked this time: counts are the last ones the
	 * inbox knew, maybe none (0).
	 */
	stale?: true;
}

/** `GET /v1/me/inbox`. */
export interface InboxPage {
	user: UserRef;
	/** The inbox's latest change seq: open `GET /v1/me/ws?since=` with it to follow on. */
	seq: number;
	/** Rooms with unread messages first, then by last activity (newest first), then by id. */
	rooms: InboxRoom[];
	/** Sum of `unread` over the rooms. */
	unreadTotal: number;
	/** Sum of `mentions` over the rooms. */
	mentionTotal: number;
	/** The newest live mentions (at most MENTIONS_PAGE_DEFAULT); page on with `GET /v1/me/mentions?before=`. */
	mentions: Mention[];
	/** Pass as `before` for the next, older page; absent on the last page. */
	before?: string;
}

/** `GET /v1/me/mentions?before=&limit=`: live mentions, newest first. */
export interface MentionsPage {
	mentions: Mention[];
	before?: string;
}

/** `POST /v1/dms {"with": userId}`. */
export interface DmResult {
	room: string;
	with: UserRef;
	/** False when the pair's DM already existed (the call is idempotent). */
	created: boolean;
}

/** `POST /v1/rooms/{room}/join` and `DELETE /v1/rooms/{room}/join`. */
export interface JoinResult {
	room: string;
	joined: boolean;
}

// -----------------------------------------------------------------------------------------
// The inbox socket: `GET /v1/me/ws?since=<inbox seq>`
// -----------------------------------------------------------------------------------------

export interface InboxWelcomeFrame {
	type: "inbox.welcome";
	user: UserRef;
	/** The inbox's latest change seq. */
	seq: number;
}

/** A mention arrived or changed (the message was edited and still mentions the user). Durable. */
export interface MentionFrame {
	type: "mention";
	seq: number;
	mention: Mention;
}

/** A mention is gone: the message was deleted, moderated, or edited so it no longer mentions the user. Durable. */
export interface MentionRemovedFrame {
	type: "mention.removed";
	seq: number;
	room: string;
	msgId: string;
}

/** A room entered the inbox: joined, posted in for the first time, or a DM. Durable. */
export interface RoomJoinedFrame {
	type: "room.joined";
	seq: number;
	room: string;
	kind: InboxRoomKind;
	with?: UserRef;
	joinedAt: number;
}

/** A room left the inbox (`DELETE /v1/rooms/{room}/join`). Durable. */
export interface RoomLeftFrame {
	type: "room.left";
	seq: number;
	room: string;
}

/**
 * A room's counts changed (a message arrived, the user read). Never stored, so it has no seq:
 * a client that reconnects reads `GET /v1/me/inbox` for the counts.
 */
export interface UnreadFrame {
	type: "unread";
	room: string;
	lastSeq: number;
	readSeq: number;
	unread: number;
	mentions: number;
	last: MessagePreview | null;
}

/** The replay after `since` is complete: live changes follow. */
export interface InboxSyncedFrame {
	type: "inbox.synced";
	through: number;
}

export type InboxChangeFrame = MentionFrame | MentionRemovedFrame | RoomJoinedFrame | RoomLeftFrame;

export type InboxServerFrame = InboxWelcomeFrame | InboxChangeFrame | UnreadFrame | InboxSyncedFrame | InboxErrorFrame;

export interface InboxErrorFrame {
	type: "error";
	code: string;
	message: string;
}

// -----------------------------------------------------------------------------------------
// Between rooms and inboxes (not on the wire to clients)
// -----------------------------------------------------------------------------------------

/**
 * An outbox task's target names a room, or a user's inbox as `@` and the user id (room ids
 * never start with `@`).
 */
export function inboxTarget(userId: string): string {
	return `@${userId}`;
}

/** The user whose inbox a task target names, or undefined for a room. */
export function inboxUserOf(target: string): string | undefined {
	return target.startsWith("@") ? target.slice(1) : undefined;
}

/**
 * What a `mention` or `unmention` task carries to an inbox. The message fields make it
 * a copy payload (src/saga/types.ts, CopyPayload), so the ops index and console show it like a
 * cross-post's task. `version` is the origin room's seq of the change (the message, an edit
 * of it, its retract): an inbox applies a change to a mention only if its version is higher
 * than the one it holds, so repeats and late arrivals change nothing, in any order.
 */
export interface InboxPayload extends CopyPayload {
	/** The excerpt (MENTION_EXCERPT_CHARS), empty for an unmention or a join. */
	text: string;
	version: number;
	/** For an unmention: whether the message is gone for good (deleted, moderated) or only no longer mentions the user (edited). */
	gone?: boolean;
}

/** What a room tells an inbox about itself for one reader (`Room.inboxSummary`). */
export interface RoomSummary {
	room: string;
	lastSeq: number;
	readSeq: number;
	unread: number;
	last: MessagePreview | null;
}

// -----------------------------------------------------------------------------------------
// Limits and ids
// -----------------------------------------------------------------------------------------

export const MENTION_EXCERPT_CHARS = 140;
export const MENTIONS_PAGE_DEFAULT = 20;

/** The excerpt of a text a mention or a preview carries: its first MENTION_EXCERPT_CHARS code points. */
export function excerptOf(text: string): string {
	return [...text].slice(0, MENTION_EXCERPT_CHARS).join("");
}
export const MENTIONS_PAGE_MAX = 100;
/** At most this many rooms in one inbox; a join beyond it is refused with `too_large`. */
export const MAX_INBOX_ROOMS = 500;
/** An inbox read asks at most this many rooms at once. */
export const INBOX_FANOUT = 16;
/** A room summary younger than this is served from the inbox's memory. */
export const SUMMARY_CACHE_MS = 2000;

/** DM room ids: `dm.` and 40 hex digits, a hash of the pair. Ordinary rooms never have that form. */
export const DM_ROOM_PATTERN = /^dm\.[0-9a-f]{40}$/;

export function isDmRoom(room: string): boolean {
	return DM_ROOM_PATTERN.test(room);
}

/**
 * The DM room of two users: the same for both, whichever asks, and for no other pair. Not a
 * secret (access is enforced by the server, from the two inboxes), only a fixed name.
 */
export async function dmRoomId(a: string, b: string): Promise<string> {
	const pair = JSON.stringify([a, b].sort());
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(pair));
	const hex = [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
	return `dm.${hex.slice(0, 40)}`;
}
