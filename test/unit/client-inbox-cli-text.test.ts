/**
 * The terminal client's inbox words (client/cli-text.ts, v1.4): reading `/rooms`, `/dm` and
 * `/mentions`, and showing rooms and mentions, with everything from the network escaped.
 */
import { describe, expect, it } from "vitest";
import { COMMANDS, formatMention, formatMentions, formatRooms, helpText, parseLine } from "../../client/cli-text.ts";
import { fromPage } from "../../client/inbox-state.ts";
import type { InboxPage } from "../../src/inbox-protocol.ts";

const at = (hours: number, minutes: number, day = 2): number => new Date(2026, 11, day, hours, minutes).getTime();
const NOW = at(15, 0);
const bob = { id: "bob", name: "Bob" };
const dm = "dm.0123456789abcdef0123456789abcdef01234567";

const page = (extra: Partial<InboxPage> = {}): InboxPage => ({
	user: { id: "ann", name: "Ann" },
	seq: 3,
	rooms: [
		{
			room: "team-a",
			kind: "room",
			joinedAt: 1,
			lastSeq: 9,
			readSeq: 6,
			unread: 3,
			mentions: 1,
			last: { msgId: "a9", seq: 9, author: bob, excerpt: "see you", ts: at(14, 3) },
		},
		{ room: dm, kind: "dm", with: bob, joinedAt: 2, lastSeq: 0, readSeq: 0, unread: 0, mentions: 0, last: null },
	],
	unreadTotal: 3,
	mentionTotal: 1,
	mentions: [{ room: "team-a", msgId: "a8", seq: 8, author: bob, excerpt: "hi @Ann", ts: at(14, 2) }],
	before: "c1",
	...extra,
});

describe("reading inbox commands", () => {
	it("reads /rooms, /dm <user> and /mentions [more]", () => {
		expect(parseLine("/rooms")).toEqual({ kind: "rooms" });
		expect(parseLine("/dm bob")).toEqual({ kind: "dm", user: "bob" });
		expect(parseLine("/mentions")).toEqual({ kind: "mentions", more: false });
		expect(parseLine("/mentions more")).toEqual({ kind: "mentions", more: true });
	});

	it("answers malformed ones with their usage", () => {
		for (const line of ["/dm", "/dm bob carol", "/rooms all", "/mentions 5"]) expect(parseLine(line).kind, line).toBe("usage");
	});

	it("lists them in /help", () => {
		for (const name of ["/rooms", "/dm", "/mentions"]) {
			expect(COMMANDS.some(([usage]) => usage.startsWith(name))).toBe(true);
			expect(helpText()).toContain(name);
		}
	});
});

describe("showing the inbox", () => {
	it("lists rooms with their counts and last message, DMs by the other user's name, the current one marked", () => {
		expect(formatRooms(fromPage(page()).view, dm, NOW)).toEqual([
			"--- 2 room(s): 3 unread, 1 mention ---",
			"  #team-a: 3 unread, 1 mention — 14:03 Bob: see you",
			`* @Bob (${dm}): no unread`,
			"--- end of rooms ---",
		]);
		expect(formatRooms(fromPage(page({ rooms: [] })).view, undefined, NOW)).toEqual([
			"--- no rooms yet: post in one, or /dm someone ---",
		]);
	});

	it("lists mentions newest first with time, room, author and excerpt, and says when older ones exist", () => {
		const { view } = fromPage(page());
		expect(formatMentions(view, NOW)).toEqual([
			"--- 1 mention(s), newest first ---",
			"14:02 #team-a Bob: hi @Ann [a8]",
			"--- older ones: /mentions more ---",
		]);
		expect(formatMentions(fromPage(page({ mentions: [] })).view, NOW)).toEqual(["--- no mentions ---"]);
	});

	it("escapes names, excerpts and ids from the network", () => {
		const evil = { id: "eve", name: "Eve\u001b[2J" };
		const { view } = fromPage(
			page({
				rooms: [{ room: dm, kind: "dm", with: evil, joinedAt: 1, lastSeq: 1, readSeq: 0, unread: 1, mentions: 0, last: null }],
				mentions: [
					{ room: dm, msgId: "x\u0007", seq: 1, author: evil, excerpt: "a\u202eb\nc", ts: at(14, 0), editedAt: at(14, 1) },
				],
			}),
		);
		const lines = [...formatRooms(view, undefined, NOW), formatMention(view.mentions[0] as never, view, NOW)];
		// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what the test looks for.
		for (const line of lines) expect(line).not.toMatch(/[\u0000-\u001f\u202e]/);
		expect(lines.at(-1)).toBe("14:00 @Eve\\x1b[2J Eve\\x1b[2J: a\\u202eb ⏎ c (edited) [x\\x07]");
	});
});
