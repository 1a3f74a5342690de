/**
 * @module
 * Batch framing (v1.2, `features=batch`): the events of one commit travel to a socket as one
 * `batch` frame, with that socket's own answers riding along. Serialization is the hot path
 * of delivery, so frames are assembled from JSON already made: each event is serialized once
 * per commit, the shared part of the batch once, and only a sender's answers per socket.
 */
import type { AckFrame, DeletedFrame, RoomEvent } from "./protocol.ts";

export { unpackBatch } from "./protocol.ts";

const OPEN = '{"type":"batch","events":[';

/** The serialized events of one commit, shared by every socket it goes to. */
export class BatchBody {
	readonly #events: string;
	#shared: string | undefined;

	/** `events` as serialized once (JSON of each event, in seq order). */
	constructor(events: readonly string[]) {
		this.#events = events.join(",");
	}

	/** The frame for a socket with no answers in this commit (the same string for all of them). */
	get shared(): string {
		this.#shared ??= `${OPEN}${this.#events}]}`;
		return this.#shared;
	}

	/** The frame for a socket with answers (serialized `ack`/`deleted` frames, in its send order). */
	with(acks: readonly string[]): string {
		return acks.length === 0 ? this.shared : `${OPEN}${this.#events}],"acks":[${acks.join(",")}]}`;
	}
}

/** A batch frame as a value (tests, and anything that does not need the fast path). */
export function batchFrame(events: readonly RoomEvent[], acks: ReadonlyArray<AckFrame | DeletedFrame> = []): string {
	return new BatchBody(events.map((event) => JSON.stringify(event))).with(acks.map((ack) => JSON.stringify(ack)));
}

/**
 * Splits a replay into batches of at most `maxBytes` of event JSON (never fewer than one event
 * per batch), so a welcome's replay is a few frames instead of one per event.
 */
export function chunkEvents(events: readonly string[], maxBytes: number): string[][] {
	const chunks: string[][] = [];
	let current: string[] = [];
	let size = 0;
	for (const event of events) {
		if (current.length > 0 && size + event.length > maxBytes) {
			chunks.push(current);
			current = [];
			size = 0;
		}
		current.push(event);
		size += event.length + 1;
	}
	if (current.length > 0) chunks.push(current);
	return chunks;
}
