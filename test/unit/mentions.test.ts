import { describe, it } from "vitest";
import { MentionIndex, parseMentions } from "../../src/mentions.ts";
import { MAX_MENTIONS, type UserRef } from "../../src/protocol.ts";

const ann: UserRef = { id: "ann", name: "Ann" };
const annLee: UserRef = { id: "u-2", name: "Ann Lee" };
const bob: UserRef = { id: "bob-1", name: "Bob" };
const guest: UserRef = { id: "guest:zoe", name: "zoe" };
const users = [ann, annLee, bob, guest];

describe("mentions", () => {
	it("finds users by name or id, without case, in the order first mentioned", ({ expect }) => {
		expect(parseMentions("hi @bob and @ANN", users)).toEqual(["bob-1", "ann"]);
		expect(parseMentions("@bob-1 ping", users)).toEqual(["bob-1"]);
		expect(parseMentions("@guest:zoe @Zoe", users)).toEqual(["guest:zoe"]);
	});

	it("lets the longest name at one @ win", ({ expect }) => {
		expect(parseMentions("@Ann Lee, look", users)).toEqual(["u-2"]);
		expect(parseMentions("@Ann, look", users)).toEqual(["ann"]);
		expect(parseMentions("@ann leez", users)).toEqual(["ann"]);
	});

	it("needs a boundary on both sides", ({ expect }) => {
		expect(parseMentions("mail a@bob.com", users)).toEqual([]);
		expect(parseMentions("@bobby", users)).toEqual([]);
		expect(parseMentions("(@bob)", users)).toEqual(["bob-1"]);
		expect(parseMentions("@bob_x", users)).toEqual([]);
		expect(parseMentions("@bob.", users)).toEqual(["bob-1"]);
	});

	it("ignores unknown names, a bare @, and text without one", ({ expect }) => {
		expect(parseMentions("@nobody @ @", users)).toEqual([]);
		expect(parseMentions("no mentions here", users)).toEqual([]);
		expect(parseMentions("@@bob", users)).toEqual(["bob-1"]);
	});

	it("keeps each user once and at most MAX_MENTIONS users", ({ expect }) => {
		expect(parseMentions("@bob @Bob @bob-1", users)).toEqual(["bob-1"]);
		const many = Array.from({ length: MAX_MENTIONS + 5 }, (_, i) => ({ id: `u${i}`, name: `user${i}` }));
		const text = many.map((u) => `@${u.name}`).join(" ");
		const found = new MentionIndex(many).match(text);
		expect(found).toHaveLength(MAX_MENTIONS);
		expect(found).toEqual(many.slice(0, MAX_MENTIONS).map((u) => u.id));
	});

	it("matches names outside ASCII", ({ expect }) => {
		const zoe: UserRef = { id: "z", name: "Zoë Ångström" };
		expect(parseMentions("hej @zoë ångström!", [zoe])).toEqual(["z"]);
		expect(parseMentions("😀@Zoë Ångström", [zoe])).toEqual(["z"]);
	});
});
