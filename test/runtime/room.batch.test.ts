/**
 * Batched delivery (v1.2, features=batch): one frame per commit with the sender's acks in it,
 * beside v1 sockets that get one frame per event, and the same events in the same order.
 */
import { describe, it } from "vitest";
import { unpackBatch } from "../../src/batch.ts";
import type { AckFrame, AnyServerFrame, BatchFrame, RoomEvent } from "../../src/protocol.ts";
import { api, freshRoom, join, type TestSocket } from "./helpers.ts";

function batches(socket: TestSocket): BatchFrame[] {
	return (socket.frames as Array<AnyServerFrame | string>).filter((f): f is BatchFrame => typeof f !== "string" && f.type === "batch");
}

/** The frames a batch socket stands for, unpacked in order. */
function unpacked(socket: TestSocket): AnyServerFrame[] {
	return (socket.frames as Array<AnyServerFrame | string>).flatMap((f) =>
		typeof f === "string" ? [] : f.type === "batch" ? unpackBatch(f) : [f],
	);
}

const events = (frames: AnyServerFrame[]): RoomEvent[] =>
	frames.filter((f): f is RoomEvent => f.type === "message" || f.type === "retract");

describe("batched delivery", () => {
	it("sends a commit as one batch with the sender's acks in it, and v1 sockets the same events one by one", async ({ expect }) => {
		const room = freshRoom();
		const sender = await join(room, "guest=ann&features=batch");
		const batchReader = await join(room, "guest=bob&features=batch,presence");
		const v1Reader = await join(room, "guest=cy");
		// 12 fit in the sender's burst (the runtime tests keep the default rate limit).
		for (let i = 0; i < 12; i++) sender.send({ type: "send", id: `m${i}`, text: `hello ${i}` });
		await sender.until(() => unpacked(sender).filter((f) => f.type === "ack").length === 12);
		await batchReader.until(() => events(unpacked(batchReader)).length === 12);
		await v1Reader.until(() => v1Reader.ofType("message").length === 12);

		const seqs = (list: RoomEvent[]): number[] => list.map((e) => e.seq);
		expect(seqs(events(unpacked(sender)))).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
		expect(events(unpacked(batchReader))).toEqual(v1Reader.ofType("message"));
		expect(events(unpacked(sender))).toEqual(v1Reader.ofType("message"));
		// Frames arriving together committed together: fewer batches than events.
		expect(batches(sender).length).toBeLessThan(12);
		// A batch socket gets no standalone acks or events; every ack follows its event.
		expect(sender.ofType("ack")).toEqual([]);
		expect(sender.ofType("message")).toEqual([]);
		const order = unpacked(sender).filter((f) => f.type === "ack" || f.type === "message");
		for (const ack of order.filter((f): f is AckFrame => f.type === "ack")) {
			const eventAt = order.findIndex((f) => f.type === "message" && f.seq === ack.seq);
			expect(eventAt).toBeGreaterThanOrEqual(0);
			expect(eventAt).toBeLessThan(order.indexOf(ack));
		}
		// Only the sender's batches carry acks.
		expect(batches(batchReader).some((b) => b.acks !== undefined)).toBe(false);
	});

	it("batches the replay before synced, and acks a repeat in a batch with no events", async ({ expect }) => {
		const room = freshRoom();
		const writer = await join(room, "guest=ann");
		for (let i = 0; i < 5; i++) writer.send({ type: "send", id: `w${i}`, text: `w ${i}` });
		await writer.until(() => writer.ofType("ack").length === 5);

		const reader = await join(room, "guest=bob&features=batch&since=0");
		const kinds = reader.frames.map((f) => (typeof f === "string" ? f : (f as AnyServerFrame).type));
		expect(kinds).toEqual(["welcome", "batch", "synced"]);
		expect(events(unpacked(reader)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);

		reader.send({ type: "send", id: "r1", text: "mine" });
		await reader.until(() => unpacked(reader).some((f) => f.type === "ack"));
		reader.send({ type: "send", id: "r1", text: "mine again" });
		await reader.until(() => unpacked(reader).filter((f) => f.type === "ack").length === 2);
		expect(batches(reader).at(-1)).toMatchObject({ events: [], acks: [{ type: "ack", id: "r1", seq: 6, duplicate: true }] });

		// Commits outside the socket path (an HTTP post) reach batch sockets as batches too.
		const posted = await api(`/v1/rooms/${room}/messages?guest=cy`, {
			method: "POST",
			body: JSON.stringify({ id: "h1", text: "over http" }),
		});
		expect(posted.status).toBe(201);
		await reader.until(() => events(unpacked(reader)).some((e) => e.seq === 7));
		expect(
			batches(reader)
				.at(-1)
				?.events.map((e) => e.seq),
		).toEqual([7]);
		expect(reader.ofType("error")).toEqual([]);
	});
});
