/**
 * The pure rules behind the v1.3 client features: what a queued edit or reaction looks like in
 * storage (and that old saved queues still load), which reactions and edits are refused before
 * they are written, how unread messages are counted, when read markers are written, and how
 * long someone shows as typing.
 */
import { describe, expect, it } from "vitest";
import { editFrame, fromStored, parseStored, reactFrame, sendFrame, toStored } from "../../client/pending.ts";
import { ReadCoalescer, ReadTracker } from "../../client/read-state.ts";
import { checkOutgoing, isReaction } from "../../client/send-rules.ts";
import { TypingUsers } from "../../client/typing.ts";
import { DEFAULT_LIMITS, type MessageEvent, type RoomEvent } from "../../src/protocol.ts";

describe("the persisted outbox", () => {
	it("still loads a v1.1 queue of plain sends, with and without cross-posts", () => {
		const saved = JSON.stringify([
			{ id: "a", text: "one" },
			{ id: "b", text: "two", crossPost: ["news"] },
		]);
		expect(parseStored(saved).map((entry) => entry.frame)).toEqual([
			{ type: "send", id: "a", text: "one" },
			{ type: "send", id: "b", text: "two", crossPost: ["news"] },
		]);
	});

	it("round-trips sends with replies, edits, reactions and removals, without `after`", () => {
		const frames = [
			sendFrame("hi", "s1", undefined, "msg-1"),
			{ ...editFrame("msg-1", "fixed", "e1"), after: "s1" },
			reactFrame("msg-1", "👍", "r1", false),
			reactFrame("msg-1", ":tada:", "r2", true),
		];
		const stored = JSON.stringify(frames.map(toStored));
		expect(parseStored(stored).map((entry) => entry.frame)).toEqual([
			{ type: "send", id: "s1", text: "hi", replyTo: "msg-1" },
			{ type: "edit", id: "e1", msgId: "msg-1", text: "fixed" },
			{ type: "react", id: "r1", msgId: "msg-1", emoji: "👍" },
			{ type: "react", id: "r2", msgId: "msg-1", emoji: ":tada:", remove: true },
		]);
	});

	it("keeps edits and reactions out of reach of an older reader: no top-level text", () => {
		// A v1.1 client reads every entry with a string `id` and `text` as a send.
		for (const frame of [editFrame("m", "new text", "e"), reactFrame("m", "👍", "r", false)]) {
			expect("text" in toStored(frame)).toBe(false);
		}
	});

	it("skips what it does not understand but reports its id, so a writer can keep it", () => {
		const saved = JSON.stringify([{ id: "x", poll: { question: "?" } }, { id: "y", text: 5 }, "junk", { id: "z", text: "ok" }]);
		const parsed = parseStored(saved);
		expect(parsed.map((entry) => entry.id)).toEqual(["x", "y", undefined, "z"]);
		expect(parsed.map((entry) => entry.frame?.id)).toEqual([undefined, undefined, undefined, "z"]);
		expect(parseStored("not json")).toEqual([]);
		expect(parseStored('{"id":"a"}')).toEqual([]);
		expect(fromStored({ id: "e", edit: { msgId: 1, text: "t" } })).toBeUndefined();
	});
});

describe("edits and reactions before they are written", () => {
	it("accepts one emoji grapheme (with skin tone, joiners, keycaps, flags) or a :name:", () => {
		for (const emoji of ["👍", "👍🏽", "👨‍👩‍👧", "1️⃣", "🇫🇷", "❤️", ":tada:", ":+1:", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"]) expect(isReaction(emoji), emoji).toBe(true);
	});

	it("refuses text, two emoji, white space, controls and malformed names", () => {
		for (const emoji of ["", "a", "1", "ok", "👍👍", " 👍", "👍\n", ":Tada:", ":a b:", `:${"x".repeat(33)}:`, "\ud83d"]) {
			expect(isReaction(emoji), JSON.stringify(emoji)).toBe(false);
		}
	});

	it("holds an edit's text to the send rules and names the frame's id", () => {
		expect(checkOutgoing(editFrame("m", "fine", "e"), DEFAULT_LIMITS)).toBeUndefined();
		expect(checkOutgoing(editFrame("m", "x".repeat(4001), "e"), DEFAULT_LIMITS)).toMatchObject({ code: "too_large", id: "e" });
		expect(checkOutgoing(editFrame("m", "  ", "e"), DEFAULT_LIMITS)).toMatchObject({ code: "bad_request", id: "e" });
		expect(checkOutgoing(editFrame("", "fine", "e"), DEFAULT_LIMITS)).toMatchObject({ code: "bad_request" });
	});

	it("refuses a reaction that is not one, a reply to an empty id, and an oversized frame", () => {
		expect(checkOutgoing(reactFrame("m", "👍", "r", false), DEFAULT_LIMITS)).toBeUndefined();
		expect(checkOutgoing(reactFrame("m", "lol", "r", false), DEFAULT_LIMITS)).toMatchObject({ code: "bad_request", id: "r" });
		expect(checkOutgoing(sendFrame("hi", "s", undefined, ""), DEFAULT_LIMITS)).toMatchObject({ code: "bad_request", id: "s" });
		const tight = { ...DEFAULT_LIMITS, maxFrameBytes: 200 };
		expect(checkOutgoing(editFrame("m", "y".repeat(300), "e"), tight)).toMatchObject({ code: "too_large" });
	});
});

const msg = (seq: number, author: string, extra: Partial<MessageEvent> = {}): RoomEvent => ({
	type: "message",
	seq,
	msgId: `msg-${seq}`,
	author: { id: author, name: author },
	text: `m${seq}`,
	ts: seq,
	traceId: "t",
	...extra,
});

describe("ReadTracker", () => {
	it("counts messages by others after the marker, not your own and not removed ones", () => {
		const read = new ReadTracker();
		read.welcome({ seq: 0, unread: 0 }, 0);
		for (const event of [msg(1, "bob"), msg(2, "me"), msg(3, "bob", { retractedBy: 9 }), msg(4, "carol")]) read.delivered(event, "me");
		expect(read.state).toEqual({ seq: 0, unread: 2 });
		expect(read.delivered({ type: "retract", seq: 5, msgId: "msg-4", reason: "deleted", ts: 5, traceId: "t" }, "me")).toBe(true);
		expect(read.state).toEqual({ seq: 0, unread: 1 });
		expect(read.advance(1)).toBe(true);
		expect(read.state).toEqual({ seq: 1, unread: 0 });
		expect(read.advance(1)).toBe(false);
	});

	it("takes the welcome's count for what it has not seen, and moves replayed ones from hidden to known", () => {
		const read = new ReadTracker();
		// 120 unread, of which the latest 50 events are replayed after the welcome.
		read.welcome({ seq: 100, unread: 120 }, 220);
		expect(read.state).toEqual({ seq: 100, unread: 120 });
		for (let seq = 171; seq <= 220; seq++) read.delivered(msg(seq, "bob"), "me");
		expect(read.state).toEqual({ seq: 100, unread: 120 });
		read.delivered(msg(221, "bob"), "me");
		expect(read.state).toEqual({ seq: 100, unread: 121 });
		// Reading from inside the replayed window reads every older (hidden) one too.
		read.advance(200);
		expect(read.state).toEqual({ seq: 200, unread: 21 });
	});

	it("keeps its own marker when a welcome shows the server behind it (the read frame was lost)", () => {
		const read = new ReadTracker();
		read.welcome({ seq: 0, unread: 0 }, 0);
		read.delivered(msg(1, "bob"), "me");
		read.delivered(msg(2, "bob"), "me");
		read.advance(2);
		expect(read.welcome({ seq: 1, unread: 1 }, 2)).toBe(false);
		expect(read.state).toEqual({ seq: 2, unread: 0 });
		// Another tab read further: the welcome wins.
		read.delivered(msg(3, "bob"), "me");
		read.welcome({ seq: 3, unread: 0 }, 3);
		expect(read.state).toEqual({ seq: 3, unread: 0 });
	});
});

describe("ReadCoalescer", () => {
	it("writes at once, then at most once per interval, always the latest seq", () => {
		const out = new ReadCoalescer(3000);
		out.want(5);
		expect(out.due(1000)).toEqual({ write: 5 });
		out.wrote(5, 1000);
		expect(out.due(1000)).toBeUndefined();
		out.want(6);
		out.want(9);
		expect(out.due(2000)).toEqual({ at: 4000 });
		expect(out.due(4000)).toEqual({ write: 9 });
		expect(out.want(7)).toBe(false);
	});

	it("writes again on a new socket unless the server's marker shows it arrived", () => {
		const out = new ReadCoalescer(3000);
		out.want(5);
		out.wrote(5, 0);
		out.newSocket();
		out.confirm(3);
		expect(out.due(10_000)).toEqual({ write: 5 });
		out.wrote(5, 10_000);
		out.newSocket();
		out.confirm(5);
		expect(out.due(20_000)).toBeUndefined();
	});
});

describe("TypingUsers", () => {
	const bob = { id: "bob", name: "Bob" };
	const ann = { id: "ann", name: "Ann" };

	it("shows each typer until the expiry after their last frame, in the order they started", () => {
		const typing = new TypingUsers(6000);
		expect(typing.heard(bob, 0)).toBe(true);
		expect(typing.heard(ann, 1000)).toBe(true);
		expect(typing.heard(bob, 4000)).toBe(false);
		expect(typing.list()).toEqual([bob, ann]);
		expect(typing.nextExpiry()).toBe(7000);
		expect(typing.expire(6999)).toBe(false);
		expect(typing.expire(7000)).toBe(true);
		expect(typing.list()).toEqual([bob]);
		expect(typing.stopped("bob")).toBe(true);
		expect(typing.nextExpiry()).toBeUndefined();
	});
});
