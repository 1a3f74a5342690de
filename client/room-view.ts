/**
 * @module
 * A room as a UI renders it: one immutable snapshot (messages, who is online, the connection
 * state, the outgoing queue), replaced on every change. Framework-neutral: the React hook
 * (`react.ts`) subscribes to it, and any other view layer can do the same.
 */
import type { MessageEvent as ChatMessage, RoomEvent, RoomLimits, UserRef } from "../src/protocol.ts";
import type { ParleyClientError } from "./errors.ts";
import type { ConnectionState, ParleyClient, PendingSend, QueueStatus, StatusEvent } from "./index.ts";

export interface RoomSnapshot {
	/** The connection state, and the details of the last `status` event. */
	state: ConnectionState;
	status: StatusEvent;
	/** Who the server says we are, once welcomed. */
	user: UserRef | undefined;
	/** Who is online; a sample when `onlineComplete` is false (a room over its list limit). */
	online: UserRef[];
	/** How many distinct users are online. */
	onlineCount: number;
	onlineComplete: boolean;
	/**
	 * The latest messages in seq order, each once. A retracted message stays in place with empty
	 * text and `retractedBy` set, as the server replays it, so live and replayed views agree.
	 */
	messages: ChatMessage[];
	/** The outgoing queue and the sends in it, oldest first. */
	queue: QueueStatus;
	outgoing: PendingSend[];
	/** The last refusal or client-side failure reported by the `error` event. */
	lastError: ParleyClientError | undefined;
	limits: RoomLimits;
}

export interface RoomViewOptions {
	/** How many messages the snapshot keeps (the latest ones). Default 500. */
	maxMessages?: number;
}

export const DEFAULT_MAX_MESSAGES = 500;

/**
 * Applies one room event to a seq-ordered message list, keeping at most `max` messages.
 * Returns the same array when the event changes nothing (a duplicate, a retract of a message
 * not in view), so a UI can skip a render by identity.
 */
export function applyEvent(messages: readonly ChatMessage[], event: RoomEvent, max: number): readonly ChatMessage[] {
	if (event.type === "retract") {
		const index = messages.findIndex((m) => m.msgId === event.msgId);
		const target = messages[index];
		if (target === undefined || target.retractedBy !== undefined) return messages;
		const next = messages.slice();
		next[index] = { ...target, text: "", retractedBy: event.seq };
		return next;
	}
	if (event.type !== "message") return messages;
	const last = messages.at(-1);
	// The client delivers in seq order exactly once; this guard keeps the rule local anyway.
	if (last !== undefined && event.seq <= last.seq) return messages;
	const next = messages.length >= max ? messages.slice(messages.length - max + 1) : messages.slice();
	next.push(event);
	return next;
}

/** Subscribes to a client and keeps its snapshot; `stop()` removes every listener. */
export class RoomView {
	readonly #max: number;
	readonly #listeners = new Set<() => void>();
	readonly #unsubscribe: Array<() => void>;
	#snapshot: RoomSnapshot;

	constructor(client: ParleyClient, options: RoomViewOptions = {}) {
		const max = options.maxMessages ?? DEFAULT_MAX_MESSAGES;
		if (!(Number.isInteger(max) && max > 0)) throw new TypeError("`maxMessages` must be a whole number > 0");
		this.#max = max;
		this.#snapshot = {
			state: client.state,
			status: { state: client.state },
			user: client.user,
			online: client.online,
			onlineCount: client.onlineCount,
			onlineComplete: client.onlineComplete,
			messages: [],
			queue: { size: client.pending, inFlight: 0, heldUntil: 0 },
			outgoing: client.outgoing(),
			lastError: undefined,
			limits: client.limits,
		};
		const events = (event: RoomEvent): void => {
			const messages = applyEvent(this.#snapshot.messages, event, this.#max) as ChatMessage[];
			if (messages !== this.#snapshot.messages) this.#update({ messages });
		};
		this.#unsubscribe = [
			client.on("message", events),
			client.on("retract", events),
			client.on("status", (status) => this.#update({ state: status.state, status })),
			client.on("welcome", () => this.#update({ user: client.user, online: client.online, limits: client.limits })),
			client.on("online", ({ count, complete }) =>
				this.#update({ online: client.online, onlineCount: count, onlineComplete: complete }),
			),
			client.on("queue", (queue) => this.#update({ queue, outgoing: client.outgoing() })),
			client.on("error", (lastError) => this.#update({ lastError })),
		];
	}

	/** The current snapshot; the same object until something changes. */
	get snapshot(): RoomSnapshot {
		return this.#snapshot;
	}

	/** Calls `listener` after every change; returns the function that stops it. */
	subscribe(listener: () => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	stop(): void {
		for (const off of this.#unsubscribe) off();
		this.#listeners.clear();
	}

	#update(change: Partial<RoomSnapshot>): void {
		this.#snapshot = { ...this.#snapshot, ...change };
		for (const listener of this.#listeners) listener();
	}
}
