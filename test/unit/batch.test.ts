import { describe, it } from "vitest";
import { BatchBody, batchFrame, chunkEvents, unpackBatch } from "../../src/batch.ts";
import type { AckFrame, BatchFrame, DeletedFrame, RoomEvent } from "../../src/protocol.ts";

const event = (seq: number): RoomEvent => ({
	type: "message",
	seq,
	msgId: `${seq}-0123456789`,
	author: { id: "ann", name: "Ann" },
	text: `m "${seq}" \u2028`,
	ts: 1000 + seq,
	traceId: "t",
});
const ack = (id: string, seq: number): AckFrame => ({ type: "ack", id, seq, msgId: `${seq}-0123456789`, traceId: "t", duplicate: false });

describe("batch framing", () => {
	it("holds the commit's events in seq order and the socket's own answers, as valid JSON", ({ expect }) => {
		const events = [
			event(3),
			event(4),
			{ type: "retract", seq: 5, msgId: "3-0123456789", reason: "deleted", ts: 1, traceId: "t" } as RoomEvent,
		];
		const deleted: DeletedFrame = { type: "deleted", msgId: "3-0123456789", seq: 5 };
		const frame = JSON.parse(batchFrame(events, [ack("a", 3), deleted])) as BatchFrame;
		expect(frame).toEqual({ type: "batch", events, acks: [ack("a", 3), deleted] });
		expect(unpackBatch(frame)).toEqual([...events, ack("a", 3), deleted]);
	});

	it("shares one string among the sockets without answers, and leaves acks out when there are none", ({ expect }) => {
		const body = new BatchBody([event(1), event(2)].map((e) => JSON.stringify(e)));
		expect(body.shared).toBe(body.shared);
		expect(body.with([])).toBe(body.shared);
		expect(JSON.parse(body.shared)).toEqual({ type: "batch", events: [event(1), event(2)] });
		expect(JSON.parse(body.with([JSON.stringify(ack("x", 2))]))).toEqual({
			type: "batch",
			events: [event(1), event(2)],
			acks: [ack("x", 2)],
		});
	});

	it("unpacks a batch with missing or malformed lists to what is there", ({ expect }) => {
		expect(unpackBatch({ type: "batch" } as unknown as BatchFrame)).toEqual([]);
		expect(unpackBatch({ type: "batch", events: [event(1)], acks: "x" } as unknown as BatchFrame)).toEqual([event(1)]);
	});

	it("chunks a replay by size, keeping order and at least one event per chunk", ({ expect }) => {
		const events = ["a".repeat(10), "b".repeat(10), "c".repeat(30), "d".repeat(5)];
		const chunks = chunkEvents(events, 25);
		expect(chunks).toEqual([["a".repeat(10), "b".repeat(10)], ["c".repeat(30)], ["d".repeat(5)]]);
		expect(chunks.flat()).toEqual(events);
		expect(chunkEvents([], 10)).toEqual([]);
	});
});
