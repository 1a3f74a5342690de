/** The v1.3 chat parsers: the edit frame and body, `replyTo` on a send, the search query. */
import { describe, it } from "vitest";
import {
	MAX_CLIENT_ID_CHARS,
	MAX_SEARCH_QUERY_CHARS,
	parseClientFrame,
	parseEditInput,
	parseSearchQuery,
	parseSendInput,
	SEARCH_PAGE_DEFAULT,
	SEARCH_PAGE_MAX,
} from "../../src/protocol.ts";

const limits = { maxMessageChars: 10 };
const frame = (value: unknown) => parseClientFrame(JSON.stringify(value), "lobby", limits);
const search = (query: string) => parseSearchQuery(new URLSearchParams(query));

describe("the edit frame", () => {
	it("parses id, msgId, text and after, dropping unknown fields", ({ expect }) => {
		expect(frame({ type: "edit", id: "e1", msgId: "3-abcdef0123", text: "fixed", after: "m1", x: 1 })).toEqual({
			ok: true,
			value: { type: "edit", id: "e1", msgId: "3-abcdef0123", text: "fixed", after: "m1" },
		});
	});

	it("refuses a missing or empty msgId with bad_request naming the frame", ({ expect }) => {
		for (const msgId of [undefined, "", 7, "x".repeat(129)]) {
			expect(frame({ type: "edit", id: "e1", msgId, text: "t" })).toMatchObject({
				ok: false,
				error: { code: "bad_request", id: "e1" },
			});
		}
	});

	it("holds the new text to a send's rules: length, blank, lone surrogates", ({ expect }) => {
		const edit = (text: unknown) => parseEditInput({ id: "e1", msgId: "1-abcdef0123", text }, limits);
		expect(edit("a".repeat(10)).ok).toBe(true);
		expect(edit("😀".repeat(10)).ok).toBe(true);
		expect(edit("a".repeat(11))).toMatchObject({ ok: false, error: { code: "too_large", id: "e1" } });
		for (const bad of ["", "   ", "\n", "a\ud800", 5, null])
			expect(edit(bad)).toMatchObject({ ok: false, error: { code: "bad_request" } });
	});

	it("needs a client id of 1..MAX_CLIENT_ID_CHARS valid chars", ({ expect }) => {
		const edit = (id: unknown) => parseEditInput({ id, msgId: "1-abcdef0123", text: "t" }, limits);
		expect(edit("x".repeat(MAX_CLIENT_ID_CHARS)).ok).toBe(true);
		for (const bad of ["", "x".repeat(MAX_CLIENT_ID_CHARS + 1), "\udc00", 1, undefined]) {
			expect(edit(bad)).toMatchObject({ ok: false, error: { code: "bad_request" } });
		}
		expect(parseEditInput({ id: "e", msgId: "1-abcdef0123", text: "t", after: "" }, limits)).toMatchObject({
			ok: false,
			error: { code: "bad_request" },
		});
	});
});

describe("replyTo on a send", () => {
	it("is kept when it is a message id, on the frame and on the HTTP body alike", ({ expect }) => {
		expect(frame({ type: "send", id: "1", text: "yes", replyTo: "4-abcdef0123" })).toEqual({
			ok: true,
			value: { type: "send", id: "1", text: "yes", replyTo: "4-abcdef0123" },
		});
		expect(parseSendInput({ id: "1", text: "yes", replyTo: "4-abcdef0123", crossPost: ["b"] }, "lobby", limits)).toEqual({
			ok: true,
			value: { id: "1", text: "yes", replyTo: "4-abcdef0123", crossPost: ["b"] },
		});
	});

	it("refuses one that is not a string of 1..128 chars", ({ expect }) => {
		for (const replyTo of ["", 4, null, ["4-a"], "x".repeat(129)]) {
			expect(frame({ type: "send", id: "1", text: "yes", replyTo })).toMatchObject({
				ok: false,
				error: { code: "bad_request", id: "1" },
			});
		}
	});
});

describe("the search query", () => {
	it("takes q (trimmed), limit and before", ({ expect }) => {
		expect(search("q=%20hello%20")).toEqual({ ok: true, value: { q: "hello", limit: SEARCH_PAGE_DEFAULT } });
		expect(search(`q=a+b&limit=${SEARCH_PAGE_MAX}&before=40`)).toEqual({
			ok: true,
			value: { q: "a b", limit: SEARCH_PAGE_MAX, before: 40 },
		});
	});

	it("refuses an empty or oversized q, and bad limits or cursors", ({ expect }) => {
		for (const bad of [
			"",
			"q=",
			"q=%20",
			"q=a&limit=0",
			`q=a&limit=${SEARCH_PAGE_MAX + 1}`,
			"q=a&limit=x",
			"q=a&before=-1",
			"q=a&before=1.5",
		]) {
			expect(search(bad)).toMatchObject({ ok: false, error: { code: "bad_request" } });
		}
		expect(search(`q=${"a".repeat(MAX_SEARCH_QUERY_CHARS + 1)}`)).toMatchObject({ ok: false, error: { code: "too_large" } });
	});
});
