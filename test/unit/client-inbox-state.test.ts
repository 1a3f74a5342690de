/**
 * The inbox view's rules (client/inbox-state.ts): a page read, socket frames applied in any
 * order and any number of times, rooms sorted as the server sorts them, totals, older mention
 * pages, and the words shown for them.
 */
import { describe, expect, it } from "vitest";
import {
	addLocalRoom,
	addOlderMentions,
	applyFrame,
	applyLocalRead,
	badgeText,
	compareRooms,
	fromPage,
	labelIn,
	previewText,
	removeLocalRoom,
	roomLabel,
	titleText,
	type InboxState,
} from "../../client/inbox-state.ts";
import type { InboxChangeFrame, InboxPage, InboxRoom, Mention, UnreadFrame } from "../../src/inbox-protocol.ts";

const ann = { id: "ann", name: "Ann" };
const bob = { id: "bob", name: "Bob" };

const room = (id: string, extra: Partial<InboxRoom> = {}): InboxRoom => ({
	room: id,
	kind: "room",
	joinedAt: 1000,
	lastSeq: 10,
	readSeq: 10,
	unread: 0,
	mentions: 0,
	last: null,
	...extra,
});

const mention = (roomId: string, seq: number, ts = seq * 1000, extra: Partial<Mention> = {}): Mention => ({
	room: roomId,
	msgId: `${roomId}-m${seq}`,
	seq,
	author: bob,
	excerpt: `hi @Ann ${seq}`,
	ts,
	...extra,
});

const page = (extra: Partial<InboxPage> = {}): InboxPage => ({
	user: ann,
	seq: 5,
	rooms: [room("team-a", { lastSeq: 12, readSeq: 10, unread: 2, mentions: 1 }), room("team-b")],
	unreadTotal: 2,
	mentionTotal: 1,
	mentions: [mention("team-a", 12)],
	before: "cursor-1",
	...extra,
});

function applyAll(state: InboxState, frames: Array<InboxChangeFrame | UnreadFrame>): InboxState {
	return frames.reduce((s, frame) => applyFrame(s, frame).state, state);
}

const mentionFrame = (seq: number, m: Mention): InboxChangeFrame => ({ type: "mention", seq, mention: m });
const removed = (seq: number, m: Pick<Mention, "room" | "msgId">): InboxChangeFrame => ({
	type: "mention.removed",
	seq,
	room: m.room,
	msgId: m.msgId,
});
const unread = (roomId: string, counts: Partial<UnreadFrame> = {}): UnreadFrame => ({
	type: "unread",
	room: roomId,
	lastSeq: 20,
	readSeq: 10,
	unread: 3,
	mentions: 1,
	last: { msgId: `${roomId}-m20`, seq: 20, author: bob, excerpt: "latest", ts: 50_000 },
	...counts,
});

describe("the inbox view from a page", () => {
	it("takes the page's rooms, totals, mentions, cursor and seq", () => {
		const { view } = fromPage(page());
		expect(view.user).toEqual(ann);
		expect(view.seq).toBe(5);
		expect(view.rooms.map((r) => r.room)).toEqual(["team-a", "team-b"]);
		expect(view.unreadTotal).toBe(2);
		expect(view.mentionTotal).toBe(1);
		expect(view.mentions.map((m) => m.msgId)).toEqual(["team-a-m12"]);
		expect(view.before).toBe("cursor-1");
	});

	it("sorts rooms as the server does: unread first, then last activity (newest first), then id", () => {
		const rooms = [
			room("quiet-old", { joinedAt: 1 }),
			room("quiet-new", { last: { msgId: "x", seq: 1, author: bob, excerpt: "", ts: 9000 } }),
			room("unread-b", { unread: 1, joinedAt: 5 }),
			room("unread-a", { unread: 4, joinedAt: 5 }),
		];
		expect([...rooms].sort(compareRooms).map((r) => r.room)).toEqual(["unread-a", "unread-b", "quiet-new", "quiet-old"]);
	});

	it("ends the paging on a missing or malformed cursor", () => {
		expect(fromPage(page({ before: undefined })).view.before).toBeUndefined();
		expect(fromPage(page({ before: null as unknown as string })).view.before).toBeUndefined();
		expect(addOlderMentions(fromPage(page()), { mentions: [], before: "" }).view.before).toBeUndefined();
	});

	it("sums the totals itself, whatever the page claims", () => {
		const { view } = fromPage(page({ unreadTotal: 99, mentionTotal: 99 }));
		expect(view.unreadTotal).toBe(2);
		expect(view.mentionTotal).toBe(1);
	});
});

describe("durable frames", () => {
	it("adds a new mention, newest first, and counts it in its room when it is after the marker", () => {
		const state = applyAll(fromPage(page()), [mentionFrame(6, mention("team-b", 11, 99_000))]);
		expect(state.view.mentions.map((m) => m.msgId)).toEqual(["team-b-m11", "team-a-m12"]);
		expect(state.view.rooms.find((r) => r.room === "team-b")?.mentions).toBe(1);
		expect(state.view.mentionTotal).toBe(2);
		expect(state.view.seq).toBe(6);
	});

	it("does not count a mention at or before the marker (already read)", () => {
		const state = applyAll(fromPage(page()), [mentionFrame(6, mention("team-b", 9))]);
		expect(state.view.mentions).toHaveLength(2);
		expect(state.view.mentionTotal).toBe(1);
	});

	it("updates an edited mention in place without counting it twice", () => {
		const edited = mention("team-a", 12, 12_000, { excerpt: "edited @Ann", editedAt: 13_000 });
		const state = applyAll(fromPage(page()), [mentionFrame(6, edited)]);
		expect(state.view.mentions).toEqual([edited]);
		expect(state.view.mentionTotal).toBe(1);
	});

	it("ignores every frame at or below the page's seq (it is in the page already)", () => {
		const start = fromPage(page());
		const state = applyAll(start, [
			mentionFrame(5, mention("team-b", 11)),
			removed(4, mention("team-a", 12)),
			{ type: "room.left", seq: 3, room: "team-a" },
		]);
		expect(state).toBe(start);
	});

	it("applies a frame repeated after a resume once: nothing doubles", () => {
		const m = mention("team-b", 11, 99_000);
		const frames = [mentionFrame(6, m), { type: "room.joined", seq: 7, room: "team-c", kind: "room", joinedAt: 5 } as const];
		const once = applyAll(fromPage(page()), frames);
		const twice = applyAll(once, [...frames, ...frames]);
		expect(twice.view).toEqual(once.view);
		expect(twice.view.mentionTotal).toBe(2);
		expect(twice.view.rooms.filter((r) => r.room === "team-c")).toHaveLength(1);
		expect(applyFrame(once, frames[0] as InboxChangeFrame).change).toBeUndefined();
	});

	it("ends where seq order ends whatever order the frames arrive in", () => {
		const m = mention("team-b", 11, 99_000);
		const frames: InboxChangeFrame[] = [
			mentionFrame(6, m),
			removed(7, m),
			mentionFrame(8, mention("team-a", 13, 100_000)),
			{ type: "room.joined", seq: 9, room: "dm.0123456789abcdef0123456789abcdef01234567", kind: "dm", with: bob, joinedAt: 7 },
			{ type: "room.left", seq: 10, room: "team-b" },
		];
		const ordered = applyAll(fromPage(page()), frames);
		const shuffled = applyAll(fromPage(page()), [frames[4], frames[1], frames[3], frames[0], frames[2]] as InboxChangeFrame[]);
		const reversed = applyAll(fromPage(page()), [...frames].reverse());
		expect(shuffled.view).toEqual(ordered.view);
		expect(reversed.view).toEqual(ordered.view);
		expect(ordered.view.seq).toBe(10);
		expect(ordered.view.mentions.map((x) => x.msgId)).toEqual(["team-a-m13", "team-a-m12"]);
		expect(ordered.view.rooms.map((r) => r.room).sort()).toEqual(["dm.0123456789abcdef0123456789abcdef01234567", "team-a"]);
	});

	it("a removal that arrived before its mention keeps the mention out", () => {
		const m = mention("team-b", 11);
		const state = applyAll(fromPage(page()), [removed(7, m), mentionFrame(6, m)]);
		expect(state.view.mentions.map((x) => x.msgId)).toEqual(["team-a-m12"]);
		expect(state.view.mentionTotal).toBe(1);
	});

	it("a mention.removed for an unknown mention changes no count, and says it was not known", () => {
		const start = fromPage(page());
		const applied = applyFrame(start, removed(6, { room: "team-a", msgId: "never-seen" }));
		expect(applied.change).toEqual({ kind: "mentionRemoved", room: "team-a", msgId: "never-seen", known: false });
		expect(applied.state.view.mentions).toEqual(start.view.mentions);
		expect(applied.state.view.mentionTotal).toBe(1);
		expect(applied.state.view.seq).toBe(6);
	});

	it("a mention.removed for a listed mention drops it and its count", () => {
		const state = applyAll(fromPage(page()), [removed(6, mention("team-a", 12))]);
		expect(state.view.mentions).toEqual([]);
		expect(state.view.mentionTotal).toBe(0);
		expect(state.view.rooms.find((r) => r.room === "team-a")?.mentions).toBe(0);
	});

	it("room.left removes the room, its counts from the totals and its mentions from the list", () => {
		const state = applyAll(fromPage(page()), [{ type: "room.left", seq: 6, room: "team-a" }]);
		expect(state.view.rooms.map((r) => r.room)).toEqual(["team-b"]);
		expect(state.view.unreadTotal).toBe(0);
		expect(state.view.mentionTotal).toBe(0);
		expect(state.view.mentions).toEqual([]);
	});

	it("room.joined adds a DM with the other user, and a repeat join keeps its counts", () => {
		const dm = "dm.0123456789abcdef0123456789abcdef01234567";
		let state = applyAll(fromPage(page()), [{ type: "room.joined", seq: 6, room: dm, kind: "dm", with: bob, joinedAt: 99_999 }]);
		const listed = state.view.rooms.find((r) => r.room === dm);
		expect(listed).toMatchObject({ kind: "dm", with: bob, unread: 0, mentions: 0, last: null });
		expect(roomLabel(listed as InboxRoom)).toBe("@Bob");
		state = applyAll(state, [
			unread(dm, { unread: 2, mentions: 0 }),
			{ type: "room.joined", seq: 8, room: dm, kind: "dm", with: bob, joinedAt: 99_999 },
		]);
		expect(state.view.rooms.find((r) => r.room === dm)?.unread).toBe(2);
	});

	it("ignores malformed frames and frames of unknown types", () => {
		const start = fromPage(page());
		expect(applyFrame(start, { type: "mention", seq: 9 } as unknown as InboxChangeFrame).state).toBe(start);
		expect(applyFrame(start, { type: "room.left", seq: "9", room: "team-a" } as unknown as InboxChangeFrame).state).toBe(start);
		expect(applyFrame(start, { type: "something.new", seq: 9 } as { type: string }).state).toBe(start);
	});
});

describe("unread frames", () => {
	it("replace a room's counts and preview, re-sort the rooms and move the totals", () => {
		const state = applyAll(fromPage(page()), [unread("team-b", { unread: 3, mentions: 1 })]);
		expect(state.view.rooms[0]).toMatchObject({ room: "team-b", unread: 3, mentions: 1, lastSeq: 20 });
		expect(state.view.unreadTotal).toBe(5);
		expect(state.view.mentionTotal).toBe(2);
		expect(state.view.seq).toBe(5); // not durable: the resume point does not move
	});

	it("an unread frame for a room not listed yet is held until its room.joined, and shows nothing before", () => {
		const start = fromPage(page());
		const applied = applyFrame(start, unread("team-c", { unread: 4, mentions: 2 }));
		expect(applied.change).toMatchObject({ kind: "unread", held: true });
		expect(applied.state.view).toEqual(start.view);
		const joined = applyAll(applied.state, [{ type: "room.joined", seq: 6, room: "team-c", kind: "room", joinedAt: 5 }]);
		expect(joined.view.rooms.find((r) => r.room === "team-c")).toMatchObject({ unread: 4, mentions: 2 });
		expect(joined.view.unreadTotal).toBe(6);
	});

	it("a held count of a room that is then left is dropped", () => {
		const state = applyAll(fromPage(page()), [
			unread("team-c", { unread: 4 }),
			{ type: "room.left", seq: 6, room: "team-c" },
			{ type: "room.joined", seq: 7, room: "team-c", kind: "room", joinedAt: 5 },
		]);
		expect(state.view.rooms.find((r) => r.room === "team-c")?.unread).toBe(0);
	});

	it("a mention arriving after the room's counts adds one; the next unread frame's counts stand", () => {
		let state = applyAll(fromPage(page()), [unread("team-b", { unread: 1, mentions: 0, readSeq: 10 })]);
		state = applyAll(state, [mentionFrame(6, mention("team-b", 20))]);
		expect(state.view.rooms.find((r) => r.room === "team-b")?.mentions).toBe(1);
		state = applyAll(state, [unread("team-b", { unread: 1, mentions: 1 })]);
		expect(state.view.rooms.find((r) => r.room === "team-b")?.mentions).toBe(1);
	});
});

describe("older mentions, local changes", () => {
	it("appends an older page without duplicates and moves the cursor; the last page ends it", () => {
		const state = addOlderMentions(fromPage(page()), { mentions: [mention("team-a", 12), mention("team-b", 3)], before: "cursor-2" });
		expect(state.view.mentions.map((m) => m.msgId)).toEqual(["team-a-m12", "team-b-m3"]);
		expect(state.view.before).toBe("cursor-2");
		expect(addOlderMentions(state, { mentions: [] }).view.before).toBeUndefined();
	});

	it("an older page does not bring back a mention the socket removed", () => {
		const gone = mention("team-b", 3);
		const state = applyAll(fromPage(page()), [removed(6, gone)]);
		expect(addOlderMentions(state, { mentions: [gone] }).view.mentions.map((m) => m.msgId)).toEqual(["team-a-m12"]);
	});

	it("reading a room lowers its unread at once; read to the end, its mentions too", () => {
		let state = applyLocalRead(fromPage(page()), "team-a", { seq: 11, unread: 1 });
		expect(state.view.rooms.find((r) => r.room === "team-a")).toMatchObject({ unread: 1, mentions: 1, readSeq: 11 });
		state = applyLocalRead(state, "team-a", { seq: 12, unread: 0 });
		expect(state.view.rooms.find((r) => r.room === "team-a")).toMatchObject({ unread: 0, mentions: 0 });
		expect(state.view.unreadTotal).toBe(0);
		// A marker behind the known one is old news.
		expect(applyLocalRead(state, "team-a", { seq: 3, unread: 5 })).toBe(state);
	});

	it("a room joined or a DM opened is listed at once; leaving drops it", () => {
		const dm = "dm.0123456789abcdef0123456789abcdef01234567";
		let state = addLocalRoom(fromPage(page()), dm, { with: bob, joinedAt: 7 });
		expect(labelIn(state.view, dm)).toBe("@Bob");
		expect(addLocalRoom(state, dm, { joinedAt: 8 })).toBe(state);
		state = removeLocalRoom(state, "team-a");
		expect(state.view.rooms.map((r) => r.room).sort()).toEqual([dm, "team-b"]);
		expect(state.view.mentions).toEqual([]);
	});
});

describe("words", () => {
	it("badges count up to the server's cap and say nothing for none", () => {
		expect(badgeText(0)).toBe("");
		expect(badgeText(3)).toBe("3");
		expect(badgeText(1000)).toBe("1000+");
	});

	it("the tab title shows the unread total, and nothing when there is none", () => {
		expect(titleText(3)).toBe("(3) Parley");
		expect(titleText(0)).toBe("Parley");
	});

	it("names rooms and DMs, and previews the last message", () => {
		expect(roomLabel(room("team-a"))).toBe("#team-a");
		expect(roomLabel({ room: "dm.x", kind: "dm" })).toBe("@(direct message)");
		expect(labelIn(fromPage(page()).view, "elsewhere")).toBe("#elsewhere");
		expect(previewText(null)).toBe("");
		expect(previewText({ msgId: "m", seq: 1, author: bob, excerpt: "hello", ts: 1 })).toBe("Bob: hello");
	});
});
