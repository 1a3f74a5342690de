/**
 * @module
 * The rules of a user's view across rooms (v1.4), as pure functions: an inbox view built from
 * `GET /v1/me/inbox`, inbox socket frames applied to it, rooms sorted as the server sorts them,
 * totals, older mention pages merged in, and the words a page or terminal shows (badges, the tab
 * title, a room's label). `InboxClient` (inbox.ts) feeds them; the page and the terminal client
 * only show their results.
 *
 * Durable frames (`mention`, `mention.removed`, `room.joined`, `room.left`) carry the inbox's
 * change seq. A resumed socket may repeat some, or deliver them in another order than the
 * changes were made, so each is applied by key, last change wins: a frame at or below the page's
 * seq, or at or below the seq of the last change applied to the same mention or room, changes
 * nothing. Applying any set of frames in any order therefore ends where applying them in seq
 * order does, and a repeat never doubles a count.
 *
 * `unread` frames carry a room's counts as absolute values (no seq: they are never replayed);
 * one for a room not in the list yet is held until its `room.joined` arrives, so a late one for
 * a room just left does not bring it back.
 */
import type {
	InboxPage,
	InboxRoom,
	Mention,
	MentionsPage,
	MessagePreview,
	RoomJoinedFrame,
	UnreadFrame,
	InboxChangeFrame,
} from "../src/inbox-protocol.ts";
import { isDmRoom } from "../src/inbox-protocol.ts";
import { compareMentions, compareRooms } from "../src/inbox-rules.ts";
import type { UserRef } from "../src/protocol.ts";
import { UNREAD_COUNT_MAX } from "../src/protocol.ts";

// The room list's and the mentions' orders are the server's own rules, not copies: a list
// re-sorted here after a frame, or merged with an older page, stays in the order the server's
// next page has.
export { compareMentions, compareRooms, lastActivity } from "../src/inbox-rules.ts";

/** What an app shows of the inbox at one moment. Treat it as read-only: every change makes a new one. */
export interface InboxView {
	/** Whose inbox it is, once the first page was read. */
	user: UserRef | undefined;
	/** The highest inbox change seq applied: where a socket resumes. */
	seq: number;
	/** Unread rooms first, then by last activity (newest first), then by id: as the server sorts. */
	rooms: readonly InboxRoom[];
	/** Sum of `unread` over the rooms. */
	unreadTotal: number;
	/** Sum of `mentions` over the rooms. */
	mentionTotal: number;
	/** Live mentions known to the client, newest first (the first page, then older pages as loaded). */
	mentions: readonly Mention[];
	/** The cursor of the next older mentions page; undefined when there are no older ones. */
	before: string | undefined;
}

/** The view plus what the rules need to apply frames idempotently (not for display). */
export interface InboxState {
	view: InboxView;
	/** The page's seq: frames at or below it are already in the page. */
	base: number;
	/** Seq of the last change applied per key (`m:<room>:<msgId>`, `r:<room>`), removals included. */
	versions: ReadonlyMap<string, number>;
	/** Counts for rooms not in the list yet (an `unread` that overtook its `room.joined`). */
	held: ReadonlyMap<string, UnreadFrame>;
}

/** What a frame did, for the client's typed events. */
export type InboxChange =
	| { kind: "mention"; mention: Mention; added: boolean }
	| { kind: "mentionRemoved"; room: string; msgId: string; known: boolean }
	| { kind: "roomJoined"; room: InboxRoom }
	| { kind: "roomLeft"; room: string }
	| { kind: "unread"; frame: UnreadFrame; held: boolean };

export interface Applied {
	state: InboxState;
	/** Undefined when the frame changed nothing (a repeat, an older change, an unknown type). */
	change: InboxChange | undefined;
}

const mentionKey = (room: string, msgId: string): string => `m:${room}:${msgId}`;
const roomKey = (room: string): string => `r:${room}`;

function viewOf(
	user: UserRef | undefined,
	seq: number,
	rooms: readonly InboxRoom[],
	mentions: readonly Mention[],
	before: string | undefined,
): InboxView {
	const sorted = [...rooms].sort(compareRooms);
	let unreadTotal = 0;
	let mentionTotal = 0;
	for (const room of sorted) {
		unreadTotal += room.unread;
		mentionTotal += room.mentions;
	}
	return { user, seq, rooms: sorted, unreadTotal, mentionTotal, mentions: [...mentions].sort(compareMentions), before };
}

/** The state before any page was read: nothing known. */
export function emptyInbox(): InboxState {
	return { view: viewOf(undefined, 0, [], [], undefined), base: 0, versions: new Map(), held: new Map() };
}

/**
 * The state a freshly read page gives. Counts come from the page alone (they are not replayed on
 * the socket); older mention pages loaded earlier are dropped, since they may be out of date.
 */
export function fromPage(page: InboxPage): InboxState {
	const rooms = dedupeBy(page.rooms, (room) => room.room);
	const mentions = dedupeBy(page.mentions, (mention) => mentionKey(mention.room, mention.msgId));
	return {
		view: viewOf(page.user, page.seq, rooms, mentions, cursorOf(page.before)),
		base: page.seq,
		versions: new Map(),
		held: new Map(),
	};
}

/** A page's `before`, when it is one (absent, or anything but a non-empty string, ends the paging). */
function cursorOf(before: unknown): string | undefined {
	return typeof before === "string" && before !== "" ? before : undefined;
}

function dedupeBy<T>(items: readonly T[], key: (item: T) => string): T[] {
	const seen = new Map<string, T>();
	for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
	return [...seen.values()];
}

/** Applies one socket frame. Frames this module does not know (welcome, synced, error, future types) change nothing. */
export function applyFrame(state: InboxState, frame: InboxChangeFrame | UnreadFrame | { type: string }): Applied {
	switch (frame.type) {
		case "mention":
		case "mention.removed":
		case "room.joined":
		case "room.left":
			return applyChange(state, frame as InboxChangeFrame);
		case "unread":
			return applyUnread(state, frame as UnreadFrame);
		default:
			return { state, change: undefined };
	}
}

function keyOf(frame: InboxChangeFrame): string {
	switch (frame.type) {
		case "mention":
			return mentionKey(frame.mention.room, frame.mention.msgId);
		case "mention.removed":
			return mentionKey(frame.room, frame.msgId);
		case "room.joined":
		case "room.left":
			return roomKey(frame.room);
	}
}

function wellFormed(frame: InboxChangeFrame): boolean {
	if (!Number.isInteger(frame.seq)) return false;
	switch (frame.type) {
		case "mention":
			return (
				typeof frame.mention?.room === "string" && typeof frame.mention.msgId === "string" && typeof frame.mention.seq === "number"
			);
		case "mention.removed":
			return typeof frame.room === "string" && typeof frame.msgId === "string";
		case "room.joined":
		case "room.left":
			return typeof frame.room === "string";
	}
}

function applyChange(state: InboxState, frame: InboxChangeFrame): Applied {
	if (!wellFormed(frame) || frame.seq <= state.base) return { state, change: undefined };
	const key = keyOf(frame);
	if (frame.seq <= (state.versions.get(key) ?? 0)) return { state, change: undefined };
	const versions = new Map(state.versions);
	versions.set(key, frame.seq);
	const { view } = state;
	const seq = Math.max(view.seq, frame.seq);
	let rooms = view.rooms;
	let mentions = view.mentions;
	let held = state.held;
	let change: InboxChange;
	switch (frame.type) {
		case "mention": {
			const mention = frame.mention;
			const index = mentions.findIndex((m) => m.room === mention.room && m.msgId === mention.msgId);
			const added = index < 0;
			mentions = added ? [...mentions, mention] : mentions.map((m, i) => (i === index ? mention : m));
			// A new mention after the marker is one more to read there; counts from later `unread` frames replace this.
			if (added) rooms = adjustMentions(rooms, mention.room, mention.seq, 1);
			change = { kind: "mention", mention, added };
			break;
		}
		case "mention.removed": {
			const gone = mentions.find((m) => m.room === frame.room && m.msgId === frame.msgId);
			if (gone !== undefined) {
				mentions = mentions.filter((m) => m !== gone);
				rooms = adjustMentions(rooms, gone.room, gone.seq, -1);
			}
			change = { kind: "mentionRemoved", room: frame.room, msgId: frame.msgId, known: gone !== undefined };
			break;
		}
		case "room.joined": {
			const existing = rooms.find((r) => r.room === frame.room);
			const room = joinedRoom(frame, existing, state.held.get(frame.room));
			rooms = existing === undefined ? [...rooms, room] : rooms.map((r) => (r === existing ? room : r));
			if (state.held.has(frame.room)) held = without(state.held, frame.room);
			change = { kind: "roomJoined", room };
			break;
		}
		case "room.left": {
			rooms = rooms.filter((r) => r.room !== frame.room);
			// Its mentions leave the list with it, and so do their counts (the room's are gone from the totals).
			mentions = mentions.filter((m) => m.room !== frame.room);
			if (state.held.has(frame.room)) held = without(state.held, frame.room);
			change = { kind: "roomLeft", room: frame.room };
			break;
		}
	}
	return { state: { view: viewOf(view.user, seq, rooms, mentions, view.before), base: state.base, versions, held }, change };
}

function without<V>(map: ReadonlyMap<string, V>, key: string): Map<string, V> {
	const next = new Map(map);
	next.delete(key);
	return next;
}

function adjustMentions(rooms: readonly InboxRoom[], room: string, messageSeq: number, delta: 1 | -1): readonly InboxRoom[] {
	return rooms.map((r) => (r.room === room && messageSeq > r.readSeq ? { ...r, mentions: Math.max(0, r.mentions + delta) } : r));
}

function joinedRoom(frame: RoomJoinedFrame, existing: InboxRoom | undefined, held: UnreadFrame | undefined): InboxRoom {
	const base: InboxRoom = existing ?? {
		room: frame.room,
		kind: isDmRoom(frame.room) ? "dm" : "room",
		joinedAt: 0,
		lastSeq: 0,
		readSeq: 0,
		unread: 0,
		mentions: 0,
		last: null,
	};
	const kind = frame.kind === "dm" || frame.kind === "room" ? frame.kind : base.kind;
	const room: InboxRoom = { ...base, kind, joinedAt: Number.isFinite(frame.joinedAt) ? frame.joinedAt : base.joinedAt };
	if (frame.with !== undefined) room.with = frame.with;
	return held === undefined ? room : withCounts(room, held);
}

function withCounts(room: InboxRoom, frame: UnreadFrame): InboxRoom {
	const next: InboxRoom = {
		...room,
		lastSeq: frame.lastSeq,
		readSeq: frame.readSeq,
		unread: frame.unread,
		mentions: frame.mentions,
		last: frame.last,
	};
	delete next.stale;
	return next;
}

function validUnread(frame: UnreadFrame): boolean {
	return (
		typeof frame.room === "string" &&
		[frame.lastSeq, frame.readSeq, frame.unread, frame.mentions].every((n) => Number.isInteger(n) && n >= 0)
	);
}

function applyUnread(state: InboxState, frame: UnreadFrame): Applied {
	if (!validUnread(frame)) return { state, change: undefined };
	const frameClean: UnreadFrame = { ...frame, last: frame.last ?? null };
	const { view } = state;
	const existing = view.rooms.find((r) => r.room === frame.room);
	if (existing === undefined) {
		const held = new Map(state.held);
		held.set(frame.room, frameClean);
		return { state: { ...state, held }, change: { kind: "unread", frame: frameClean, held: true } };
	}
	const rooms = view.rooms.map((r) => (r === existing ? withCounts(r, frameClean) : r));
	return {
		state: { ...state, view: viewOf(view.user, view.seq, rooms, view.mentions, view.before) },
		change: { kind: "unread", frame: frameClean, held: false },
	};
}

/** Merges an older mentions page (from `GET /v1/me/mentions?before=`): no duplicates, newest first, its cursor next. */
export function addOlderMentions(state: InboxState, page: MentionsPage): InboxState {
	const { view } = state;
	const known = new Set(view.mentions.map((m) => mentionKey(m.room, m.msgId)));
	const fresh = page.mentions.filter((m) => {
		const key = mentionKey(m.room, m.msgId);
		// One removed or re-sent on the socket since is as the socket says.
		if (known.has(key) || state.versions.has(key)) return false;
		known.add(key);
		return true;
	});
	return { ...state, view: viewOf(view.user, view.seq, view.rooms, [...view.mentions, ...fresh], cursorOf(page.before)) };
}

/**
 * The reader's own progress in a room, as the room client knows it (`readState`), before the
 * inbox tells: unread drops to the room's count at once, and a room read to its end has no
 * mentions left to read.
 */
export function applyLocalRead(state: InboxState, room: string, read: { seq: number; unread: number }): InboxState {
	const { view } = state;
	const existing = view.rooms.find((r) => r.room === room);
	if (existing === undefined || read.seq < existing.readSeq) return state;
	const readSeq = read.seq;
	const unread = Math.max(0, Math.min(existing.unread, read.unread));
	const mentions = readSeq >= existing.lastSeq ? 0 : existing.mentions;
	if (readSeq === existing.readSeq && unread === existing.unread && mentions === existing.mentions) return state;
	const rooms = view.rooms.map((r) => (r === existing ? { ...r, readSeq, unread, mentions } : r));
	return { ...state, view: viewOf(view.user, view.seq, rooms, view.mentions, view.before) };
}

/** Adds a room the user just joined or opened (a DM) before its `room.joined` arrives; a known room is left as it is. */
export function addLocalRoom(state: InboxState, room: string, details: { with?: UserRef; joinedAt: number }): InboxState {
	const { view } = state;
	if (view.rooms.some((r) => r.room === room)) return state;
	const entry: InboxRoom = {
		room,
		kind: isDmRoom(room) ? "dm" : "room",
		joinedAt: details.joinedAt,
		lastSeq: 0,
		readSeq: 0,
		unread: 0,
		mentions: 0,
		last: null,
	};
	if (details.with !== undefined) entry.with = details.with;
	const held = state.held.get(room);
	const rooms = [...view.rooms, held === undefined ? entry : withCounts(entry, held)];
	return {
		...state,
		view: viewOf(view.user, view.seq, rooms, view.mentions, view.before),
		held: held === undefined ? state.held : without(state.held, room),
	};
}

/** Drops a room the user just left, before its `room.left` arrives. */
export function removeLocalRoom(state: InboxState, room: string): InboxState {
	const { view } = state;
	if (!view.rooms.some((r) => r.room === room)) return state;
	const rooms = view.rooms.filter((r) => r.room !== room);
	const mentions = view.mentions.filter((m) => m.room !== room);
	return { ...state, view: viewOf(view.user, view.seq, rooms, mentions, view.before) };
}

// -----------------------------------------------------------------------------------------
// Words
// -----------------------------------------------------------------------------------------

/** A count as a badge shows it: `3`, `999`, `1000+` at the server's cap; empty for none. */
export function badgeText(count: number, cap: number = UNREAD_COUNT_MAX): string {
	if (!(count > 0)) return "";
	return count >= cap ? `${cap}+` : String(count);
}

/** The tab title: `(3) Parley` with unread messages, `Parley` without. */
export function titleText(unreadTotal: number, base = "Parley"): string {
	const badge = badgeText(unreadTotal);
	return badge === "" ? base : `(${badge}) ${base}`;
}

/** How a room is named in a list: `#team-a`, or `@Bob` for a DM (its id when the other user is not known). */
export function roomLabel(room: Pick<InboxRoom, "room" | "kind" | "with">): string {
	if (room.kind === "dm") return room.with === undefined ? "@(direct message)" : `@${room.with.name}`;
	return `#${room.room}`;
}

/** A room's label from the view when it is listed there (a DM shows the other user), else `#room`. */
export function labelIn(view: InboxView, room: string): string {
	const listed = view.rooms.find((r) => r.room === room);
	if (listed !== undefined) return roomLabel(listed);
	return isDmRoom(room) ? "@(direct message)" : `#${room}`;
}

/** The preview line of a room: `Bob: hi there`, or empty when it has no message. */
export function previewText(last: MessagePreview | null): string {
	return last === null ? "" : `${last.author.name}: ${last.excerpt}`;
}
