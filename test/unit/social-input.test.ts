/**
 * v1.3 inputs for reactions, typing and read state: the emoji rule (src/emoji.ts), the `react`,
 * `typing` and `read` frames and the HTTP bodies (src/protocol.ts), and the typing throttle
 * (src/typing.ts). These run inside workerd, so they also pin what its Intl.Segmenter and
 * Unicode property escapes do.
 */
import { describe, it } from "vitest";
import { isEmoji, isOneGrapheme, MAX_EMOJI_UNITS } from "../../src/emoji.ts";
import {
	MAX_CLIENT_ID_CHARS,
	parseClientFrame,
	parseReactInput,
	parseReadInput,
	TYPING_INTERVAL_MS,
	isReactionEmoji,
} from "../../src/protocol.ts";
import { TypingThrottle } from "../../src/typing.ts";

const parse = (frame: unknown) =>
	parseClientFrame(typeof frame === "string" ? frame : JSON.stringify(frame), "lobby", { maxMessageChars: 10 });

describe("one emoji", () => {
	it("accepts single emoji graphemes: plain, skin tones, ZWJ sequences, presentation selectors, flags, keycaps, tag flags", ({
		expect,
	}) => {
		for (const emoji of ["😀", "👍", "👍🏽", "👩‍👩‍👧‍👦", "🧑🏿‍🚀", "❤️", "❤", "🏳️‍🌈", "🏴‍☠️", "🇫🇷", "🇯🇵", "1️⃣", "#️⃣", "*⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"]) {
			expect(isEmoji(emoji), emoji).toBe(true);
		}
	});

	it("refuses text, several graphemes, white space around one, lone regional indicators and over-long clusters", ({ expect }) => {
		const combining = `😀${"\u0301".repeat(MAX_EMOJI_UNITS)}`;
		expect(isOneGrapheme(combining)).toBe(true);
		for (const text of ["", "a", "1", "ab", "👍👍", "👍 ", " 👍", "🇫", "🇫🇷🇯🇵", "é", "\u200d", "\n", combining, "😀\u0000"]) {
			expect(isEmoji(text), JSON.stringify(text)).toBe(false);
		}
	});

	it("takes a :name: of 1..32 of a-z 0-9 _ + - as the other kind of reaction", ({ expect }) => {
		for (const name of [":+1:", ":thumbs_up:", ":a:", `:${"x".repeat(32)}:`, ":-1:"]) expect(isReactionEmoji(name), name).toBe(true);
		for (const name of ["::", ":A:", ":a b:", "thumbs", `:${"x".repeat(33)}:`, ":a::", ":é:"])
			expect(isReactionEmoji(name), name).toBe(false);
		expect(isReactionEmoji("\ud83d")).toBe(false);
	});
});

describe("react input (frame and POST …/reactions body)", () => {
	it("keeps id, msgId, emoji and the optional remove and after", ({ expect }) => {
		expect(parseReactInput({ id: "r1", msgId: "3-abcdef0123", emoji: "👍" })).toEqual({
			ok: true,
			value: { id: "r1", msgId: "3-abcdef0123", emoji: "👍" },
		});
		expect(parseReactInput({ id: "r1", msgId: "m", emoji: ":ok:", remove: true, after: "s9" })).toEqual({
			ok: true,
			value: { id: "r1", msgId: "m", emoji: ":ok:", remove: true, after: "s9" },
		});
		// remove: false is the same as no remove.
		expect(parseReactInput({ id: "r1", msgId: "m", emoji: "👍", remove: false })).toEqual({
			ok: true,
			value: { id: "r1", msgId: "m", emoji: "👍" },
		});
		expect(parse({ type: "react", id: "r1", msgId: "m", emoji: "🇫🇷" })).toEqual({
			ok: true,
			value: { type: "react", id: "r1", msgId: "m", emoji: "🇫🇷" },
		});
	});

	it("refuses each bad field with bad_request, naming the frame's id once it is known", ({ expect }) => {
		const bad: Array<[Record<string, unknown>, string | undefined]> = [
			[{ msgId: "m", emoji: "👍" }, undefined],
			[{ id: "", msgId: "m", emoji: "👍" }, undefined],
			[{ id: "x".repeat(MAX_CLIENT_ID_CHARS + 1), msgId: "m", emoji: "👍" }, undefined],
			[{ id: "r", emoji: "👍" }, "r"],
			[{ id: "r", msgId: "", emoji: "👍" }, "r"],
			[{ id: "r", msgId: "m".repeat(129), emoji: "👍" }, "r"],
			[{ id: "r", msgId: "m" }, "r"],
			[{ id: "r", msgId: "m", emoji: "ok" }, "r"],
			[{ id: "r", msgId: "m", emoji: "👍👎" }, "r"],
			[{ id: "r", msgId: "m", emoji: 1 }, "r"],
			[{ id: "r", msgId: "m", emoji: "👍", remove: "yes" }, "r"],
			[{ id: "r", msgId: "m", emoji: "👍", after: "" }, "r"],
		];
		for (const [input, id] of bad) {
			const parsed = parseReactInput(input);
			expect(parsed.ok, JSON.stringify(input)).toBe(false);
			if (!parsed.ok) {
				expect(parsed.error.code).toBe("bad_request");
				expect(parsed.error.id).toBe(id);
			}
		}
	});
});

describe("typing and read frames", () => {
	it("parses typing with an optional id, and refuses a bad id", ({ expect }) => {
		expect(parse({ type: "typing" })).toEqual({ ok: true, value: { type: "typing" } });
		expect(parse({ type: "typing", id: "t1" })).toEqual({ ok: true, value: { type: "typing", id: "t1" } });
		const bad = parse({ type: "typing", id: "" });
		expect(bad.ok === false && bad.error.code).toBe("bad_request");
	});

	it("parses read with a non-negative integer seq (the PUT …/read body too), and refuses anything else", ({ expect }) => {
		expect(parse({ type: "read", seq: 0 })).toEqual({ ok: true, value: { type: "read", seq: 0 } });
		expect(parse({ type: "read", seq: 42, id: "r" })).toEqual({ ok: true, value: { type: "read", seq: 42, id: "r" } });
		expect(parseReadInput({ seq: 7 })).toEqual({ ok: true, value: { seq: 7 } });
		for (const seq of [-1, 1.5, "3", null, undefined, Number.MAX_SAFE_INTEGER + 1, Number.NaN]) {
			const parsed = parseReadInput({ seq });
			expect(parsed.ok === false && parsed.error.code, String(seq)).toBe("bad_request");
		}
		const framed = parse({ type: "read", seq: -1, id: "r" });
		expect(framed.ok === false && framed.error.id).toBe("r");
	});

	it("names every frame type it knows when the type is unknown", ({ expect }) => {
		const parsed = parse({ type: "wave" });
		expect(parsed.ok === false && parsed.error.message).toContain('"react", "typing" or "read"');
	});
});

describe("typing throttle", () => {
	it("passes one typing per user per interval, each user on their own clock", ({ expect }) => {
		const throttle = new TypingThrottle();
		expect(throttle.pass("ann", 1000)).toBe(true);
		expect(throttle.pass("ann", 1001)).toBe(false);
		expect(throttle.pass("bob", 1001)).toBe(true);
		expect(throttle.pass("ann", 1000 + TYPING_INTERVAL_MS - 1)).toBe(false);
		expect(throttle.pass("ann", 1000 + TYPING_INTERVAL_MS)).toBe(true);
		expect(throttle.pass("ann", 1000 + TYPING_INTERVAL_MS + 1)).toBe(false);
	});

	it("passes after the clock went backwards, instead of holding the user off until it catches up", ({ expect }) => {
		const throttle = new TypingThrottle();
		expect(throttle.pass("ann", 10_000)).toBe(true);
		expect(throttle.pass("ann", 5_000)).toBe(true);
		expect(throttle.pass("ann", 5_001)).toBe(false);
	});

	it("forgets users whose interval is over once it tracks too many, so memory stays bounded", ({ expect }) => {
		const throttle = new TypingThrottle(100, 3);
		for (const user of ["a", "b", "c"]) throttle.pass(user, 0);
		expect(throttle.size).toBe(3);
		throttle.pass("d", 100);
		expect(throttle.size).toBe(1);
		// A user still inside their interval is kept, and still throttled.
		expect(throttle.pass("d", 150)).toBe(false);
	});
});
