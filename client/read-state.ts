/**
 * @module
 * The caller's read marker (v1.3): what it is, how many messages after it are unread, and when
 * the client tells the room. Pure classes fed by the client, unit-tested on their own.
 *
 * Unread counting: the welcome says how many live messages by others follow the marker; the
 * client can only see the ones it delivers. So it keeps the delivered unread ones by seq, and a
 * count of the "hidden" rest: those older than anything delivered, or not delivered yet (the
 * replay still on its way). Delivering one of the latter moves it from hidden to known; reading
 * past the oldest delivered event (or past the welcome's head) reads every hidden one.
 */
import type { ReadState, RoomEvent } from "../src/protocol.ts";
import { READ_COALESCE_MS } from "../src/protocol.ts";

export class ReadTracker {
	#seq = 0;
	/** Unread messages the welcome counted and this client has not delivered. */
	#hidden = 0;
	/** The welcome's `lastSeq`: every hidden message is at or below it. */
	#hiddenThrough = 0;
	/** The lowest seq delivered so far: the client has delivered every event from there on. */
	#floor: number | undefined;
	/** Delivered unread messages by others: msgId -> seq. */
	readonly #unread = new Map<string, number>();

	get state(): ReadState {
		return { seq: this.#seq, unread: this.#hidden + this.#unread.size };
	}

	/**
	 * A welcome arrived with the server's marker (absent from servers that predate read state).
	 * Returns whether the state changed. When our marker is ahead of the server's (our last
	 * `read` frame did not arrive), our own count stands and the frame is resent.
	 */
	welcome(read: ReadState | undefined, lastSeq: number): boolean {
		if (read === undefined || !Number.isInteger(read.seq) || !Number.isInteger(read.unread)) return false;
		if (read.seq < this.#seq) return false;
		const before = this.state;
		this.#seq = read.seq;
		for (const [msgId, seq] of this.#unread) if (seq <= read.seq) this.#unread.delete(msgId);
		let known = 0;
		for (const seq of this.#unread.values()) if (seq <= lastSeq) known++;
		this.#hidden = Math.max(0, read.unread - known);
		this.#hiddenThrough = lastSeq;
		return !sameState(before, this.state);
	}

	/** A room event was delivered to the app (in seq order); `me` is the caller's user id. */
	delivered(event: RoomEvent, me: string | undefined): boolean {
		this.#floor ??= event.seq;
		if (event.type === "retract") return this.#unread.delete(event.msgId);
		if (event.type !== "message" || event.seq <= this.#seq) return false;
		if (event.author.id === me || event.retractedBy !== undefined) return false;
		this.#unread.set(event.msgId, event.seq);
		if (event.seq <= this.#hiddenThrough && this.#hidden > 0) this.#hidden--;
		return true;
	}

	/** Moves the marker forward to `seq` (never back); returns whether it moved. */
	advance(seq: number): boolean {
		if (seq <= this.#seq) return false;
		this.#seq = seq;
		for (const [msgId, at] of this.#unread) if (at <= seq) this.#unread.delete(msgId);
		if (seq >= this.#hiddenThrough || (this.#floor !== undefined && seq >= this.#floor - 1)) this.#hidden = 0;
		return true;
	}
}

function sameState(a: ReadState, b: ReadState): boolean {
	return a.seq === b.seq && a.unread === b.unread;
}

/** What the coalescer wants done: write a `read` frame for `seq` now, or look again at `at`. */
export type ReadDue = { write: number } | { at: number } | undefined;

/**
 * When to write `read` frames: at most one per READ_COALESCE_MS, always of the latest marker,
 * and again on a new socket when the server's marker (from its welcome) is behind ours.
 */
export class ReadCoalescer {
	readonly #intervalMs: number;
	#wanted = 0;
	/** The highest marker the server is known to have. */
	#confirmed = 0;
	/** The highest marker written on the current socket. */
	#written = 0;
	#lastWriteAt = Number.NEGATIVE_INFINITY;

	constructor(intervalMs = READ_COALESCE_MS) {
		this.#intervalMs = intervalMs;
	}

	/** The app read up to `seq`; false when that is not beyond what it already marked. */
	want(seq: number): boolean {
		if (seq <= this.#wanted) return false;
		this.#wanted = seq;
		return true;
	}

	/** The server has the marker at `seq` (its welcome, or a receipt of ours). */
	confirm(seq: number): void {
		this.#confirmed = Math.max(this.#confirmed, seq);
		this.#wanted = Math.max(this.#wanted, seq);
	}

	/** A new socket: nothing written on the old one is known to have arrived. */
	newSocket(): void {
		this.#written = 0;
	}

	due(nowMs: number): ReadDue {
		if (this.#wanted <= Math.max(this.#confirmed, this.#written)) return undefined;
		const at = this.#lastWriteAt + this.#intervalMs;
		return nowMs >= at ? { write: this.#wanted } : { at };
	}

	wrote(seq: number, nowMs: number): void {
		this.#written = Math.max(this.#written, seq);
		this.#lastWriteAt = nowMs;
	}
}
