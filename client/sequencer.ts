/**
 * @module
 * Per-room sequence tracking. Room events carry a seq that starts at 1 and grows by exactly 1,
 * so the client can promise the app "in order, no gaps, no duplicates": anything at or below
 * `lastSeq` is a duplicate (a replay overlapping what we already had, or an HTTP page racing the
 * socket) and is dropped; anything beyond `lastSeq + 1` is held back until the missing range has
 * been fetched, and then released in order.
 */

export interface Sequenced {
	seq: number;
}

/** A range of seqs known to exist but not delivered: `after + 1 .. through`. */
export interface SeqGap {
	after: number;
	through: number;
}

export class Sequencer<E extends Sequenced> {
	#lastSeq: number;
	/** Events that arrived early, by seq, waiting for the gap before them to close. */
	readonly #held = new Map<number, E>();
	/** The highest seq the room is known to have (from welcome, synced or an HTTP page). */
	#head: number;

	constructor(lastSeq = 0) {
		this.#lastSeq = lastSeq;
		this.#head = lastSeq;
	}

	/** The seq of the last event delivered to the app. */
	get lastSeq(): number {
		return this.#lastSeq;
	}

	get head(): number {
		return this.#head;
	}

	/** How many early events are held back. */
	get heldCount(): number {
		return this.#held.size;
	}

	/** Records that the room has events up to `seq` (they may not have reached us yet). */
	noteHead(seq: number): void {
		if (seq > this.#head) this.#head = seq;
	}

	/**
	 * Starts over from `lastSeq`: used when joining without history (the app wants the latest
	 * events, not the room's whole past) and when the server's history turned out shorter than
	 * ours (its state was reset).
	 */
	rebase(lastSeq: number): void {
		this.#lastSeq = lastSeq;
		for (const seq of [...this.#held.keys()]) if (seq <= lastSeq) this.#held.delete(seq);
		// What we believed about the head came from the old history; keep only what is held.
		this.#head = Math.max(lastSeq, this.#maxHeld());
	}

	/**
	 * Offers one event; returns the events that can now be delivered, in order (possibly none:
	 * a duplicate, or an early event held back).
	 */
	offer(event: E): E[] {
		if (!Number.isInteger(event.seq) || event.seq <= this.#lastSeq) return [];
		this.noteHead(event.seq);
		if (event.seq > this.#lastSeq + 1) {
			this.#held.set(event.seq, event);
			return [];
		}
		const ready: E[] = [event];
		this.#lastSeq = event.seq;
		for (let next = this.#held.get(this.#lastSeq + 1); next !== undefined; next = this.#held.get(this.#lastSeq + 1)) {
			this.#held.delete(next.seq);
			ready.push(next);
			this.#lastSeq = next.seq;
		}
		return ready;
	}

	/** Offers events in any order; returns what can be delivered, in seq order. */
	offerAll(events: Iterable<E>): E[] {
		const sorted = [...events].sort((a, b) => a.seq - b.seq);
		return sorted.flatMap((event) => this.offer(event));
	}

	/**
	 * The first range known to be missing, or undefined when everything known has been
	 * delivered. Fetch `after` over HTTP and offer the page to close it.
	 */
	gap(): SeqGap | undefined {
		if (this.#held.size > 0) {
			let lowest = Number.POSITIVE_INFINITY;
			for (const seq of this.#held.keys()) lowest = Math.min(lowest, seq);
			return { after: this.#lastSeq, through: lowest - 1 };
		}
		if (this.#head > this.#lastSeq) return { after: this.#lastSeq, through: this.#head };
		return undefined;
	}

	#maxHeld(): number {
		let highest = 0;
		for (const seq of this.#held.keys()) highest = Math.max(highest, seq);
		return highest;
	}
}
