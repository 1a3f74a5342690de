import { describe, expect, it } from "vitest";
import { escapeCodePoint, escapeForTerminal, preview, safe } from "../../client/terminal-text.ts";

/** Every code point in `text` that a terminal could act on, or that is invisible. */
const RAW_UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0]/u;

describe("escapeForTerminal", () => {
	it("leaves ordinary text alone, accents, CJK, emoji and backslashes included", () => {
		for (const text of [
			"hello, world",
			"café déjà vu",
			"日本語のテキスト",
			"emoji 🎉🙂",
			"C:\\Users\\ann",
			"a\\x1b is only text",
			"",
			"  spaced  ",
		]) {
			expect(escapeForTerminal(text)).toBe(text);
		}
	});

	it("escapes ESC, so no escape sequence can reach the terminal", () => {
		expect(escapeForTerminal("\x1b]0;pwned\x07")).toBe("\\x1b]0;pwned\\x07");
		expect(escapeForTerminal("\x1b[2J\x1b[H")).toBe("\\x1b[2J\\x1b[H");
		expect(escapeForTerminal("\x1b[1A\x1b[2K#1 admin: forged")).toBe("\\x1b[1A\\x1b[2K#1 admin: forged");
		expect(escapeForTerminal("\x1bc")).toBe("\\x1bc");
		expect(escapeForTerminal("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\")).toBe("\\x1b]8;;http://evil\\x1b\\link\\x1b]8;;\\x1b\\");
	});

	it("escapes a bare carriage return, which would overwrite the start of the line", () => {
		expect(escapeForTerminal("innocent\r#9 admin: you are banned")).toBe("innocent\\r#9 admin: you are banned");
		expect(escapeForTerminal("\r")).toBe("\\r");
		expect(escapeForTerminal("a\r\rb")).toBe("a\\r\\rb");
	});

	it("shows line breaks as ⏎ so one event stays one line", () => {
		expect(escapeForTerminal("one\ntwo")).toBe("one ⏎ two");
		expect(escapeForTerminal("one\r\ntwo")).toBe("one ⏎ two");
		expect(escapeForTerminal("one\n\ntwo")).toBe("one ⏎  ⏎ two");
		expect(escapeForTerminal("\n")).toBe(" ⏎ ");
		expect(escapeForTerminal("a\n\rb")).toBe("a ⏎ \\rb");
	});

	it("escapes every C0 control, DEL and every C1 control", () => {
		for (let code = 0; code <= 0x1f; code++) {
			if (code === 0x0a) continue;
			const expected = code === 0x09 ? "\\t" : code === 0x0d ? "\\r" : `\\x${code.toString(16).padStart(2, "0")}`;
			expect(escapeForTerminal(`<${String.fromCharCode(code)}>`)).toBe(`<${expected}>`);
		}
		expect(escapeForTerminal("\x7f")).toBe("\\x7f");
		for (let code = 0x80; code <= 0x9f; code++) {
			expect(escapeForTerminal(String.fromCharCode(code))).toBe(`\\x${code.toString(16)}`);
		}
		// The 8-bit CSI and OSC, and NEL (a line break on some terminals).
		expect(escapeForTerminal("\x9b2J\x9d0;t\x9c\x85")).toBe("\\x9b2J\\x9d0;t\\x9c\\x85");
		// NUL, backspace, bell, vertical tab, form feed.
		expect(escapeForTerminal("a\0b\bc\x07d\ve\ff")).toBe("a\\x00b\\x08c\\x07d\\x0be\\x0cf");
	});

	it("escapes bidi embeddings, overrides, isolates and marks", () => {
		for (const code of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c]) {
			expect(escapeForTerminal(`x${String.fromCharCode(code)}y`)).toBe(`x\\u${code.toString(16).padStart(4, "0")}y`);
		}
		expect(escapeForTerminal("bob: \u202egnp.exe")).toBe("bob: \\u202egnp.exe");
	});

	it("escapes invisible characters that could make one name pass for another", () => {
		expect(escapeForTerminal("Car\u200bol")).toBe("Car\\u200bol");
		expect(escapeForTerminal("Carol\u200d")).toBe("Carol\\u200d");
		expect(escapeForTerminal("Car\u200col")).toBe("Car\\u200col");
		expect(escapeForTerminal("\u2060Carol\ufeff")).toBe("\\u2060Carol\\ufeff");
		expect(escapeForTerminal("ad\u00admin")).toBe("ad\\xadmin");
		expect(escapeForTerminal("\u3164")).toBe("\\u3164");
		expect(escapeForTerminal("\u115f\u1160\uffa0")).toBe("\\u115f\\u1160\\uffa0");
		expect(escapeForTerminal("a\u2062b\u206ac\ufff9d")).toBe("a\\u2062b\\u206ac\\ufff9d");
	});

	it("escapes the Unicode line and paragraph separators", () => {
		expect(escapeForTerminal("one\u2028two\u2029three")).toBe("one\\u2028two\\u2029three");
	});

	it("escapes tag characters and lone surrogates, with astral escapes in braces", () => {
		expect(escapeForTerminal("hi\u{E0041}\u{E0042}")).toBe("hi\\u{e0041}\\u{e0042}");
		expect(escapeForTerminal("a\ud800b")).toBe("a\\ud800b");
		expect(escapeForTerminal("a\udc00")).toBe("a\\udc00");
	});

	it("keeps the joiners and tags that emoji and scripts need", () => {
		const family = "👨\u200d👩\u200d👧";
		const rainbowFlag = "🏳\ufe0f\u200d🌈";
		const scotland = "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}";
		const persian = "می\u200cخواهم";
		const devanagari = "क्\u200dष";
		for (const text of [family, rainbowFlag, scotland, persian, devanagari, `${family} and ${scotland}!`]) {
			expect(escapeForTerminal(text)).toBe(text);
		}
		// A joiner at either end, doubled, or next to a space is escaped.
		expect(escapeForTerminal("\u200d👩")).toBe("\\u200d👩");
		expect(escapeForTerminal("👩\u200d")).toBe("👩\\u200d");
		expect(escapeForTerminal("👩\u200d\u200d👧")).toBe("👩\\u200d\\u200d👧");
		expect(escapeForTerminal("👩\u200d 👧")).toBe("👩\\u200d 👧");
		// Tags not in a flag sequence are escaped.
		expect(escapeForTerminal("🏴\u{E0067}")).toBe("🏴\\u{e0067}");
	});

	it("never lets an unsafe code point through, whatever the input", () => {
		// Every code point of the BMP below U+3200 and the format blocks above, plus tags, in one string.
		const points: number[] = [];
		for (let code = 0; code < 0x3200; code++) points.push(code);
		for (const code of [0xfeff, 0xfff9, 0xfffa, 0xfffb, 0xffa0, 0xd800, 0xdfff, 0xe0001, 0xe0020, 0xe007f, 0x110bd, 0x1d173])
			points.push(code);
		const text = points
			.map((code) =>
				String.fromCharCode(...(code > 0xffff ? [0xd800 + ((code - 0x10000) >> 10), 0xdc00 + ((code - 0x10000) & 0x3ff)] : [code])),
			)
			.join("");
		const escaped = escapeForTerminal(text);
		expect(escaped).not.toMatch(RAW_UNSAFE);
		// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what the test looks for.
		expect(escaped).not.toMatch(/[\n\r\x1b]/);
		// The escapes themselves are plain ASCII.
		expect(escapeForTerminal("\x1b\u202e\u{E0041}")).toMatch(/^[\x20-\x7e]+$/);
	});

	it("is stable: escaping twice adds nothing new to escape", () => {
		const once = escapeForTerminal("\x1b[2J\r\u202e\n👨\u200d👩");
		expect(escapeForTerminal(once)).toBe(once);
	});
});

describe("escapeCodePoint", () => {
	it("uses short forms for tab and CR, \\xNN, \\uNNNN and \\u{…} otherwise", () => {
		expect(escapeCodePoint(0x09)).toBe("\\t");
		expect(escapeCodePoint(0x0d)).toBe("\\r");
		expect(escapeCodePoint(0x00)).toBe("\\x00");
		expect(escapeCodePoint(0x1b)).toBe("\\x1b");
		expect(escapeCodePoint(0x9b)).toBe("\\x9b");
		expect(escapeCodePoint(0x202e)).toBe("\\u202e");
		expect(escapeCodePoint(0xe0041)).toBe("\\u{e0041}");
	});
});

describe("safe", () => {
	it("escapes every interpolated value and keeps the literal parts", () => {
		const name = "eve\x1b]0;pwned\x07";
		const text = "hi\r\n#2 admin: forged";
		expect(safe`#${1} ${name}: ${text} [${"id\u202e"}]`).toBe("#1 eve\\x1b]0;pwned\\x07: hi ⏎ #2 admin: forged [id\\u202e]");
		expect(safe`plain`).toBe("plain");
		expect(safe`${undefined}/${42}/${null}`).toBe("undefined/42/null");
	});
});

describe("preview", () => {
	it("keeps short text and cuts long text with its length", () => {
		expect(preview("short")).toBe("short");
		expect(preview("x".repeat(60))).toBe("x".repeat(60));
		expect(preview("Z".repeat(20_000))).toBe(`${"Z".repeat(60)}… (20000 chars)`);
		expect(preview("abcdef", 3)).toBe("abc… (6 chars)");
	});

	it("never cuts a surrogate pair in half", () => {
		expect(preview("🎉".repeat(5), 2)).toBe("🎉🎉… (5 chars)");
	});
});
