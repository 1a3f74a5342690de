/**
 * `@` autocomplete in the chat page's composer (client/mention-complete.ts): what is being
 * typed after an `@`, who the room has seen that matches, and the text once one is picked.
 */
import { describe, expect, it } from "vitest";
import { completeMention, matchMentions, mentionQuery, type SeenUser } from "../../client/mention-complete.ts";

describe("@ autocomplete", () => {
	it("finds the @partial just before the caret, only at the start of a word", () => {
		expect(mentionQuery("hi @bo", 6)).toEqual({ start: 3, query: "bo" });
		expect(mentionQuery("@", 1)).toEqual({ start: 0, query: "" });
		expect(mentionQuery("(@al", 4)).toEqual({ start: 1, query: "al" });
		expect(mentionQuery("mail bob@ex", 11)).toBeUndefined();
		expect(mentionQuery("hi @bob there", 13)).toBeUndefined();
		expect(mentionQuery("hi bob", 6)).toBeUndefined();
	});

	it("offers prefix matches first, then substring matches, most recently seen first, never the reader", () => {
		// Equal ranks and times fall back to the name.
		const users: SeenUser[] = [
			{ id: "1", name: "bob", lastSeen: 1 },
			{ id: "2", name: "bobby", lastSeen: 5 },
			{ id: "3", name: "rob", lastSeen: 9 },
			{ id: "4", name: "Bo Jackson", lastSeen: 9 },
			{ id: "me", name: "boss", lastSeen: 10 },
		];
		expect(matchMentions(users, "ob", "me").map((u) => u.name)).toEqual(["rob", "bobby", "bob"]);
		expect(matchMentions(users, "BO", "me").map((u) => u.name)).toEqual(["Bo Jackson", "bobby", "bob"]);
		expect(matchMentions(users, "", "me", 2).map((u) => u.name)).toEqual(["Bo Jackson", "rob"]);
	});

	it("replaces the partial with the name and a space, and puts the caret after it", () => {
		expect(completeMention("hi @bo", 3, 6, "bobby")).toEqual({ text: "hi @bobby ", caret: 10 });
		expect(completeMention("hi @bo there", 3, 6, "bob")).toEqual({ text: "hi @bob there", caret: 8 });
	});
});
