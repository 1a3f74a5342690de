/**
 * @module
 * The outgoing queue. Every send stays here, keyed by its client id, until the server acks it
 * (or refuses it for good). A frame written to a socket that then dies may or may not have been
 * committed, so after every disconnect everything unacked is queued again and resent with the
 * same id: the server's per-(room, user) dedup turns a repeat into `duplicate: true`, which is
 * what makes a send "never lost, never doubled".
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

	/** Until when (epoch ms) nothing may be written, after a `rate_limited` refusal. */
	get pausedUntil(): number {
		return this.#pausedUntil;
	}

	/** Holds every write until `untilMs`; a later pause extends, an earlier one never shortens. */
	pause(untilMs: number): void {
		this.#pausedUntil = Math.max(this.#pausedUntil, untilMs);
	}

	/** How many frames are written and waiting for their ack. */
	get inFlight(): number {
		let count = 0;
		for (const entry of this.#entries.values()) if (entry.state === "sent") count++;
		return count;
	}

	/**
	 * The queued frames to write now, oldest first, marked as sent: none while paused, and no
	 * more than `maxInFlight` unacked at once. The window matters after a long outage: resending
	 * hundreds of frames in one burst would trip the server's rate limit, and a flood of
	 * `rate_limited` refusals can get the socket closed as abusive.
	 */
	takeQueued(nowMs: number, maxInFlight: number = Number.POSITIVE_INFINITY): T[] {
		if (nowMs < this.#pausedUntil) return [];
		let slots = maxInFlight - this.inFlight;
		const out: T[] = [];
		for (const entry of this.#entries.values()) {
			if (slots <= 0) break;
			if (entry.state !== "queued") continue;
			slots--;
			entry.state = "sent";
			entry.writes++;
			out.push(entry.frame);
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
