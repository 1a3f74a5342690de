import { describe, it } from "vitest";
import { ftsQuery, MAX_SEARCH_WORDS } from "../../src/search-query.ts";

describe("the search query as FTS5 sees it", () => {
	it("quotes every word and joins them, so all must match", ({ expect }) => {
		expect(ftsQuery("hello world")).toBe('"hello" "world"');
		expect(ftsQuery("  spaced \t out ")).toBe('"spaced" "out"');
	});

	it("keeps a trailing * as a prefix search", ({ expect }) => {
		expect(ftsQuery("depl*")).toBe('"depl"*');
		expect(ftsQuery("a** b")).toBe('"a"* "b"');
	});

	it("leaves FTS5 operators and column filters without effect", ({ expect }) => {
		expect(ftsQuery('text:x OR "y" NEAR(a b) -z ^w')).toBe('"text:x" "OR" """y""" "NEAR(a" "b)" "-z" "^w"');
	});

	it("drops words without a letter or digit, and says when none is left", ({ expect }) => {
		expect(ftsQuery("!!! ok ...")).toBe('"ok"');
		expect(ftsQuery("* ?? --")).toBeUndefined();
		expect(ftsQuery("")).toBeUndefined();
	});

	it("keeps at most MAX_SEARCH_WORDS words", ({ expect }) => {
		const q = Array.from({ length: MAX_SEARCH_WORDS + 4 }, (_, i) => `w${i}`).join(" ");
		expect(ftsQuery(q)?.split(" ")).toHaveLength(MAX_SEARCH_WORDS);
	});
});
