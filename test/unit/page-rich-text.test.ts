/**
 * The chat page's reading of message text (client/rich-text.ts): inline code, links that are
 * only ever http(s), and `@` mentions resolved against the message's `mentions`.
 */
import { describe, expect, it } from "vitest";
import { nameFromUserId, parseRichText, safeHref, trimUrl } from "../../client/rich-text.ts";

const kinds = (text: string, options = {}) => parseRichText(text, options).map((s) => [s.kind, s.text]);

describe("links", () => {
	it("turns http and https URLs into links with a normalised href, keeping the text around them", () => {
		expect(parseRichText("see https://example.com/a?b=1 now")).toEqual([
			{ kind: "text", text: "see " },
			{ kind: "link", text: "https://example.com/a?b=1", href: "https://example.com/a?b=1" },
			{ kind: "text", text: " now" },
		]);
		expect(parseRichText("HTTP://Example.COM")[0]).toEqual({ kind: "link", text: "HTTP://Example.COM", href: "http://example.com/" });
	});

	it("never makes a link of another scheme, whatever its spelling", () => {
		for (const text of [
			"javascript:alert(1)",
			"JaVaScRiPt:alert(document.cookie)",
			"data:text/html,<script>alert(1)</script>",
			"vbscript:msgbox",
			"file:///etc/passwd",
			"ftp://example.com/x",
			"//example.com/x",
			"java\tscript:alert(1)",
		]) {
			expect(
				parseRichText(text).filter((s) => s.kind === "link"),
				text,
			).toEqual([]);
			expect(
				parseRichText(text)
					.map((s) => s.text)
					.join(""),
				text,
			).toBe(text);
		}
	});

	it("does not take a javascript: URL hidden after an http prefix for a link to it", () => {
		const [segment] = parseRichText("http://javascript:alert(1)");
		// Not a valid host: stays text rather than becoming any link.
		expect(segment?.kind).toBe("text");
		for (const segment of parseRichText("https://ok.example/?next=javascript:alert(1)")) {
			if (segment.kind === "link") expect(new URL(segment.href).protocol).toBe("https:");
		}
	});

	it("leaves sentence punctuation and an unopened bracket outside the link", () => {
		expect(trimUrl("https://example.com/x.")).toBe("https://example.com/x");
		expect(trimUrl("https://example.com/x?!")).toBe("https://example.com/x");
		expect(trimUrl("https://en.wikipedia.org/wiki/Foo_(bar)")).toBe("https://en.wikipedia.org/wiki/Foo_(bar)");
		expect(kinds("(see https://example.com/x).")).toEqual([
			["text", "(see "],
			["link", "https://example.com/x"],
			["text", ")."],
		]);
	});

	it("stops a link at quotes and angle brackets, which are never part of it as written", () => {
		expect(kinds('<https://example.com/a>"b')).toEqual([
			["text", "<"],
			["link", "https://example.com/a"],
			["text", '>"b'],
		]);
	});

	it("accepts only http(s) URLs with a host as an href", () => {
		expect(safeHref("https://example.com")).toBe("https://example.com/");
		expect(safeHref("https://")).toBeUndefined();
		expect(safeHref("javascript:alert(1)")).toBeUndefined();
		expect(safeHref("not a url")).toBeUndefined();
	});
});

describe("inline code", () => {
	it("shows text between backticks as code, with no links or mentions inside", () => {
		const mentioned = [{ id: "guest:bob", name: "bob" }];
		expect(parseRichText("run `curl https://x.example @bob` then", { mentioned })).toEqual([
			{ kind: "text", text: "run " },
			{ kind: "code", text: "`curl https://x.example @bob`", code: "curl https://x.example @bob" },
			{ kind: "text", text: " then" },
		]);
	});

	it("leaves an unmatched backtick, an empty pair and a pair across lines as text", () => {
		expect(kinds("a ` b")).toEqual([["text", "a ` b"]]);
		expect(kinds("a `` b")).toEqual([["text", "a `` b"]]);
		expect(kinds("a `b\nc` d")).toEqual([["text", "a `b\nc` d"]]);
	});
});

describe("mentions", () => {
	const mentioned = [
		{ id: "guest:bob", name: "bob" },
		{ id: "u-7", name: "Carol" },
	];

	it("marks @name of a mentioned user, case-insensitively, and flags the reader's own", () => {
		expect(parseRichText("hi @Bob and @carol!", { mentioned, me: "u-7" })).toEqual([
			{ kind: "text", text: "hi " },
			{ kind: "mention", text: "@Bob", userId: "guest:bob", me: false },
			{ kind: "text", text: " and " },
			{ kind: "mention", text: "@carol", userId: "u-7", me: true },
			{ kind: "text", text: "!" },
		]);
	});

	it("leaves names the server did not mark, e-mail addresses and longer words as text", () => {
		expect(kinds("@dave hi", { mentioned })).toEqual([["text", "@dave hi"]]);
		expect(kinds("mail bob@bob.example", { mentioned })).toEqual([["text", "mail bob@bob.example"]]);
		expect(kinds("@bobby", { mentioned })).toEqual([["text", "@bobby"]]);
		expect(kinds("@bob", {})).toEqual([["text", "@bob"]]);
	});

	it("follows the server's rule: names with spaces, ids, the longest handle, no letter or digit touching", () => {
		const people = [
			{ id: "u-9", name: "Ann Lee" },
			{ id: "u-8", name: "Ann" },
			{ id: "guest:bob", name: "bob" },
		];
		expect(kinds("@ann lee, hi", { mentioned: people })).toEqual([
			["mention", "@ann lee"],
			["text", ", hi"],
		]);
		expect(kinds("@Ann, hi", { mentioned: people })).toEqual([
			["mention", "@Ann"],
			["text", ", hi"],
		]);
		expect(kinds("ping @guest:bob", { mentioned: people })).toEqual([
			["text", "ping "],
			["mention", "@guest:bob"],
		]);
		expect(kinds("@bob-team and x@bob and @bob_", { mentioned: people })).toEqual([
			["mention", "@bob"],
			["text", "-team and x@bob and @bob_"],
		]);
	});

	it("gives back the original text when the segments are joined", () => {
		const text = "`x` @bob https://a.example/(b)), @carol. end";
		expect(
			parseRichText(text, { mentioned })
				.map((s) => s.text)
				.join(""),
		).toBe(text);
	});

	it("knows a guest's name from the id alone, and no one else's", () => {
		expect(nameFromUserId("guest:zed")).toBe("zed");
		expect(nameFromUserId("u-1")).toBeUndefined();
	});
});
