/**
 * @module
 * The outgoing queue. Every send stays here, keyed by its client id, until the server acks it
 * (or refuses it for good). A frame written to a socket that then dies may or may not have been
 * committed, so after every disconnect everything unacked is queued again and resent with the
 * same id: the server's per-(room, user) dedup turns a repeat into `duplicate: true`, which is
 * what makes a send "never lost, never doubled".
 *
 * Order: each written frame names the send queued just before it (`after`), while that one is
 * still unacked. The server refuses a frame whose predecessor is not stored (`out_of_order`),
 * so when an earlier frame is refused (rate limit, transient failure) none written behind it
 * can overtake it: they come back, are queued again, and go out behind it.
 */

export type OutboxState = "queued" | "sent";

export interface OutboxEntry<T> {
	readonly frame: T;
	state: OutboxState;
	/** How many times the frame was handed out for writing. */
	writes: number;
}

export class Outbox<T extends { id: string }> {
	// A Map keeps insertion order, so resends go out in the order the app sent them.
	readonly #entries = new Map<string, OutboxEntry<T>>();
	#pausedUntil = 0;

	get size(): number {
		return this.#entries.size;
	}

	has(id: string): boolean {
		return this.#entries.has(id);
	}

	get(id: string): OutboxEntry<T> | undefined {
		return this.#entries.get(id);
	}

	/** Adds a frame; false when a frame with this id is already waiting (the caller joins it). */
	add(frame: T): boolean {
		if (this.#entries.has(frame.id)) return false;
		this.#entries.set(frame.id, { frame, state: "queued", writes: 0 });
		return true;
	}

	/**
	 * Puts frames sent before this incarnation (a persisted outbox) ahead of everything queued
	 * since, in their original order; returns the ones that were not already here.
	 */
	restore(frames: readonly T[]): T[] {
		const restored = frames.filter((frame) => !this.#entries.has(frame.id));
		const later = [...this.#entries];
		this.#entries.clear();
		for (const frame of restored) this.#entries.set(frame.id, { frame, state: "queued", writes: 0 });
		for (const [id, entry] of later) this.#entries.set(id, entry);
		return restored;
	}

	/** How many frames could be written now, given the in-flight window. */
	writable(maxInFlight: number = Number.POSITIVE_INFINITY): number {
		let queued = 0;
		for (const entry of this.#entries.values()) if (entry.state === "queued") queued++;
		return Math.max(0, Math.min(queued, maxInFlight - this.inFlight));
	}

	/** Until when (epoch ms) nothing may be written, after a `rate_limited` refusal. */
	get pausedUntil(): number {
		return this.#pausedUntil;
	}

	/** Holds every write until `untilMs`; a later pause extends, an earlier one never shortens. */
	pause(untilMs: number): void {
		this.#pausedUntil = Math.max(this.#pausedUntil, untilMs);
	}

	/** Lifts a pause: a new socket has a fresh rate-limit bucket on the server. */
	unpause(): void {
		this.#pausedUntil = 0;
	}

	/** How many frames are written and waiting for their ack. */
	get inFlight(): number {
		let count = 0;
		for (const entry of this.#entries.values()) if (entry.state === "sent") count++;
		return count;
	}

	/**
	 * The queued frames to write now, oldest first, marked as sent, each with `after` naming the
	 * unacked frame before it: none while paused, no more than `maxInFlight` unacked at once and
	 * no more than `maxCount` (the pacing budget). The window matters after a long outage:
	 * resending hundreds of frames in one burst would trip the server's rate limit.
	 */
	takeQueued(
		nowMs: number,
		maxInFlight: number = Number.POSITIVE_INFINITY,
		maxCount: number = Number.POSITIVE_INFINITY,
	): Array<T & { after?: string }> {
		if (nowMs < this.#pausedUntil) return [];
		let slots = Math.min(maxInFlight - this.inFlight, maxCount);
		const out: Array<T & { after?: string }> = [];
		let previous: string | undefined;
		for (const entry of this.#entries.values()) {
			if (slots <= 0) break;
			const after = previous;
			previous = entry.frame.id;
			if (entry.state !== "queued") continue;
			slots--;
			entry.state = "sent";
			entry.writes++;
			out.push(after === undefined ? entry.frame : { ...entry.frame, after });
		}
		return out;
	}

	/** Puts one written frame back in the queue (it was refused as `rate_limited`). */
	requeue(id: string): boolean {
		const entry = this.#entries.get(id);
		if (entry === undefined) return false;
		entry.state = "queued";
		return true;
	}

	/** The connection died: nothing written on it is known to have arrived. */
	requeueAll(): void {
		for (const entry of this.#entries.values()) entry.state = "queued";
	}

	/** Removes and returns the frame with this id (acked, or refused for good). */
	settle(id: string): T | undefined {
		const entry = this.#entries.get(id);
		if (entry === undefined) return undefined;
		this.#entries.delete(id);
		return entry.frame;
	}

	/** Removes every frame (the client is closing) and returns them, oldest first. */
	drain(): T[] {
		const frames = [...this.#entries.values()].map((entry) => entry.frame);
		this.#entries.clear();
		return frames;
	}

	/** A snapshot for display and tests. */
	entries(): ReadonlyArray<Readonly<OutboxEntry<T>>> {
		return [...this.#entries.values()].map((entry) => ({ ...entry }));
	}
}
