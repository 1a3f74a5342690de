import { describe, it } from "vitest";
import {
	codePointLength,
	isRoomId,
	parseClientFrame,
	parseEventsQuery,
	parsePolicyPatch,
	parseSince,
	policyRefusal,
} from "../../src/protocol.ts";

const limits = { maxMessageChars: 10 };
const parse = (frame: unknown, room = "lobby") => parseClientFrame(typeof frame === "string" ? frame : JSON.stringify(frame), room, limits);

describe("room ids", () => {
	it("accepts the contract's pattern and nothing else", ({ expect }) => {
		for (const good of ["a", "lobby", "team-1.x_y", "0", "a".repeat(64)]) expect(isRoomId(good)).toBe(true);
		for (const bad of ["", "-a", ".a", "A", "a b", "a/b", "a".repeat(65), "ü", "lobby\n"]) expect(isRoomId(bad)).toBe(false);
	});
});

describe("code point length", () => {
	it("counts astral characters once", ({ expect }) => {
		expect(codePointLength("abc")).toBe(3);
		expect(codePointLength("😀😀")).toBe(2);
		expect(codePointLength("e\u0301")).toBe(2);
		expect(codePointLength("\ud800")).toBe(1);
	});
});

describe("client frames", () => {
	it("parses a send with crossPost and drops unknown fields", ({ expect }) => {
		expect(parse({ type: "send", id: "1", text: "hi", crossPost: ["b", "c"], extra: { x: 1 } })).toEqual({
			ok: true,
			value: { type: "send", id: "1", text: "hi", crossPost: ["b", "c"] },
		});
	});

	it("parses a delete", ({ expect }) => {
		expect(parse({ type: "delete", msgId: "3-abc" })).toEqual({ ok: true, value: { type: "delete", msgId: "3-abc" } });
	});

	it.for([
		["not JSON", "{nope", "bad_request"],
		["a JSON array", "[1,2]", "bad_request"],
		["a JSON string", '"send"', "bad_request"],
		["null", "null", "bad_request"],
		["an unknown type", { type: "shout", id: "1", text: "x" }, "bad_request"],
		["a missing type", { id: "1", text: "x" }, "bad_request"],
		["a numeric id", { type: "send", id: 7, text: "x" }, "bad_request"],
		["an empty id", { type: "send", id: "", text: "x" }, "bad_request"],
		["a 65-char id", { type: "send", id: "i".repeat(65), text: "x" }, "bad_request"],
		["a missing text", { type: "send", id: "1" }, "bad_request"],
		["an empty text", { type: "send", id: "1", text: "" }, "bad_request"],
		["a text object", { type: "send", id: "1", text: { toString: "x" } }, "bad_request"],
		["an over-long text", { type: "send", id: "1", text: "x".repeat(11) }, "too_large"],
		["crossPost not an array", { type: "send", id: "1", text: "x", crossPost: "b" }, "bad_request"],
		["an empty crossPost", { type: "send", id: "1", text: "x", crossPost: [] }, "bad_request"],
		["11 crossPost rooms", { type: "send", id: "1", text: "x", crossPost: [..."abcdefghijk"] }, "bad_request"],
		["a bad crossPost room", { type: "send", id: "1", text: "x", crossPost: ["B!"] }, "bad_request"],
		["a duplicate crossPost room", { type: "send", id: "1", text: "x", crossPost: ["b", "b"] }, "bad_request"],
		["crossPost to its own room", { type: "send", id: "1", text: "x", crossPost: ["lobby"] }, "bad_request"],
		["a delete without msgId", { type: "delete" }, "bad_request"],
		["a prototype-polluting frame", '{"type":"send","id":"1","text":"x","__proto__":{"admin":true}}', undefined],
	])("refuses %s", ([, frame, code], { expect }) => {
		const parsed = parse(frame);
		if (code === undefined) {
			// Parsed as a plain send; the polluting key changes nothing.
			expect(parsed).toEqual({ ok: true, value: { type: "send", id: "1", text: "x" } });
			expect(({} as Record<string, unknown>).admin).toBeUndefined();
			return;
		}
		expect(parsed.ok).toBe(false);
		if (!parsed.ok) expect(parsed.error.code).toBe(code);
	});

	it("echoes the client id on refusals it can attribute", ({ expect }) => {
		const parsed = parse({ type: "send", id: "abc", text: "" });
		expect(parsed).toMatchObject({ ok: false, error: { id: "abc" } });
	});

	it("counts the text limit in code points", ({ expect }) => {
		expect(parse({ type: "send", id: "1", text: "😀".repeat(10) }).ok).toBe(true);
		expect(parse({ type: "send", id: "1", text: "😀".repeat(11) }).ok).toBe(false);
	});
});

describe("history queries", () => {
	const query = (text: string) => parseEventsQuery(new URLSearchParams(text));

	it("defaults to the first 50 after seq 0", ({ expect }) => {
		expect(query("")).toEqual({ ok: true, value: { after: 0, limit: 50 } });
	});

	it("reads after, before and limit", ({ expect }) => {
		expect(query("after=10&limit=500")).toEqual({ ok: true, value: { after: 10, limit: 500 } });
		expect(query("before=10&limit=1")).toEqual({ ok: true, value: { before: 10, limit: 1 } });
	});

	it.for(["limit=0", "limit=501", "limit=1.5", "limit=abc", "after=-1", "after=1e3", "before=x", "after=1&before=2", "limit="])(
		"refuses %s",
		(text, { expect }) => {
			expect(query(text)).toMatchObject({ ok: false, error: { code: "bad_request" } });
		},
	);

	it("reads since for the socket", ({ expect }) => {
		expect(parseSince(null)).toEqual({ ok: true, value: undefined });
		expect(parseSince("12")).toEqual({ ok: true, value: 12 });
		expect(parseSince("-1").ok).toBe(false);
	});
});

describe("policy patches", () => {
	it("keeps only the given fields and dedups the ban list", ({ expect }) => {
		expect(parsePolicyPatch({ readOnly: true })).toEqual({ ok: true, value: { readOnly: true } });
		expect(parsePolicyPatch({ banned: ["a", "a", "b"] })).toEqual({ ok: true, value: { banned: ["a", "b"] } });
	});

	it.for([[null], [[]], [{ readOnly: "yes" }], [{ banned: "a" }], [{ banned: [1] }], [{ banned: [""] }]])(
		"refuses %j",
		(body, { expect }) => {
			expect(parsePolicyPatch(body).ok).toBe(false);
		},
	);
});

describe("send text", () => {
	it.for(["a\ud800b", "\udc00", "x\ud83d"])("refuses a lone surrogate in %j with bad_request and the id", (text, { expect }) => {
		expect(parse({ type: "send", id: "s1", text })).toMatchObject({ ok: false, error: { code: "bad_request", id: "s1" } });
	});

	it("takes whole surrogate pairs", ({ expect }) => {
		expect(parse({ type: "send", id: "s1", text: "😀" })).toMatchObject({ ok: true });
	});

	it("refuses white space only, and echoes an over-long id", ({ expect }) => {
		expect(parse({ type: "send", id: "s1", text: " \n " })).toMatchObject({ ok: false, error: { code: "bad_request", id: "s1" } });
		expect(parse({ type: "send", id: "i".repeat(65), text: "x" })).toMatchObject({
			ok: false,
			error: { code: "bad_request", id: "i".repeat(65) },
		});
	});
});

describe("room policy", () => {
	const open = { readOnly: false, banned: [] };
	it("refuses the banned, guests when the room bans them, and non-admins in a read-only room", ({ expect }) => {
		expect(policyRefusal(open, "guest:x", false)).toBeUndefined();
		expect(policyRefusal({ ...open, banned: ["u"] }, "u", true)?.code).toBe("banned");
		expect(policyRefusal({ ...open, banGuests: true }, "guest:x", false)?.code).toBe("banned");
		expect(policyRefusal({ ...open, banGuests: true }, "guestx", false)).toBeUndefined();
		expect(policyRefusal({ ...open, readOnly: true }, "u", false)?.code).toBe("read_only");
		expect(policyRefusal({ ...open, readOnly: true }, "u", true)).toBeUndefined();
	});

	it("parses banGuests as a boolean", ({ expect }) => {
		expect(parsePolicyPatch({ banGuests: true })).toEqual({ ok: true, value: { banGuests: true } });
		expect(parsePolicyPatch({ banGuests: "yes" })).toMatchObject({ ok: false, error: { code: "bad_request" } });
	});
});
