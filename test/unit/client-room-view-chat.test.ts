/**
 * The room as a UI sees it, with the v1.3 features: edits applied once and only when newer,
 * reactions as counts with `mine`, reply quotes that follow a retract, who is typing (expiring
 * without a timer left running), receipts and the read marker. And the promise behind all of
 * it: a client that drops and resumes ends with exactly the snapshot of one that never dropped,
 * and of one that joins afterwards and gets it all replayed.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { applyEvent, type ChatMessage, RoomView } from "../../client/index.ts";
import type { Harness } from "../support/fake-room.ts";
import type { MessageEvent, ReadState, Receipt, RoomEvent, ServerFrame, UserRef, WelcomeFrame } from "../../src/protocol.ts";
import { TYPING_EXPIRY_MS } from "../../src/protocol.ts";
import { type FakeSocket, goLive, harness, message } from "../support/fake-room.ts";

const alice: UserRef = { id: "guest:alice", name: "alice" };
const bob: UserRef = { id: "guest:bob", name: "bob" };
const carol: UserRef = { id: "guest:carol", name: "carol" };

const msg = (seq: number, extra: Partial<ChatMessage> = {}): ChatMessage => ({ ...(message(seq) as MessageEvent), ...extra });
const edit = (seq: number, of: number, text: string, mentions?: string[]): RoomEvent => ({
	type: "message.edited",
	seq,
	msgId: `msg-${of}`,
	text,
	editedAt: 1000 + seq,
	ts: 1000 + seq,
	traceId: "t",
	...(mentions === undefined ? {} : { mentions }),
});
const reaction = (seq: number, of: number, user: UserRef, emoji: string, added = true): RoomEvent => ({
	type: added ? "reaction.added" : "reaction.removed",
	seq,
	msgId: `msg-${of}`,
	emoji,
	user,
	ts: seq,
	traceId: "t",
});
const retract = (seq: number, of: number): RoomEvent => ({
	type: "retract",
	seq,
	msgId: `msg-${of}`,
	reason: "deleted",
	ts: seq,
	traceId: "t",
});

function fold(events: RoomEvent[], start: readonly ChatMessage[] = []): readonly ChatMessage[] {
	return events.reduce((list, event) => applyEvent(list, event, 100, alice.id), start);
}

describe("applyEvent, v1.3", () => {
	it("applies an edit only when it is newer than the text the message has", () => {
		const list = fold([msg(1, { mentions: ["guest:bob"] }), edit(2, 1, "fixed", ["guest:carol"])]);
		expect(list[0]).toMatchObject({ text: "fixed", editSeq: 2, editedAt: 1002, mentions: ["guest:carol"] });
		// A replayed message already at edit 5, then the replayed edit 3: nothing changes.
		const replayed = fold([msg(1, { text: "latest", editSeq: 5, editedAt: 9 })]);
		expect(fold([edit(3, 1, "older")], replayed)).toBe(replayed);
		expect(fold([edit(6, 1, "newer")], replayed)[0]).toMatchObject({ text: "newer", editSeq: 6 });
		// An edit without mentions clears them; a removed message takes no edit.
		expect(fold([edit(2, 1, "plain")], [msg(1, { mentions: ["x"] })])[0]?.mentions).toBeUndefined();
		const removed = fold([msg(1), retract(2, 1)]);
		expect(fold([edit(3, 1, "ghost")], removed)).toBe(removed);
	});

	it("keeps reactions as counts in code point order (the server's), `mine` for the local user's, and drops an emoji at zero", () => {
		const list = fold([
			msg(1),
			reaction(2, 1, bob, "👍"),
			reaction(3, 1, alice, "🎉"),
			reaction(4, 1, alice, "👍"),
			reaction(5, 1, carol, "👍"),
		]);
		// 🎉 (U+1F389) before 👍 (U+1F44D), though 👍 came first.
		expect(list[0]?.reactions).toEqual([
			{ emoji: "🎉", count: 1, mine: true },
			{ emoji: "👍", count: 3, mine: true },
		]);
		const after = fold([reaction(6, 1, alice, "👍", false), reaction(7, 1, alice, "🎉", false)], list);
		expect(after[0]?.reactions).toEqual([{ emoji: "👍", count: 2, mine: false }]);
		expect(fold([reaction(8, 1, bob, "👍", false), reaction(9, 1, carol, "👍", false)], after)[0]).not.toHaveProperty("reactions");
		expect(fold([reaction(8, 1, bob, "🦄", false)], after)).toBe(after);
	});

	it("does not count again a reaction a replayed message's counts already include", () => {
		const replayed = fold([msg(1, { reactions: [{ emoji: "👍", count: 2, mine: true }], reactionsAt: 7 })]);
		const list = fold([reaction(5, 1, alice, "👍"), reaction(7, 1, bob, "👍"), reaction(8, 1, carol, "👍")], replayed);
		expect(list[0]?.reactions).toEqual([{ emoji: "👍", count: 3, mine: true }]);
		// Past the head it was counted at, the mark has done its job and goes.
		expect(list[0]).not.toHaveProperty("reactionsAt");
	});

	it("marks a reply's quote removed when the quoted message is retracted, as a replay shows it", () => {
		const quote = { msgId: "msg-1", author: bob, excerpt: "original" };
		const list = fold([msg(1), msg(2, { replyTo: quote }), retract(3, 1)]);
		expect(list[1]?.replyTo).toEqual({ msgId: "msg-1", author: bob, excerpt: "", removed: true });
		expect(list[0]).toMatchObject({ text: "", retractedBy: 3 });
		expect(fold([msg(2, { replyTo: { ...quote, removed: true } })])[0]?.replyTo).toEqual(list[1]?.replyTo);
	});
});

describe("RoomView, v1.3", () => {
	afterEach(() => vi.useRealTimers());

	it("shows who else is typing until they stop or their time is up, with no timer left once nobody types", async () => {
		vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
		const h = harness();
		const view = new RoomView(h.client);
		const connected = h.client.connect();
		await vi.advanceTimersByTimeAsync(0);
		const socket = h.sockets[0] as FakeSocket;
		socket.open();
		socket.push(welcomeAt(0));
		socket.push({ type: "synced", through: 0 });
		await connected;
		socket.push({ type: "typing", user: bob });
		socket.push({ type: "typing", user: alice });
		await vi.advanceTimersByTimeAsync(1000);
		socket.push({ type: "typing", user: carol });
		expect(view.snapshot.typing).toEqual([bob, carol]);
		// Bob's message is what he was typing.
		socket.push(message(1) as ServerFrame);
		expect(view.snapshot.typing).toEqual([carol]);
		await vi.advanceTimersByTimeAsync(TYPING_EXPIRY_MS);
		expect(view.snapshot.typing).toEqual([]);
		const timers = vi.getTimerCount();
		h.client.close();
		view.stop();
		expect(vi.getTimerCount()).toBeLessThanOrEqual(timers);
		expect(timers).toBe(0);
	});

	it("carries receipts, the read marker and queued changes in the snapshot", async () => {
		const h = harness();
		const view = new RoomView(h.client);
		const socket = await goLive(h);
		socket.push({ type: "receipt", user: bob, seq: 0 });
		void h.client.edit("msg-1", "x", { id: "e1" }).catch(() => undefined);
		expect(view.snapshot.receipts).toEqual([{ user: bob, seq: 0 }]);
		expect(view.snapshot.pendingChanges).toEqual([{ kind: "edit", id: "e1", msgId: "msg-1", text: "x" }]);
		expect(view.snapshot.read).toEqual({ seq: 0, unread: 0 });
		socket.push(message(1) as ServerFrame);
		expect(view.snapshot.read).toEqual({ seq: 0, unread: 1 });
		h.client.markRead(1);
		expect(view.snapshot.read).toEqual({ seq: 1, unread: 0 });
		view.stop();
	});
});

// ---------------------------------------------------------------------------------------
// A fake room with a log, replaying as the server does: messages with their current state.
// ---------------------------------------------------------------------------------------

const welcomeAt = (lastSeq: number, extra: Partial<WelcomeFrame> = {}): WelcomeFrame => ({
	type: "welcome",
	room: "lobby",
	user: alice,
	lastSeq,
	online: [alice],
	limits: { maxFrameBytes: 32_768, maxMessageChars: 4000, ratePerSec: 0, burst: 0 },
	...extra,
});

class FakeLog {
	readonly events: RoomEvent[] = [];
	/** Each user's read marker. */
	readonly marks = new Map<string, { user: UserRef; seq: number }>();
	readonly sockets = new Set<FakeSocket>();

	get head(): number {
		return this.events.length;
	}

	#append(event: RoomEvent): void {
		this.events.push(event);
		for (const socket of this.sockets) socket.push(event as ServerFrame);
	}

	#seq(): number {
		return this.head + 1;
	}

	say(author: UserRef, text: string, replyTo?: number): void {
		const seq = this.#seq();
		const quoted = replyTo === undefined ? undefined : (this.events[replyTo - 1] as MessageEvent);
		const event: MessageEvent = { type: "message", seq, msgId: `msg-${seq}`, author, text, ts: seq, traceId: "t" };
		if (quoted !== undefined) event.replyTo = { msgId: quoted.msgId, author: quoted.author, excerpt: quoted.text.slice(0, 100) };
		this.#append(event);
	}
	edit(of: number, text: string): void {
		this.#append(edit(this.#seq(), of, text));
	}
	react(of: number, user: UserRef, emoji: string, added = true): void {
		this.#append(reaction(this.#seq(), of, user, emoji, added));
	}
	retract(of: number): void {
		this.#append(retract(this.#seq(), of));
	}
	/** Ephemeral: to the sockets open now, never stored. */
	typing(user: UserRef): void {
		for (const socket of this.sockets) socket.push({ type: "typing", user });
	}
	read(user: UserRef, seq: number): void {
		this.marks.set(user.id, { user, seq });
		for (const socket of this.sockets) socket.push({ type: "receipt", user, seq });
	}

	/** A message as a replay serves it now, for `reader`: latest text, counts, removal marks. */
	current(message: MessageEvent, reader: string): MessageEvent {
		const out: MessageEvent = { ...message };
		const reactors = new Map<string, string[]>();
		for (const event of this.events) {
			if (event.seq <= message.seq || event.msgId !== message.msgId) continue;
			if (event.type === "message.edited") Object.assign(out, { text: event.text, editSeq: event.seq, editedAt: event.editedAt });
			if (event.type === "retract") Object.assign(out, { text: "", retractedBy: event.seq });
			if (event.type === "reaction.added") reactors.set(event.emoji, [...(reactors.get(event.emoji) ?? []), event.user.id]);
			if (event.type === "reaction.removed") {
				const left = (reactors.get(event.emoji) ?? []).filter((id) => id !== event.user.id);
				if (left.length === 0) reactors.delete(event.emoji);
				else reactors.set(event.emoji, left);
			}
		}
		out.reactions = [...reactors].map(([emoji, users]) => ({ emoji, count: users.length, mine: users.includes(reader) }));
		const quoted = message.replyTo;
		if (quoted !== undefined && this.events.some((e) => e.type === "retract" && e.msgId === quoted.msgId)) {
			out.replyTo = { ...quoted, excerpt: "", removed: true };
		}
		return out;
	}

	readState(reader: string): ReadState {
		const seq = this.marks.get(reader)?.seq ?? 0;
		const unread = this.events.filter(
			(e) => e.type === "message" && e.seq > seq && e.author.id !== reader && this.current(e, reader).retractedBy === undefined,
		).length;
		return { seq, unread };
	}

	/** Opens a socket as the room does: welcome, the replay after the socket's `since`, synced; then live. */
	accept(socket: FakeSocket, reader: UserRef): void {
		const sinceParam = socket.url.searchParams.get("since");
		const since = sinceParam === null ? Math.max(0, this.head - 50) : Number(sinceParam);
		const receipts: Receipt[] = [...this.marks.values()]
			.filter((m) => m.user.id !== reader.id)
			.map((m) => ({ user: m.user, seq: m.seq }));
		socket.open();
		socket.push(welcomeAt(this.head, { read: this.readState(reader.id), receipts }));
		for (const event of this.events.slice(since)) {
			socket.push((event.type === "message" ? this.current(event, reader.id) : event) as ServerFrame);
		}
		socket.push({ type: "synced", through: this.head });
		this.sockets.add(socket);
	}
}

describe("a client that drops and resumes", () => {
	it("ends with exactly the snapshot of one that never dropped, and of one that joined at the end", async () => {
		const room = new FakeLog();
		const join = async (h: Harness, index: number): Promise<FakeSocket> => {
			const socket = await h.socket(index);
			room.accept(socket, alice);
			await vi.waitFor(() => expect(h.client.state).toBe("live"));
			return socket;
		};
		const steady = harness();
		const steadyView = new RoomView(steady.client);
		void steady.client.connect();
		await join(steady, 0);
		const dropping = harness();
		const droppingView = new RoomView(dropping.client);
		void dropping.client.connect();
		const first = await join(dropping, 0);

		room.say(bob, "hi");
		// The dropping client loses its socket here; the room goes on without it.
		room.sockets.delete(first);
		first.close(1006, "network");
		room.say(alice, "hello", 1);
		room.react(1, alice, "👍");
		room.edit(2, "hello there");
		room.react(1, bob, "👍");
		room.say(bob, "third");
		room.typing(bob);
		room.read(bob, 6);
		room.react(2, bob, "❤️");
		room.edit(1, "hi!");
		room.react(1, alice, "👍", false);
		room.read(alice, 5);
		room.say(bob, "about the third", 6);
		room.retract(6);
		room.react(2, carol, "😀");

		// It comes back and resumes after the last seq it delivered.
		const resumed = await join(dropping, 1);
		expect(resumed.url.searchParams.get("since")).toBe("1");
		room.edit(2, "hello again");
		room.react(10, alice, "🎉");
		room.react(2, bob, "❤️", false);
		room.read(bob, 14);

		const late = harness({ since: 0 });
		const lateView = new RoomView(late.client);
		void late.client.connect();
		await join(late, 0);

		const expected = steadyView.snapshot;
		expect(expected.messages.map((m) => [m.seq, m.text, m.reactions ?? []])).toEqual([
			[1, "hi!", [{ emoji: "👍", count: 1, mine: false }]],
			[2, "hello again", [{ emoji: "😀", count: 1, mine: false }]],
			[6, "", []],
			[10, "about the third", [{ emoji: "🎉", count: 1, mine: true }]],
		]);
		expect(expected.messages[3]?.replyTo).toEqual({ msgId: "msg-6", author: bob, excerpt: "", removed: true });
		expect(expected.read).toEqual({ seq: 5, unread: 1 });
		expect(expected.receipts).toEqual([{ user: bob, seq: 14 }]);
		expect(expected.typing).toEqual([]);
		expect(droppingView.snapshot).toEqual(expected);
		expect(lateView.snapshot).toEqual(expected);
		for (const client of [steady.client, dropping.client, late.client]) client.close();
	});
});
