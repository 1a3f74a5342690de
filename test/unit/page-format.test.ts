/**
 * The chat page's layout rules (client/page-format.ts): grouping, date separators, the unread
 * divider, the "seen by" line and the message up-arrow edits. The workers runtime runs in UTC.
 */
import { describe, expect, it } from "vitest";
import {
	GROUP_WINDOW_MS,
	type MessageSummary,
	dayKey,
	dayLabel,
	firstUnreadSeq,
	lastEditable,
	layout,
	listNames,
	seenBy,
	seenByText,
	typingText,
	unreadLabel,
} from "../../client/page-format.ts";

const NOW = Date.UTC(2026, 11, 2, 15, 0);
const at = (hours: number, minutes = 0, day = 2): number => Date.UTC(2026, 11, day, hours, minutes);
const m = (seq: number, authorId: string, ts: number, extra: Partial<MessageSummary> = {}): MessageSummary => ({
	seq,
	authorId,
	ts,
	...extra,
});

describe("grouping and date separators", () => {
	it("groups consecutive messages of one author within the window, and starts a new group otherwise", () => {
		const messages = [
			m(1, "a", at(10, 0)),
			m(2, "a", at(10, 4)),
			m(3, "b", at(10, 5)),
			m(4, "a", at(10, 6)),
			m(5, "a", at(10, 6) + GROUP_WINDOW_MS + 1),
		];
		expect(layout(messages, { now: NOW }).map((p) => p.grouped)).toEqual([false, true, false, false, false]);
	});

	it("never groups across a day, into or out of a removed message, or a reply", () => {
		const messages = [
			m(1, "a", at(23, 58, 1)),
			m(2, "a", at(0, 1)),
			m(3, "a", at(0, 2), { removed: true }),
			m(4, "a", at(0, 3)),
			m(5, "a", at(0, 4), { reply: true }),
			m(6, "a", at(0, 5)),
		];
		const placements = layout(messages, { now: NOW });
		expect(placements.map((p) => p.grouped)).toEqual([false, false, false, false, false, true]);
		expect(placements.map((p) => p.day)).toEqual(["Yesterday", "Today", undefined, undefined, undefined, undefined]);
	});

	it("labels days as Today, Yesterday, a weekday and date, and adds the year only for other years", () => {
		expect(dayLabel(at(1), NOW, "en-US")).toBe("Today");
		expect(dayLabel(at(22, 0, 1), NOW, "en-US")).toBe("Yesterday");
		expect(dayLabel(Date.UTC(2026, 10, 20, 12), NOW, "en-US")).toBe("Friday, November 20");
		expect(dayLabel(Date.UTC(2025, 10, 20, 12), NOW, "en-US")).toBe("Thursday, November 20, 2025");
		expect(dayKey(at(23, 59, 1))).toBe("2026-12-01");
	});
});

describe("the unread divider", () => {
	const messages = [m(3, "me", at(9)), m(5, "me", at(9, 1)), m(7, "b", at(9, 2)), m(9, "b", at(9, 3))];

	it("goes before the first message by someone else after the marker, not before your own", () => {
		expect(firstUnreadSeq(messages, 3, "me")).toBe(7);
		expect(layout(messages, { now: NOW, me: "me", readSeq: 3 }).map((p) => p.firstUnread)).toEqual([false, false, true, false]);
	});

	it("says how many are new, with the server's cap shown as a floor", () => {
		expect(unreadLabel(1, 1000)).toBe("1 new message");
		expect(unreadLabel(3, 1000)).toBe("3 new messages");
		expect(unreadLabel(1000, 1000)).toBe("1,000+ new messages");
		expect(unreadLabel(0, 1000)).toBe("New messages");
		expect(unreadLabel(undefined, 1000)).toBe("New messages");
	});

	it("is absent when all is read or no marker is known, and breaks a group", () => {
		expect(firstUnreadSeq(messages, 9, "me")).toBeUndefined();
		expect(firstUnreadSeq(messages, undefined, "me")).toBeUndefined();
		// Never read (marker 0): a newcomer, to whom everything is new.
		expect(firstUnreadSeq(messages, 0, "me")).toBeUndefined();
		const placements = layout([m(1, "b", at(9)), m(2, "b", at(9, 1))], { now: NOW, me: "me", readSeq: 1 });
		expect(placements[1]).toEqual({ grouped: false, firstUnread: true });
	});
});

describe("seen by", () => {
	const messages = [m(1, "me", at(9)), m(2, "bob", at(9, 1)), m(3, "me", at(9, 2)), m(4, "me", at(9, 3), { removed: true })];

	it("sits under the latest message another reader's marker covers, naming each such reader", () => {
		const readers = [
			{ userId: "bob", name: "bob", seq: 3 },
			{ userId: "cy", name: "cy", seq: 9 },
			{ userId: "di", name: "di", seq: 1 },
		];
		expect(seenBy(messages, readers, "me")).toEqual({ seq: 3, names: ["bob", "cy"] });
	});

	it("does not count the reader, nor the author reading their own message", () => {
		expect(seenBy(messages, [{ userId: "me", name: "me", seq: 9 }], "me")).toBeUndefined();
		expect(seenBy(messages, [{ userId: "bob", name: "bob", seq: 2 }], "me")).toEqual({ seq: 1, names: ["bob"] });
	});

	it("says names as prose and counts the rest", () => {
		expect(seenByText(["a"])).toBe("Seen by a");
		expect(seenByText(["a", "b"])).toBe("Seen by a and b");
		expect(seenByText(["a", "b", "c", "d", "e"])).toBe("Seen by a, b, c and 2 others");
		expect(typingText([])).toBe("");
		expect(typingText(["a"])).toBe("a is typing…");
		expect(typingText(["a", "b", "c"])).toBe("a, b and 1 other are typing…");
		expect(listNames(["a", "b", "c"], 3)).toBe("a, b and c");
	});
});

describe("up-arrow", () => {
	it("edits the reader's latest message that is not removed", () => {
		const messages = [m(1, "me", at(9)), m(2, "me", at(9, 1)), m(3, "bob", at(9, 2)), m(4, "me", at(9, 3), { removed: true })];
		expect(lastEditable(messages, "me")).toBe(2);
		expect(lastEditable(messages, "nobody")).toBeUndefined();
		expect(lastEditable(messages, undefined)).toBeUndefined();
	});
});
