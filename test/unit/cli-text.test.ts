/**
 * The terminal client's words: how a typed line is read (message or command, with `#<n>` or
 * msgId references) and how each room event is shown, with its time and everything from the
 * network escaped.
 */
import { describe, expect, it } from "vitest";
import {
	COMMANDS,
	formatEdit,
	formatMessage,
	formatReaction,
	formatRetract,
	formatSearch,
	formatTime,
	helpText,
	parseLine,
} from "../../client/cli-text.ts";
import type { MessageEvent } from "../../src/protocol.ts";

const at = (h: number, m: number, day = 2): number => new Date(2026, 11, day, h, m).getTime();
const NOW = at(15, 0);
const bob = { id: "u-bob", name: "Bob" };
const message = (extra: Partial<MessageEvent> = {}): MessageEvent => ({
	type: "message",
	seq: 12,
	msgId: "m12",
	author: bob,
	text: "hello",
	ts: at(14, 3),
	traceId: "t",
	...extra,
});

describe("parseLine", () => {
	const known = (word: string): boolean => word === "m12";

	it("sends plain lines and // lines with one / removed", () => {
		expect(parseLine("hello")).toEqual({ kind: "send", text: "hello" });
		expect(parseLine("//edit is a word")).toEqual({ kind: "send", text: "/edit is a word" });
		expect(parseLine("   ")).toEqual({ kind: "empty" });
	});

	it("reads /edit with a #n, a bare n or a msgId shown, and without one as your last message", () => {
		expect(parseLine("/edit #12 fixed  text", known)).toEqual({ kind: "edit", ref: { seq: 12 }, text: "fixed  text" });
		expect(parseLine("/edit 12 fixed", known)).toEqual({ kind: "edit", ref: { seq: 12 }, text: "fixed" });
		expect(parseLine("/edit m12 fixed", known)).toEqual({ kind: "edit", ref: { msgId: "m12" }, text: "fixed" });
		expect(parseLine("/edit fixed it now", known)).toEqual({ kind: "edit", ref: undefined, text: "fixed it now" });
		expect(parseLine("/edit #12", known)).toMatchObject({ kind: "usage" });
		expect(parseLine("/edit", known)).toMatchObject({ kind: "usage" });
	});

	it("reads /reply, /react, /unreact, /delete, /search, /history, /help and /quit", () => {
		expect(parseLine("/reply 3 sure thing")).toEqual({ kind: "reply", ref: { seq: 3 }, text: "sure thing" });
		expect(parseLine("/react #3 👍")).toEqual({ kind: "react", ref: { seq: 3 }, emoji: "👍", remove: false });
		expect(parseLine("/unreact m9 :tada:")).toEqual({ kind: "react", ref: { msgId: "m9" }, emoji: ":tada:", remove: true });
		expect(parseLine("/delete #4")).toEqual({ kind: "delete", ref: { seq: 4 } });
		expect(parseLine("/search café  crème")).toEqual({ kind: "search", q: "café  crème" });
		expect(parseLine("/history")).toEqual({ kind: "history", count: 20 });
		expect(parseLine("/history 5")).toEqual({ kind: "history", count: 5 });
		expect(parseLine("/help")).toEqual({ kind: "help" });
		expect(parseLine("/exit")).toEqual({ kind: "quit" });
	});

	it("answers a malformed command with its usage, and an unknown one by name; nothing is sent", () => {
		for (const line of ["/reply 3", "/react 3", "/react 3 👍 🎉", "/delete", "/search", "/history 0", "/history x"]) {
			expect(parseLine(line).kind, line).toBe("usage");
		}
		expect(parseLine("/shrug")).toEqual({ kind: "unknown", name: "/shrug" });
	});

	it("lists every command in /help", () => {
		const help = helpText();
		for (const [usage] of COMMANDS) expect(help).toContain(usage);
		for (const name of ["/edit", "/reply", "/react", "/unreact", "/delete", "/search", "/history", "/help", "/quit"]) {
			expect(
				COMMANDS.some(([usage]) => usage.startsWith(name)),
				name,
			).toBe(true);
		}
	});
});

describe("showing events", () => {
	it("puts the local time on every line, and the date when it is not today", () => {
		expect(formatTime(at(14, 3), NOW)).toBe("14:03");
		expect(formatTime(at(9, 5, 1), NOW)).toBe("2026-12-01 09:05");
		expect(formatMessage(message(), NOW)).toBe("#12 14:03 Bob: hello [m12]");
		expect(formatRetract({ type: "retract", seq: 13, msgId: "m12", reason: "deleted", ts: at(14, 4), traceId: "t" }, NOW)).toBe(
			"#13 14:04 (removed m12: deleted)",
		);
	});

	it("shows a reply's quote, an edited mark and reaction counts (* for yours)", () => {
		const reply = message({
			replyTo: { msgId: "m3", author: { id: "guest:ann", name: "Ann" }, excerpt: "what time?" },
			editSeq: 20,
			reactions: [
				{ emoji: "👍", count: 2, mine: true },
				{ emoji: "🎉", count: 1, mine: false },
			],
		});
		expect(formatMessage(reply, NOW)).toBe('#12 14:03 Bob (reply to Ann (guest): "what time?"): hello (edited) {👍 2*, 🎉} [m12]');
		const orphan = message({ replyTo: { msgId: "m3", author: bob, excerpt: "", removed: true } });
		expect(formatMessage(orphan, NOW)).toBe("#12 14:03 Bob (reply to a removed message): hello [m12]");
	});

	it("names the edited or reacted-to message by its #n when it was shown, else by msgId", () => {
		const edit = { type: "message.edited", seq: 20, msgId: "m12", text: "hi", editedAt: 1, ts: at(14, 5), traceId: "t" } as const;
		expect(formatEdit(edit, { seq: 12, author: bob }, NOW)).toBe("#20 14:05 Bob edited #12: hi");
		expect(formatEdit(edit, undefined, NOW)).toBe("#20 14:05 edited [m12]: hi");
		const reaction = { type: "reaction.added", seq: 21, msgId: "m12", emoji: "👍", user: bob, ts: at(14, 6), traceId: "t" } as const;
		expect(formatReaction(reaction, { seq: 12, author: bob }, NOW)).toBe("#21 14:06 Bob reacted 👍 to #12");
		expect(formatReaction({ ...reaction, type: "reaction.removed" }, undefined, NOW)).toBe("#21 14:06 Bob removed 👍 from [m12]");
	});

	it("escapes everything from the network: names, texts, quotes, emoji, msgIds, queries", () => {
		const hostile = "\u001b]0;pwned\u0007\r\n";
		const line = formatMessage(
			message({
				author: { id: "x", name: `M${hostile}` },
				text: hostile,
				msgId: hostile,
				replyTo: { msgId: "q", author: { id: "y", name: hostile }, excerpt: hostile },
				reactions: [{ emoji: hostile, count: 1, mine: false }],
			}),
			NOW,
		);
		const edit = formatEdit(
			{ type: "message.edited", seq: 1, msgId: hostile, text: hostile, editedAt: 1, ts: 1, traceId: "t" },
			undefined,
		);
		const search = formatSearch({ room: "r", q: hostile, results: [] });
		for (const shown of [line, edit, ...search]) {
			expect(/\p{Cc}/u.test(shown), JSON.stringify(shown)).toBe(false);
			expect(shown).toContain("\\x1b");
		}
	});

	it("shows a search page newest first, with a note when older results remain", () => {
		const lines = formatSearch({ room: "r", q: "hello", results: [message({ seq: 30, msgId: "m30" }), message()], before: 12 }, NOW);
		expect(lines).toEqual([
			'--- 2 message(s) matching "hello", newest first ---',
			"#30 14:03 Bob: hello [m30]",
			"#12 14:03 Bob: hello [m12]",
			"--- more, older than #12, not shown ---",
		]);
		expect(formatSearch({ room: "r", q: "zzz", results: [] })).toEqual(['--- no messages match "zzz" ---']);
	});
});
