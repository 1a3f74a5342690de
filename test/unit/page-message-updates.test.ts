/**
 * How the chat page folds edits and reactions into one message it shows: through the client
 * library's `applyEvent`, one message at a time (the page keeps a view per message). These pin
 * that use: replayed counts are never counted twice, and older edits never put old text back.
 */
import { describe, expect, it } from "vitest";
import { applyEvent, type ChatMessage } from "../../client/index.ts";
import type { MessageEditedEvent, ReactionEvent } from "../../src/protocol.ts";

const message = (extra: Partial<ChatMessage> = {}): ChatMessage => ({
	type: "message",
	seq: 10,
	msgId: "m10",
	author: { id: "guest:bob", name: "bob" },
	text: "first",
	ts: 1,
	traceId: "t",
	...extra,
});
const reaction = (seq: number, emoji: string, userId: string, added = true): ReactionEvent => ({
	type: added ? "reaction.added" : "reaction.removed",
	seq,
	msgId: "m10",
	emoji,
	user: { id: userId, name: userId },
	ts: seq,
	traceId: "t",
});
const edit = (seq: number, text: string): MessageEditedEvent => ({
	type: "message.edited",
	seq,
	msgId: "m10",
	text,
	editedAt: seq * 1000,
	ts: seq * 1000,
	traceId: "t",
});
/** What the page does with one event for one message on screen. */
const fold = (shown: ChatMessage, event: ReactionEvent | MessageEditedEvent, me = "me"): ChatMessage =>
	applyEvent([shown], event, 1, me)[0] ?? shown;

describe("a message on screen", () => {
	it("takes a newer edit and ignores one its text already reflects", () => {
		const edited = fold(message(), edit(12, "second"));
		expect(edited).toMatchObject({ text: "second", editSeq: 12, editedAt: 12_000 });
		expect(fold(edited, edit(11, "stale"))).toBe(edited);
		expect(fold(edited, edit(12, "second"))).toBe(edited);
	});

	it("counts reactions per emoji, marks the reader's own, and drops an emoji at zero", () => {
		let shown = fold(message(), reaction(11, "👍", "bob"));
		shown = fold(shown, reaction(12, "👍", "me"));
		expect(shown.reactions).toEqual([{ emoji: "👍", count: 2, mine: true }]);
		shown = fold(shown, reaction(13, "👍", "me", false));
		expect(shown.reactions).toEqual([{ emoji: "👍", count: 1, mine: false }]);
		shown = fold(shown, reaction(14, "👍", "bob", false));
		expect(shown.reactions ?? []).toEqual([]);
	});

	it("never counts twice a reaction that a replayed or paged message's counts already hold", () => {
		const replayed = message({ reactions: [{ emoji: "🎉", count: 1, mine: false }], reactionsAt: 20 });
		expect(fold(replayed, reaction(15, "🎉", "cy"))).toBe(replayed);
		expect(fold(replayed, reaction(20, "🎉", "cy")).reactions).toEqual([{ emoji: "🎉", count: 1, mine: false }]);
		expect(fold(replayed, reaction(21, "🎉", "di")).reactions).toEqual([{ emoji: "🎉", count: 2, mine: false }]);
	});
});
