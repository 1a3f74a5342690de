/**
 * The room as a UI sees it (`RoomView`, behind the React hook): one snapshot, replaced on every
 * change and the same object otherwise; messages in seq order with retracts applied in place.
 */
import { describe, expect, it } from "vitest";
import { applyEvent, type ChatMessage, RoomView } from "../../client/index.ts";
import type { RoomEvent, ServerFrame } from "../../src/protocol.ts";
import { goLive, harness, message } from "../support/fake-room.ts";

const msg = (seq: number): ChatMessage => message(seq) as ChatMessage;
const retract = (seq: number, of: number): RoomEvent => ({
	type: "retract",
	seq,
	msgId: `msg-${of}`,
	reason: "deleted",
	ts: seq,
	traceId: "t",
});

describe("applyEvent", () => {
	it("appends in seq order and ignores an event it already holds", () => {
		const one = applyEvent([], msg(1), 10);
		const two = applyEvent(one, msg(2), 10);
		expect(two.map((m) => m.seq)).toEqual([1, 2]);
		expect(applyEvent(two, msg(2), 10)).toBe(two);
		expect(applyEvent(two, msg(1), 10)).toBe(two);
	});

	it("keeps only the latest `max` messages", () => {
		let list: readonly ChatMessage[] = [];
		for (let seq = 1; seq <= 7; seq++) list = applyEvent(list, msg(seq), 3);
		expect(list.map((m) => m.seq)).toEqual([5, 6, 7]);
	});

	it("marks a retracted message in place, as the server replays it, and never twice", () => {
		const list = [msg(1), msg(2)];
		const after = applyEvent(list, retract(3, 1), 10);
		expect(after[0]).toMatchObject({ seq: 1, text: "", retractedBy: 3 });
		expect(after[1]).toBe(list[1]);
		expect(list[0]?.text).toBe("m1");
		expect(applyEvent(after, retract(4, 1), 10)).toBe(after);
		expect(applyEvent(after, retract(5, 99), 10)).toBe(after);
	});
});

describe("RoomView", () => {
	it("follows the client: state, who we are, who is online, messages, the queue; one snapshot per change", async () => {
		const h = harness();
		const view = new RoomView(h.client, { maxMessages: 2 });
		const seen: unknown[] = [];
		view.subscribe(() => seen.push(view.snapshot));
		expect(view.snapshot).toMatchObject({ state: "idle", messages: [], online: [], user: undefined });
		const first = view.snapshot;
		expect(view.snapshot).toBe(first);

		const socket = await goLive(h);
		expect(view.snapshot).toMatchObject({ state: "live", user: { id: "guest:alice" }, online: [{ id: "guest:alice" }] });

		for (const seq of [1, 2, 3]) socket.push({ ...msg(seq) } as ServerFrame);
		expect(view.snapshot.messages.map((m) => m.seq)).toEqual([2, 3]);

		const sent = h.client.send("hello", { id: "s1" });
		expect(view.snapshot.queue.size).toBe(1);
		expect(view.snapshot.outgoing).toEqual([{ id: "s1", text: "hello" }]);
		socket.push({ type: "ack", id: "s1", seq: 4, msgId: "m-s1", traceId: "t", duplicate: false });
		await sent;
		expect(view.snapshot.queue.size).toBe(0);
		expect(view.snapshot.outgoing).toEqual([]);

		socket.push({ type: "error", id: "x", code: "rate_limited", message: "slow down", retryAfterMs: 10 });
		expect(view.snapshot.lastError).toMatchObject({ code: "rate_limited" });
		expect(new Set(seen).size).toBe(seen.length);
	});

	it("stops following the client after stop()", async () => {
		const h = harness();
		const view = new RoomView(h.client);
		let changes = 0;
		view.subscribe(() => changes++);
		view.stop();
		await goLive(h);
		expect(changes).toBe(0);
		expect(view.snapshot.state).toBe("idle");
	});

	it("refuses a nonsense maxMessages", () => {
		expect(() => new RoomView(harness().client, { maxMessages: 0 })).toThrow(TypeError);
	});
});
