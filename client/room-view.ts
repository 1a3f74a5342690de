/**
 * @module
 * A room as a UI renders it: one immutable snapshot (messages with their edits, reactions and
 * reply quotes, who is online and typing, read markers, the connection state, the outgoing
 * queue), replaced on every change. Framework-neutral: the React hook (`react.ts`) subscribes to
 * it, and any other view layer can do the same.
 *
 * Live and replayed views agree: a client that dropped and resumed (and so got messages
 * replayed with their latest text and reaction counts) ends with the same messages as one that
 * saw every event live. `applyEvent` is where that is kept: an edit applies only when newer than
 * the message's `editSeq`, a reaction only when newer than the counts it came with.
 */
import type { MessageEvent, ReactionCount, ReadState, Receipt, RoomEvent, RoomLimits, UserRef } from "../src/protocol.ts";
import type { ParleyClientError } from "./errors.ts";
import type { ChatMessage, ConnectionState, ParleyClient, PendingChange, PendingSend, QueueStatus, StatusEvent } from "./index.ts";
import { TypingUsers } from "./typing.ts";

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
	 * The latest messages in seq order, each once, with edits applied (`editSeq`, `editedAt`),
	 * reactions as counts (`mine` for yours), and reply quotes (`replyTo`, marked `removed` once
	 * the quoted message is retracted). A retracted message stays in place with empty text and
	 * `retractedBy` set, as the server replays it, so live and replayed views agree.
	 */
	messages: ChatMessage[];
	/** v1.3: who else is typing now (each for TYPING_EXPIRY_MS after their last `typing`), in the order they started. */
	typing: UserRef[];
	/** v1.3: others' latest read markers, newest first (for a "seen by" line). */
	receipts: Receipt[];
	/** v1.3: your read marker and how many messages by others follow it. */
	read: ReadState;
	/** The outgoing queue and the sends in it, oldest first. */
	queue: QueueStatus;
	outgoing: PendingSend[];
	/** v1.3: the edits and reactions in the queue, oldest first. */
	pendingChanges: PendingChange[];
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
 * Applies one room event to a seq-ordered message list, keeping at most `max` messages; `me` is
 * the local user's id (for `mine` on reactions). Returns the same array when the event changes
 * nothing (a duplicate, an event about a message not in view, an edit or reaction the message
 * already reflects), so a UI can skip a render by identity.
 */
export function applyEvent(messages: readonly ChatMessage[], event: RoomEvent, max: number, me?: string): readonly ChatMessage[] {
	const next = applyOne(messages, event, max, me);
	return forgetCountedAt(next, event.seq);
}

function applyOne(messages: readonly ChatMessage[], event: RoomEvent, max: number, me: string | undefined): readonly ChatMessage[] {
	switch (event.type) {
		case "message": {
			const last = messages.at(-1);
			// The client delivers in seq order exactly once; this guard keeps the rule local anyway.
			if (last !== undefined && event.seq <= last.seq) return messages;
			const next = messages.length >= max ? messages.slice(messages.length - max + 1) : messages.slice();
			next.push(normalize(event));
			return next;
		}
		case "retract": {
			let next: ChatMessage[] | undefined;
			messages.forEach((message, index) => {
				let changed: ChatMessage | undefined;
				if (message.msgId === event.msgId && message.retractedBy === undefined) {
					changed = normalize({ ...message, text: "", retractedBy: event.seq });
				} else if (message.replyTo?.msgId === event.msgId && message.replyTo.removed !== true) {
					changed = { ...message, replyTo: { ...message.replyTo, excerpt: "", removed: true } };
				}
				if (changed === undefined) return;
				next ??= messages.slice();
				next[index] = changed;
			});
			return next ?? messages;
		}
		case "message.edited":
			return replace(messages, event.msgId, (target) => {
				if (target.retractedBy !== undefined || event.seq <= (target.editSeq ?? 0)) return target;
				const { mentions: _old, ...rest } = target;
				const edited: ChatMessage = { ...rest, text: event.text, editSeq: event.seq, editedAt: event.editedAt };
				if (Array.isArray(event.mentions) && event.mentions.length > 0) edited.mentions = [...event.mentions];
				return edited;
			});
		case "reaction.added":
		case "reaction.removed":
			return replace(messages, event.msgId, (target) => {
				if (target.retractedBy !== undefined || event.seq <= (target.reactionsAt ?? 0)) return target;
				const reactions = react(target.reactions ?? [], event.type === "reaction.added", event.emoji, event.user.id === me);
				if (reactions === target.reactions) return target;
				const { reactions: _old, ...rest } = target;
				return reactions.length === 0 ? rest : { ...rest, reactions };
			});
		default:
			// New event kinds are allowed by the contract; a view that does not know one ignores it.
			return messages;
	}
}

/** One reaction added or removed; the same array when it changes nothing. */
function react(list: readonly ReactionCount[], added: boolean, emoji: string, mine: boolean): ReactionCount[] {
	const index = list.findIndex((reaction) => reaction.emoji === emoji);
	const found = list[index];
	if (added) {
		if (found === undefined) {
			// Kept in code point order, as the server lists them in replays and pages.
			const next = list.slice();
			const at = next.findIndex((reaction) => compareCodePoints(reaction.emoji, emoji) > 0);
			next.splice(at === -1 ? next.length : at, 0, { emoji, count: 1, mine });
			return next;
		}
		const next = list.slice();
		next[index] = { emoji, count: found.count + 1, mine: found.mine || mine };
		return next;
	}
	if (found === undefined) return list as ReactionCount[];
	const next = list.slice();
	if (found.count <= 1) next.splice(index, 1);
	else next[index] = { emoji, count: found.count - 1, mine: mine ? false : found.mine };
	return next;
}

/** Orders strings by code point, as SQLite orders UTF-8 text (UTF-16 order differs above U+FFFF). */
function compareCodePoints(a: string, b: string): number {
	const left = [...a];
	const right = [...b];
	for (let i = 0; i < Math.min(left.length, right.length); i++) {
		const diff = (left[i]?.codePointAt(0) ?? 0) - (right[i]?.codePointAt(0) ?? 0);
		if (diff !== 0) return diff;
	}
	return left.length - right.length;
}

function replace(messages: readonly ChatMessage[], msgId: string, change: (target: ChatMessage) => ChatMessage): readonly ChatMessage[] {
	const index = messages.findIndex((m) => m.msgId === msgId);
	const target = messages[index];
	if (target === undefined) return messages;
	const changed = change(target);
	if (changed === target) return messages;
	const next = messages.slice();
	next[index] = changed;
	return next;
}

/**
 * One shape for one state, however it arrived: no empty reaction list, a removed message keeps no
 * reactions or mentions, a removed quote no excerpt.
 */
function normalize(message: MessageEvent | ChatMessage): ChatMessage {
	const { reactions, mentions, ...rest } = message;
	const out: ChatMessage = rest;
	if (message.retractedBy === undefined) {
		if (Array.isArray(reactions) && reactions.length > 0) out.reactions = reactions.map((r) => ({ ...r }));
		if (Array.isArray(mentions) && mentions.length > 0) out.mentions = [...mentions];
	}
	if (out.replyTo?.removed === true && out.replyTo.excerpt !== "") out.replyTo = { ...out.replyTo, excerpt: "" };
	return out;
}

/**
 * Once an event at `seq` is applied, no later one can be at or below it: a `reactionsAt` that
 * low has done its job and goes, so a replayed message ends up as the live one did.
 */
function forgetCountedAt(messages: readonly ChatMessage[], seq: number): readonly ChatMessage[] {
	let next: ChatMessage[] | undefined;
	messages.forEach((message, index) => {
		if (message.reactionsAt === undefined || message.reactionsAt > seq) return;
		const { reactionsAt: _done, ...rest } = message;
		next ??= messages.slice();
		next[index] = rest;
	});
	return next ?? messages;
}

/** Subscribes to a client and keeps its snapshot; `stop()` removes every listener. */
export class RoomView {
	readonly #max: number;
	readonly #listeners = new Set<() => void>();
	readonly #unsubscribe: Array<() => void>;
	readonly #typing = new TypingUsers();
	/** Runs only while someone is typing, until the next one's time is up. */
	#expiryTimer: ReturnType<typeof setTimeout> | undefined;
	#expiryAt = 0;
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
			typing: [],
			receipts: client.receipts,
			read: client.readState,
			queue: { size: client.pending, inFlight: 0, heldUntil: 0 },
			outgoing: client.outgoing(),
			pendingChanges: client.pendingChanges(),
			lastError: undefined,
			limits: client.limits,
		};
		const events = (event: RoomEvent): void => {
			const messages = applyEvent(this.#snapshot.messages, event, this.#max, client.user?.id) as ChatMessage[];
			// Their message is what they were typing.
			const stopped = event.type === "message" && this.#typing.stopped(event.author.id);
			if (messages !== this.#snapshot.messages || stopped) {
				this.#update(stopped ? { messages, typing: this.#typing.list() } : { messages });
			}
		};
		this.#unsubscribe = [
			client.on("message", events),
			client.on("retract", events),
			client.on("edit", events),
			client.on("reaction", events),
			client.on("typing", ({ user }) => {
				if (user.id === client.user?.id) return;
				if (this.#typing.heard(user, Date.now())) this.#update({ typing: this.#typing.list() });
				this.#scheduleExpiry();
			}),
			client.on("receipt", () => this.#update({ receipts: client.receipts })),
			client.on("read", (read) => this.#update({ read })),
			client.on("status", (status) => this.#update({ state: status.state, status })),
			client.on("welcome", () => this.#update({ user: client.user, online: client.online, limits: client.limits })),
			client.on("online", ({ count, complete }) =>
				this.#update({ online: client.online, onlineCount: count, onlineComplete: complete }),
			),
			client.on("queue", (queue) => this.#update({ queue, outgoing: client.outgoing(), pendingChanges: client.pendingChanges() })),
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
		clearTimeout(this.#expiryTimer);
		this.#expiryTimer = undefined;
	}

	/** Sets the one expiry timer for the earliest typer, if there is one and none is set sooner. */
	#scheduleExpiry(): void {
		const next = this.#typing.nextExpiry();
		if (next === undefined || (this.#expiryTimer !== undefined && this.#expiryAt <= next)) return;
		clearTimeout(this.#expiryTimer);
		this.#expiryAt = next;
		this.#expiryTimer = setTimeout(
			() => {
				this.#expiryTimer = undefined;
				if (this.#typing.expire(Date.now())) this.#update({ typing: this.#typing.list() });
				this.#scheduleExpiry();
			},
			Math.max(0, next - Date.now()),
		);
	}

	#update(change: Partial<RoomSnapshot>): void {
		this.#snapshot = { ...this.#snapshot, ...change };
		for (const listener of this.#listeners) listener();
	}
}
