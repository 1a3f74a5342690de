import { describe, it } from "vitest";
import type { InboxRoom } from "../../src/inbox-protocol.ts";
import { MENTION_EXCERPT_CHARS, MENTIONS_PAGE_DEFAULT, MENTIONS_PAGE_MAX } from "../../src/inbox-protocol.ts";
import { seqOfMessageId } from "../../src/protocol.ts";
import {
	compareMentions,
	compareRooms,
	decideJoin,
	decideLeave,
	decideMention,
	decodeMentionCursor,
	encodeMentionCursor,
	excerptOf,
	isAfterCursor,
	isUserId,
	type MentionChange,
	type MentionCursor,
	type MentionRegister,
	mentionCount,
	parseDmInput,
	parseMentionsQuery,
} from "../../src/inbox-rules.ts";

/** Applies changes in order to an empty register, as the inbox does. */
function run(changes: readonly MentionChange[]): MentionRegister | undefined {
	let entry: MentionRegister | undefined;
	for (const change of changes) {
		const decision = decideMention(entry, change);
		if (decision.action !== "noop") entry = { version: change.version, state: decision.state };
	}
	return entry;
}

function permutations<T>(items: readonly T[]): T[][] {
	if (items.length <= 1) return [[...items]];
	return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

const mention = (version: number): MentionChange => ({ kind: "mention", version });
const unmention = (version: number, gone = false): MentionChange => ({ kind: "unmention", version, gone });

describe("the mention register", () => {
	it("inserts a mention live, and an unmention with no entry as a tombstone", ({ expect }) => {
		expect(decideMention(undefined, mention(5))).toEqual({ action: "insert", state: "live" });
		expect(decideMention(undefined, unmention(6))).toEqual({ action: "insert", state: "removed" });
		expect(decideMention(undefined, unmention(6, true))).toEqual({ action: "insert", state: "gone" });
	});

	it("ignores a duplicate or an older version, saying what it holds", ({ expect }) => {
		expect(decideMention({ version: 5, state: "live" }, mention(5))).toEqual({ action: "noop", reason: "already at version 5" });
		expect(decideMention({ version: 7, state: "live" }, mention(5))).toEqual({ action: "noop", reason: "already at version 7" });
		expect(decideMention({ version: 7, state: "removed" }, unmention(6))).toMatchObject({ action: "noop" });
	});

	it("refuses a mention that arrives after its retract (no hanging entry)", ({ expect }) => {
		expect(decideMention({ version: 8, state: "removed" }, mention(5))).toMatchObject({ action: "noop" });
		expect(run([unmention(8), mention(5)])).toEqual({ version: 8, state: "removed" });
	});

	it("brings an edited-away mention back with a newer edit that mentions again", ({ expect }) => {
		expect(decideMention({ version: 6, state: "removed" }, mention(9))).toEqual({ action: "update", state: "live" });
		expect(run([mention(5), unmention(6), mention(9)])).toEqual({ version: 9, state: "live" });
	});

	it("never brings a gone mention back, whatever version follows", ({ expect }) => {
		expect(decideMention({ version: 6, state: "gone" }, mention(9))).toMatchObject({ action: "noop" });
		expect(decideMention({ version: 6, state: "gone" }, unmention(9))).toMatchObject({ action: "noop" });
		expect(run([unmention(6, true), mention(9), mention(5)])).toEqual({ version: 6, state: "gone" });
	});

	it("an edit still mentioning updates a live mention", ({ expect }) => {
		expect(decideMention({ version: 5, state: "live" }, mention(7))).toEqual({ action: "update", state: "live" });
	});

	it("converges on the latest version in every order of every history, with repeats", ({ expect }) => {
		// Histories a room can produce for one message and one user: versions rise, a delete ends it.
		const histories: MentionChange[][] = [
			[mention(3)],
			[mention(3), unmention(4)],
			[mention(3), unmention(4, true)],
			[mention(3), mention(5)],
			[mention(3), unmention(5), mention(8)],
			[mention(3), unmention(5), mention(8), unmention(9, true)],
			[mention(3), mention(4), unmention(6), mention(7), unmention(10)],
		];
		for (const history of histories) {
			const latest = history.at(-1) as MentionChange;
			const expected: MentionRegister = {
				version: latest.version,
				state: latest.kind === "mention" ? "live" : latest.gone ? "gone" : "removed",
			};
			for (const order of permutations(history)) {
				expect(run(order), JSON.stringify(order)).toEqual(expected);
				// Every change delivered twice (a redelivery after a lost answer), in the same order.
				expect(run(order.flatMap((change) => [change, change])), JSON.stringify(order)).toEqual(expected);
				// A late repeat of any change after everything else changes nothing.
				for (const late of order) expect(run([...order, late])).toEqual(expected);
			}
		}
	});
});

describe("joining and leaving", () => {
	it("joins once implicitly, and respects an explicit leave", ({ expect }) => {
		expect(decideJoin(undefined, "implicit")).toBe("insert");
		expect(decideJoin({ left: false }, "implicit")).toBe("noop");
		expect(decideJoin({ left: true }, "implicit")).toBe("noop");
	});

	it("rejoins a left room only explicitly", ({ expect }) => {
		expect(decideJoin(undefined, "explicit")).toBe("insert");
		expect(decideJoin({ left: true }, "explicit")).toBe("rejoin");
		expect(decideJoin({ left: false }, "explicit")).toBe("noop");
	});

	it("leaves only a joined room", ({ expect }) => {
		expect(decideLeave({ left: false })).toBe("leave");
		expect(decideLeave({ left: true })).toBe("noop");
		expect(decideLeave(undefined)).toBe("noop");
	});
});

function inboxRoom(room: string, unread: number, ts: number | null, joinedAt = 0): InboxRoom {
	return {
		room,
		kind: "room",
		joinedAt,
		lastSeq: 0,
		readSeq: 0,
		unread,
		mentions: 0,
		last: ts === null ? null : { msgId: "1-0000000000", seq: 1, author: { id: "a", name: "A" }, excerpt: "", ts },
	};
}

describe("the room list", () => {
	it("puts unread rooms first, then the latest activity, then the id", ({ expect }) => {
		const rooms = [
			inboxRoom("quiet", 0, 500),
			inboxRoom("b-unread-old", 2, 100),
			inboxRoom("a-unread-old", 1, 100),
			inboxRoom("unread-new", 1, 900),
			inboxRoom("never-posted", 0, null, 700),
			inboxRoom("newest-read", 0, 1000),
		];
		expect(rooms.sort(compareRooms).map((r) => r.room)).toEqual([
			"unread-new",
			"a-unread-old",
			"b-unread-old",
			"newest-read",
			"never-posted",
			"quiet",
		]);
	});

	it("counts mentions after the marker only", ({ expect }) => {
		expect(mentionCount([3, 7, 9], 7)).toBe(1);
		expect(mentionCount([3, 7, 9], 0)).toBe(3);
		expect(mentionCount([], 5)).toBe(0);
	});
});

describe("mentions: excerpt, order and cursor", () => {
	it("cuts excerpts by code points, never inside a surrogate pair", ({ expect }) => {
		const text = "😀".repeat(MENTION_EXCERPT_CHARS + 5);
		expect([...excerptOf(text)].length).toBe(MENTION_EXCERPT_CHARS);
		expect(excerptOf("hi")).toBe("hi");
	});

	it("reads the seq from a message id", ({ expect }) => {
		expect(seqOfMessageId("17-0123456789")).toBe(17);
		expect(seqOfMessageId("0-0123456789")).toBeUndefined();
		expect(seqOfMessageId("17-xyz")).toBeUndefined();
		expect(seqOfMessageId("")).toBeUndefined();
	});

	it("orders newest first by (ts, room, msgId), and a cursor splits the list exactly", ({ expect }) => {
		const list: MentionCursor[] = [
			{ ts: 5, room: "a", msgId: "1-0000000000" },
			{ ts: 9, room: "a", msgId: "2-0000000000" },
			{ ts: 9, room: "b", msgId: "1-0000000000" },
			{ ts: 9, room: "b", msgId: "3-0000000000" },
			{ ts: 1, room: "z", msgId: "9-0000000000" },
		].sort(compareMentions);
		expect(list.map((m) => `${m.ts}/${m.room}/${m.msgId[0]}`)).toEqual(["9/b/3", "9/b/1", "9/a/2", "5/a/1", "1/z/9"]);
		for (const [i, cursor] of list.entries()) {
			expect(list.filter((m) => isAfterCursor(m, cursor))).toEqual(list.slice(i + 1));
		}
	});

	it("round-trips a cursor, room ids and message ids of any text included", ({ expect }) => {
		const cursor = { ts: 1795770000000, room: "dm.0123", msgId: "12-abcdef0123" };
		expect(decodeMentionCursor(encodeMentionCursor(cursor))).toEqual(cursor);
		expect(encodeMentionCursor(cursor)).toMatch(/^[A-Za-z0-9_-]+$/);
	});

	it("refuses a cursor that is not one", ({ expect }) => {
		for (const bad of [
			"x",
			"!!",
			btoa("[1,2]"),
			btoa('[-1,"a","b"]'),
			btoa('[1.5,"a","b"]'),
			btoa('["1","a","b"]'),
			btoa('[1,"","b"]'),
		]) {
			expect(decodeMentionCursor(bad.replace(/=+$/, "")), bad).toBeUndefined();
		}
	});

	it("parses limit and before, refusing bad ones", ({ expect }) => {
		expect(parseMentionsQuery(new URLSearchParams(""))).toEqual({ ok: true, value: { limit: MENTIONS_PAGE_DEFAULT } });
		expect(parseMentionsQuery(new URLSearchParams("limit=5"))).toEqual({ ok: true, value: { limit: 5 } });
		const cursor = { ts: 3, room: "r", msgId: "1-0000000000" };
		expect(parseMentionsQuery(new URLSearchParams(`before=${encodeMentionCursor(cursor)}`))).toEqual({
			ok: true,
			value: { limit: MENTIONS_PAGE_DEFAULT, before: cursor },
		});
		for (const bad of ["limit=0", `limit=${MENTIONS_PAGE_MAX + 1}`, "limit=-1", "limit=2.5", "limit=x", "before=%%%", "before=abc"]) {
			const parsed = parseMentionsQuery(new URLSearchParams(bad));
			expect(parsed.ok, bad).toBe(false);
			if (!parsed.ok) expect(parsed.error.code).toBe("bad_request");
		}
	});
});

describe("user ids (the admin meter's `inboxes`, a DM's peer)", () => {
	it("are 1..64 code points of valid Unicode with no control or bidi characters", ({ expect }) => {
		for (const id of ["bob", "guest:zoe", "ü".repeat(64), "a-b_c.d@e"]) expect(isUserId(id), id).toBe(true);
		for (const id of ["", "a".repeat(65), "bo\u0000b", "bo\u202eb", "\ud800"]) expect(isUserId(id), JSON.stringify(id)).toBe(false);
	});
});

describe("DM input", () => {
	it("takes another user's id", ({ expect }) => {
		expect(parseDmInput({ with: "bob" }, "ann")).toEqual({ ok: true, value: "bob" });
		expect(parseDmInput({ with: "ü".repeat(64) }, "ann").ok).toBe(true);
	});

	it("refuses yourself, guests, and what is not a user id", ({ expect }) => {
		for (const body of [
			{ with: "ann" },
			{ with: "guest:zoe" },
			{},
			{ with: "" },
			{ with: 7 },
			{ with: "a".repeat(65) },
			{ with: "bo\u0000b" },
			{ with: "bo\u202eb" },
			{ with: "\ud800" },
		]) {
			const parsed = parseDmInput(body, "ann");
			expect(parsed.ok, JSON.stringify(body)).toBe(false);
			if (!parsed.ok) expect(parsed.error.code).toBe("bad_request");
		}
	});
});
