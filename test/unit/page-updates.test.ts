/**
 * What the chat page folds into a message it shows (client/message-updates.ts), who it shows
 * typing (client/typing.ts) and what `@` autocomplete offers (client/mention-complete.ts).
 */
import { describe, expect, it } from "vitest";
import { completeMention, matchMentions, mentionQuery, type SeenUser } from "../../client/mention-complete.ts";
import { applyReaction, initialReactions, isNewerEdit, reactedWith } from "../../client/message-updates.ts";
import { activeTypists, nextExpiry, noteTyping, stopTyping, type Typists } from "../../client/typing.ts";
import { type ReactionEvent, TYPING_EXPIRY_MS } from "../../src/protocol.ts";

const reaction = (seq: number, emoji: string, userId: string, added = true): ReactionEvent => ({
	type: added ? "reaction.added" : "reaction.removed",
	seq,
	msgId: "m1",
	emoji,
	user: { id: userId, name: userId },
	ts: seq,
	traceId: "t",
});

describe("edits", () => {
	it("apply only when later than what the text already reflects", () => {
		expect(isNewerEdit({}, { seq: 5 })).toBe(true);
		expect(isNewerEdit({ editSeq: 5 }, { seq: 5 })).toBe(false);
		expect(isNewerEdit({ editSeq: 5 }, { seq: 4 })).toBe(false);
		expect(isNewerEdit({ editSeq: 5 }, { seq: 8 })).toBe(true);
	});
});

describe("reactions", () => {
	it("count per emoji in first-reacted order, with the reader's own marked", () => {
		let state = initialReactions(undefined, 0);
		state = applyReaction(state, reaction(2, "👍", "bob"), "me");
		state = applyReaction(state, reaction(3, "🎉", "me"), "me");
		state = applyReaction(state, reaction(4, "👍", "me"), "me");
		expect(state.counts).toEqual([
			{ emoji: "👍", count: 2, mine: true },
			{ emoji: "🎉", count: 1, mine: true },
		]);
		expect(reactedWith(state, "👍")).toBe(true);
		state = applyReaction(state, reaction(5, "👍", "me", false), "me");
		expect(state.counts[0]).toEqual({ emoji: "👍", count: 1, mine: false });
		expect(reactedWith(state, "👍")).toBe(false);
	});

	it("drop an emoji whose last reaction is removed, and keep another user's removal from touching mine", () => {
		let state = initialReactions([{ emoji: "👀", count: 2, mine: true }], 10);
		state = applyReaction(state, reaction(11, "👀", "bob", false), "me");
		expect(state.counts).toEqual([{ emoji: "👀", count: 1, mine: true }]);
		state = applyReaction(state, reaction(12, "👀", "me", false), "me");
		expect(state.counts).toEqual([]);
	});

	it("never count twice an event that a replayed message's counts already hold", () => {
		const state = initialReactions([{ emoji: "👍", count: 1, mine: false }], 20);
		expect(applyReaction(state, reaction(20, "👍", "bob"), "me")).toBe(state);
		expect(applyReaction(state, reaction(21, "👍", "cy"), "me").counts).toEqual([{ emoji: "👍", count: 2, mine: false }]);
	});
});

describe("typing", () => {
	const alice = { id: "a", name: "alice" };
	const bob = { id: "b", name: "bob" };

	it("shows others for TYPING_EXPIRY_MS after their last typing frame, repeats extending it", () => {
		let typists: Typists = new Map();
		typists = noteTyping(typists, bob, 1000);
		typists = noteTyping(typists, alice, 2000);
		typists = noteTyping(typists, { id: "me", name: "me" }, 2000);
		expect(activeTypists(typists, 2000, "me").map((u) => u.name)).toEqual(["alice", "bob"]);
		expect(nextExpiry(typists, 2000)).toBe(1000 + TYPING_EXPIRY_MS);
		expect(activeTypists(typists, 1000 + TYPING_EXPIRY_MS, "me").map((u) => u.name)).toEqual(["alice"]);
		typists = noteTyping(typists, alice, 5000);
		expect(activeTypists(typists, 2000 + TYPING_EXPIRY_MS, "me").map((u) => u.name)).toEqual(["alice"]);
		expect(activeTypists(typists, 5000 + TYPING_EXPIRY_MS, "me")).toEqual([]);
		expect(nextExpiry(typists, 5000 + TYPING_EXPIRY_MS)).toBeUndefined();
	});

	it("ends at once when the typist's message arrives", () => {
		const typists = noteTyping(new Map(), bob, 0);
		expect(activeTypists(stopTyping(typists, "b"), 1, undefined)).toEqual([]);
		const none: Typists = new Map();
		expect(stopTyping(none, "b")).toBe(none);
	});
});

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
		const users: SeenUser[] = [
			{ id: "1", name: "bob", lastSeen: 1 },
			{ id: "2", name: "bobby", lastSeen: 5 },
			{ id: "3", name: "rob", lastSeen: 9 },
			{ id: "4", name: "Bo Jackson", lastSeen: 9 },
			{ id: "me", name: "boss", lastSeen: 10 },
		];
		expect(matchMentions(users, "ob", "me").map((u) => u.name)).toEqual(["rob", "bobby", "bob"]);
		expect(matchMentions(users, "BO", "me").map((u) => u.name)).toEqual(["bobby", "bob"]);
		expect(matchMentions(users, "", "me", 2).map((u) => u.name)).toEqual(["rob", "bobby"]);
	});

	it("replaces the partial with the name and a space, and puts the caret after it", () => {
		expect(completeMention("hi @bo", 3, 6, "bobby")).toEqual({ text: "hi @bobby ", caret: 10 });
		expect(completeMention("hi @bo there", 3, 6, "bob")).toEqual({ text: "hi @bob there", caret: 8 });
	});
});
