/**
 * @module
 * The Parley client: one room, one logical connection that survives any number of sockets.
 *
 * What it promises the app (see docs/client.md for the why):
 * - room events (`message`, `retract`, and in v1.3 `edit` and `reaction`) arrive in seq order,
 *   each exactly once, with no gaps, across reconnects: it resumes with `since` = the last seq it
 *   delivered, pages over HTTP what the replay did not cover, and drops anything it already
 *   delivered;
 * - a `send()` is never lost and never doubled: it stays queued until acked and is resent with
 *   the same id after a reconnect, which the server deduplicates; with a `storage`, unsent
 *   messages also survive a restart of the app;
 * - sends, edits and reactions are stored in the order of the calls, across reconnects, rate
 *   limits and token refreshes (one outbox, chained by `after`); writes are paced to the room's
 *   advertised rate;
 * - `typing()` and `markRead()` are ephemeral and coalesced: never queued, never persisted;
 * - a send the server would refuse for good (too large, blank) is rejected at once and never
 *   written; one refused by the server is rejected and dropped; neither blocks later sends;
 * - a dead network is noticed (heartbeat) and reconnected with exponential backoff and full
 *   jitter; refused credentials stop the loop instead of retrying forever.
 *
 * Works wherever there is a WebSocket and fetch: browsers, Node 22+, Workers.
 *
 * @example
 * ```ts
 * import { ParleyClient } from "@parley/client";
 *
 * const chat = new ParleyClient({ url: "http://127.0.0.1:8787", room: "lobby", guest: "alice" });
 * chat.on("message", (m) => console.log(`#${m.seq} ${m.author.name}: ${m.text}`));
 * chat.on("status", (s) => console.log("status", s.state));
 * await chat.connect();
 * const ack = await chat.send("hello");
 * console.log("stored as", ack.msgId, "at seq", ack.seq);
 * chat.close();
 * ```
 */
import type {
	AckFrame,
	AnyServerFrame,
	BatchFrame,
	EditHistory,
	EventsPage,
	Feature,
	MembersPage,
	MessageEditedEvent,
	MessageEvent,
	PresenceFrame,
	PresenceUpdateFrame,
	ReactionEvent,
	ReadState,
	Receipt,
	ReceiptFrame,
	RetractEvent,
	RoomEvent,
	RoomLimits,
	SagaFrame,
	SearchPage,
	SendResult,
	TypingFrame,
	UserRef,
	WelcomeFrame,
} from "../src/protocol.ts";
import {
	DEFAULT_LIMITS,
	DEFAULT_REPLAY,
	FEATURES,
	GUEST_NAME_PATTERN,
	PAGE_LIMIT_MAX,
	READ_COALESCE_MS,
	TYPING_INTERVAL_MS,
	isPresenceUpdate,
	isRoomId,
	unpackBatch,
} from "../src/protocol.ts";
import { takeUpTo, type Bucket } from "../src/token-bucket.ts";
import { Backoff } from "./backoff.ts";
import { Emitter } from "./emitter.ts";
import type { Listener } from "./emitter.ts";
import { ParleyClientError } from "./errors.ts";
import { apiUrl, authHeaders, fetchEvents, requestJson, socketUrl } from "./http.ts";
import type { FetchLike, HistoryQuery } from "./http.ts";
import { Identity } from "./identity.ts";
import type { TokenProvider } from "./identity.ts";
import { newClientId } from "./ids.ts";
import { type Connection, LiveSocket, refusedState } from "./live-socket.ts";
import type { ConnectionState, LiveSocketOptions, StatusEvent } from "./live-socket.ts";
import { Outbox } from "./outbox.ts";
import {
	editFrame,
	type OutFrame,
	type PendingChange,
	type PendingSend,
	parseStored,
	pendingChangeOf,
	pendingSendOf,
	reactFrame,
	sendFrame,
	toStored,
} from "./pending.ts";
import { ReadCoalescer, ReadTracker } from "./read-state.ts";
import { checkOutgoing, frameBytes, limitsFromWelcome, MAX_INTERNAL_RETRIES, pacing, refusalKind } from "./send-rules.ts";
import { Sequencer } from "./sequencer.ts";
import type { OutboxStorage } from "./storage.ts";
import { SOCKET_OPEN } from "./socket.ts";

export type { BackoffOptions } from "./backoff.ts";
export type { ClientErrorCode } from "./errors.ts";
export type { Credentials, FetchLike, HistoryQuery } from "./http.ts";
export type { ConnectionState, StatusEvent } from "./live-socket.ts";
export type { SocketFactory, SocketLike } from "./socket.ts";
export type { OutboxStorage, WebStorageLike } from "./storage.ts";
export type { PendingChange, PendingSend } from "./pending.ts";
export type {
	AckFrame,
	EditHistory,
	EventsPage,
	Feature,
	MembersPage,
	MessageEditedEvent,
	PresenceFrame,
	ReactionEvent,
	ReadState,
	Receipt,
	ReceiptFrame,
	RetractEvent,
	RoomEvent,
	RoomLimits,
	SagaFrame,
	SearchPage,
	SendResult,
	TypingFrame,
	UserRef,
	WelcomeFrame,
};
export { ParleyClientError } from "./errors.ts";
export { newClientId } from "./ids.ts";
export { localStorageOutbox, memoryStorage } from "./storage.ts";
export { applyEvent, DEFAULT_MAX_MESSAGES, RoomView } from "./room-view.ts";
export { isReaction } from "./send-rules.ts";
export type { RoomSnapshot, RoomViewOptions } from "./room-view.ts";

// v1.4: a user's view across rooms (inbox, mentions, DMs, unread counts); see docs/client.md.
export { InboxClient, inboxApiUrl, inboxSocketUrl } from "./inbox.ts";
export type {
	InboxClientEvents,
	InboxClientOptions,
	InboxConnectionState,
	InboxRoomEvent,
	InboxStatusEvent,
	InboxTokenProvider,
} from "./inbox.ts";
export {
	addOlderMentions,
	applyFrame as applyInboxFrame,
	badgeText,
	compareMentions,
	compareRooms,
	emptyInbox,
	fromPage as inboxFromPage,
	labelIn,
	previewText,
	roomLabel,
	titleText,
} from "./inbox-state.ts";
export type { InboxChange, InboxState, InboxView } from "./inbox-state.ts";
export { dmRoomId, isDmRoom } from "../src/inbox-protocol.ts";
export type {
	DmResult,
	InboxPage,
	InboxRoom,
	InboxRoomKind,
	InboxServerFrame,
	JoinResult,
	Mention,
	MentionsPage,
	MessagePreview,
	UnreadFrame,
} from "../src/inbox-protocol.ts";

export type { TokenProvider } from "./identity.ts";

/**
 * A room message as the client delivers it: the wire event, plus `reactionsAt` when it carries
 * reaction counts (a replayed or paged message).
 */
export interface ChatMessage extends MessageEvent {
	/**
	 * Set by the client on a message that came with `reactions`: the room's head when they were
	 * counted (the welcome's `lastSeq` for a replay, the page's `lastSeq` for a page). Reaction
	 * events at or below it are already in the counts, so a view must not apply them again.
	 */
	reactionsAt?: number;
}

/** The outgoing queue, reported on every change. */
export interface QueueStatus {
	/** Sends, edits and reactions not acked yet. */
	size: number;
	/** Of those, written and waiting for their ack. */
	inFlight: number;
	/** Until when (epoch ms) writes are held by the room's rate limit or the client's pacing; 0 if not held. */
	heldUntil: number;
}

/** Everything `on()` can listen to, and the payload each listener receives. */
export interface ParleyClientEvents {
	/** A socket was accepted; `online` lists who is in the room (the caller included). */
	welcome: WelcomeFrame;
	/** A room message, in seq order, exactly once. */
	message: ChatMessage;
	/** A message was removed (by its author, by compensation of a cross-post, or by moderation). */
	retract: RetractEvent;
	/**
	 * v1.3, a room event (in seq order, exactly once): a message's text changed. A replayed or
	 * paged message already shows its latest text; apply an edit only if `edit.seq` is greater
	 * than the message's `editSeq` (`applyEvent` does).
	 */
	edit: MessageEditedEvent;
	/** v1.3, a room event (in seq order, exactly once): someone added or removed an emoji on a message. */
	reaction: ReactionEvent;
	/** v1.3, ephemeral: someone (not this socket) is typing; show it for TYPING_EXPIRY_MS unless repeated. */
	typing: TypingFrame;
	/**
	 * v1.3, ephemeral: another user's read marker moved forward (from a `receipt` frame, or a
	 * newer marker in a welcome). Your own markers update `read` instead.
	 */
	receipt: ReceiptFrame;
	/** v1.3: your read marker and unread count changed (from a welcome, `markRead()`, another tab, a new message). */
	read: ReadState;
	/**
	 * Someone's first socket joined or last socket left. In a room over its list limit the
	 * server only counts (see `online` below), so these stop until it is back under the limit.
	 */
	presence: PresenceFrame;
	/** Who is online changed: how many (`onlineCount`), and whether `online` lists them all. */
	online: { count: number; complete: boolean };
	/** A cross-post you made reached a terminal state. */
	saga: SagaFrame;
	/** One of your sends was stored (also delivered through the `send()` promise). */
	ack: AckFrame;
	/** A refusal from the server, or a client-side failure worth showing. The client keeps going. */
	error: ParleyClientError;
	/** The connection state changed. */
	status: StatusEvent;
	/**
	 * Unsent messages from an earlier run were found in `storage` and queued ahead of new ones.
	 * Each goes out with its original id; `send(text, { id })` with that id joins it.
	 */
	restored: PendingSend[];
	/** The outgoing queue changed (a send queued, written, acked, refused or held). */
	queue: QueueStatus;
	/** Caught up with the room: every event up to `through` has been delivered. */
	synced: { through: number };
}

/** Also the connection loop's options (`LiveSocketOptions`): backoff, heartbeat, connect timeout, `createSocket`, `random`. */
export interface ParleyClientOptions extends LiveSocketOptions {
	/** The server's origin (and optional path prefix), e.g. `https://chat.example.com`. */
	url: string;
	/** The room id, `^[a-z0-9][a-z0-9._-]{0,63}$`. */
	room: string;
	/**
	 * A signed token, or a function that returns a current one (called on every connect and
	 * HTTP call, and once more after a 401). Give exactly one of `token` and `guest`.
	 */
	token?: string | TokenProvider;
	/** A guest name (1..32 letters, digits, `_`, `-`), when the server allows guests. */
	guest?: string;
	/**
	 * Deliver events after this seq on the first connect (0 = the room's whole history, paged
	 * over HTTP as needed). Default: the latest 50 events, as the server replays them.
	 */
	since?: number;
	/** Timeout of each HTTP request (history pages, probes, deletes). Default 15000 ms. */
	httpTimeoutMs?: number;
	/** Most sends written and not yet acked at once. Default 16. */
	maxInFlight?: number;
	/** Makes HTTP requests; default: the global `fetch`. */
	fetch?: FetchLike;
	/**
	 * v1.2 socket features to ask for; default both. `batch`: the events of one commit arrive as
	 * one frame (unpacked here, so listeners see no difference); `presence`: joins and leaves come
	 * coalesced per short window, and a big room sends counts instead of lists. `[]` asks for the
	 * v1 frames. A server that predates them ignores the request.
	 */
	features?: readonly Feature[];
	/**
	 * Where unsent messages are kept so they survive a restart of the app (`localStorageOutbox()`
	 * in browsers, `fileStorage(dir)` from `storage-file.ts` in Node). Default: memory only.
	 */
	storage?: OutboxStorage;
}

export interface SendOptions {
	/** The idempotency key; default a random UUID. Reuse it to retry a send safely. */
	id?: string;
	/** Also post the message to these rooms (a saga; its outcome arrives as a `saga` event). */
	crossPost?: string[];
	/** v1.3: the msgId of the message (in this room) this one answers; refused with `not_found` if there is none. */
	replyTo?: string;
}

/** Options of `edit()`, `react()` and `unreact()`. */
export interface ChangeOptions {
	/** The idempotency key; default a random UUID. Reuse it to retry safely. */
	id?: string;
}

export interface SearchOptions {
	/** The `before` of the previous page, for the next (older) one. */
	before?: number;
	/** Results per page, 1..100; the server's default is 20. */
	limit?: number;
}

interface Deferred<T> {
	resolve(value: T): void;
	reject(error: unknown): void;
}

type Timer = ReturnType<typeof setTimeout>;

/** One room socket and what is known about it; replaced wholesale on every reconnect. */
interface RoomConnection extends Connection {
	/** The HTTP catch-up loop running for this connection, if any. */
	fill: Promise<void> | undefined;
	/** The welcome's `lastSeq`: replayed messages count their reactions as of it. */
	head: number;
	/**
	 * Whether the server speaks v1.3 (its welcome carries `read`): only then are `typing` and
	 * `read` frames written, which an older server would answer with an error each.
	 */
	chat: boolean;
}

/** RFC 6455 "message too big": the server's answer to a frame over its limit. */
const TOO_BIG_CODE = 1009;

/** The JWT `sub`, read without verifying (only to key the persisted outbox by user). */
function tokenSubject(token: string): string {
	try {
		const payload = token.split(".")[1] ?? "";
		const json = atob(
			payload
				.replace(/-/g, "+")
				.replace(/_/g, "/")
				.padEnd(Math.ceil(payload.length / 4) * 4, "="),
		);
		const sub = (JSON.parse(json) as { sub?: unknown }).sub;
		return typeof sub === "string" ? sub : "token";
	} catch {
		return "token";
	}
}

/**
 * A connection to one room. Create it, add listeners, then `connect()`.
 *
 * @example
 * ```ts
 * const chat = new ParleyClient({ url: location.origin, room: "lobby", token });
 * chat.on("message", (m) => render(m));
 * chat.on("retract", (r) => markRemoved(r.msgId));
 * chat.on("status", (s) => showBanner(s.state));
 * await chat.connect();
 * await chat.send("hi all", { crossPost: ["announcements"] });
 * ```
 */
export class ParleyClient {
	readonly room: string;
	readonly url: string;
	readonly #identity: Identity;
	readonly #storage: OutboxStorage | undefined;
	/** Every send id this client has held, so a persisted queue keeps only other clients' entries besides ours. */
	readonly #held = new Set<string>();
	/** The storage key of this user's outbox in this room, once the user is known. */
	#storageKey: string | undefined;
	/** Persisting runs one write at a time, always of the latest queue. */
	#persisting: Promise<void> = Promise.resolve();
	#started: Promise<void> | undefined;
	#limits: RoomLimits = DEFAULT_LIMITS;
	/** The client's own token bucket, mirroring the room's at a slightly slower pace. */
	#pace: Bucket = { tokens: 0, at: 0 };
	#heldUntil = 0;
	readonly #events = new Emitter<ParleyClientEvents>();
	readonly #sequencer: Sequencer<RoomEvent>;
	readonly #outbox = new Outbox<OutFrame>();
	readonly #waiters = new Map<string, Deferred<SendResult>[]>();
	readonly #live: LiveSocket<RoomConnection>;
	readonly #fetch: FetchLike;
	readonly #httpTimeoutMs: number;
	readonly #maxInFlight: number;
	readonly #since: number | undefined;
	readonly #features: readonly Feature[];
	/** Whether the sequencer has a baseline, so reconnects resume with `since`. */
	#joined = false;
	#user: UserRef | undefined;
	readonly #online = new Map<string, UserRef>();
	#onlineCount = 0;
	#onlineComplete = true;
	#flushTimer: Timer | undefined;
	/** When the last `typing` frame was written (epoch ms). */
	#typingAt = Number.NEGATIVE_INFINITY;
	readonly #read = new ReadTracker();
	readonly #readOut = new ReadCoalescer(READ_COALESCE_MS);
	#readTimer: Timer | undefined;
	/** Others' latest read markers, by user id. */
	readonly #receipts = new Map<string, Receipt>();

	constructor(options: ParleyClientOptions) {
		if (!isRoomId(options.room)) throw new TypeError(`not a room id: ${JSON.stringify(options.room)}`);
		if ((options.token === undefined) === (options.guest === undefined)) {
			throw new TypeError("give exactly one of `token` and `guest`");
		}
		if (options.guest !== undefined && !GUEST_NAME_PATTERN.test(options.guest)) {
			throw new TypeError("a guest name is 1..32 letters, digits, `_` or `-`");
		}
		if (options.since !== undefined && !(Number.isInteger(options.since) && options.since >= 0)) {
			throw new TypeError("`since` must be a whole number >= 0");
		}
		this.room = options.room;
		this.url = new URL(options.url).toString();
		this.#identity = new Identity(options.token, options.guest);
		this.#storage = options.storage;
		this.#since = options.since;
		this.#sequencer = new Sequencer(options.since ?? 0);
		this.#live = new LiveSocket<RoomConnection>(options, {
			messages: { forbidden: "access to this room was refused", closed: "the client was closed" },
			// Every attempt waits for the saved outbox, so restored messages go out first.
			prepare: () => (this.#started ?? Promise.resolve()).then(() => this.#identity.credentials()),
			prepareFailed: (error) => ({
				error:
					error instanceof ParleyClientError
						? error
						: new ParleyClientError("network", `the token provider failed: ${String(error)}`),
				reason: "no token",
			}),
			socketUrl: (credentials) =>
				socketUrl(this.url, this.room, credentials, this.#joined ? this.#sequencer.lastSeq : this.#since, this.#features),
			newConnection: (socket) => ({ socket, welcomed: false, synced: false, fill: undefined, head: 0, chat: false }),
			onFrame: (conn, frame) => this.#onFrame(conn, frame as AnyServerFrame),
			onClose: (code) => {
				if (code === TOO_BIG_CODE) this.#dropOversized();
			},
			onAbandon: () => {
				// Nothing written on that socket is known to have arrived: resend all of it.
				this.#outbox.requeueAll();
				this.#reportQueue();
			},
			onLost: (conn) => {
				// A socket that never got a welcome may have been refused with 401/403, which a
				// WebSocket only reports as an error. Ask over HTTP with the same credentials before
				// hammering the server with more upgrades.
				if (!conn.welcomed) void this.#probe();
			},
			onTerminate: (error) => {
				clearTimeout(this.#flushTimer);
				clearTimeout(this.#readTimer);
				// Drained from memory only: a persisted outbox keeps them for the next run.
				for (const frame of this.#outbox.drain()) this.#settleWaiters(frame.id, (waiter) => waiter.reject(error));
				this.#heldUntil = 0;
			},
			onStatus: (status) => this.#events.emit("status", status),
			onError: (error) => this.#events.emit("error", error),
		});
		// Wrapped rather than stored: a detached `window.fetch` throws "Illegal invocation".
		this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
		this.#httpTimeoutMs = options.httpTimeoutMs ?? 15_000;
		this.#maxInFlight = options.maxInFlight ?? 16;
		this.#features = options.features ?? FEATURES;
	}

	// -----------------------------------------------------------------------------------
	// Public API
	// -----------------------------------------------------------------------------------

	/** Listens to an event; returns a function that removes the listener. */
	on<K extends keyof ParleyClientEvents>(type: K, listener: Listener<ParleyClientEvents[K]>): () => void {
		return this.#events.on(type, listener);
	}

	off<K extends keyof ParleyClientEvents>(type: K, listener: Listener<ParleyClientEvents[K]>): void {
		this.#events.off(type, listener);
	}

	/** The connection state (also reported by the `status` event). */
	get state(): ConnectionState {
		return this.#live.state;
	}

	/** The seq of the last room event delivered to the app (a good `since` to persist). */
	get lastSeq(): number {
		return this.#sequencer.lastSeq;
	}

	/** Who the server says we are, once welcomed. */
	get user(): UserRef | undefined {
		return this.#user;
	}

	/**
	 * Who is in the room, as of the last welcome and presence frames. In a room over its list
	 * limit this is only a sample (`onlineComplete` is false): page `members()` for everyone.
	 */
	get online(): UserRef[] {
		return [...this.#online.values()];
	}

	/** How many distinct users are online, as the server last counted. */
	get onlineCount(): number {
		return this.#onlineCount;
	}

	/** Whether `online` lists everyone; false in a room over its list limit. */
	get onlineComplete(): boolean {
		return this.#onlineComplete;
	}

	/** How many sends (edits and reactions included) are waiting for their ack. */
	get pending(): number {
		return this.#outbox.size;
	}

	/** The room's limits: the contract's defaults until a `welcome` tells the server's. */
	get limits(): RoomLimits {
		return this.#limits;
	}

	/** The sends waiting for their ack, oldest first (edits and reactions: `pendingChanges()`). */
	outgoing(): PendingSend[] {
		return this.#outbox.entries().flatMap(({ frame }) => pendingSendOf(frame) ?? []);
	}

	/** v1.3: the edits and reactions waiting for their ack, oldest first. */
	pendingChanges(): PendingChange[] {
		return this.#outbox.entries().flatMap(({ frame }) => pendingChangeOf(frame) ?? []);
	}

	/**
	 * Why `send(text, options)` would be refused at once (`too_large`, `bad_request`), or
	 * undefined when it may go: for a composer that disables Send and says why. The same rules
	 * hold for the text of an `edit()`.
	 */
	check(text: string, options: SendOptions = {}): ParleyClientError | undefined {
		return checkOutgoing(sendFrame(text, options.id ?? "x".repeat(36), options.crossPost, options.replyTo), this.#limits);
	}

	/**
	 * v1.3: your read marker (every event up to `seq` has been read) and how many messages by
	 * others follow it: from the welcome, then kept up to date locally (`markRead()`, new
	 * messages, your other tabs). `{ seq: 0, unread: 0 }` until known.
	 */
	get readState(): ReadState {
		return this.#read.state;
	}

	/** v1.3: others' latest read markers (from the welcome and `receipt` frames), newest first. */
	get receipts(): Receipt[] {
		return [...this.#receipts.values()].sort((a, b) => b.seq - a.seq || (a.user.id < b.user.id ? -1 : 1));
	}

	/**
	 * Starts the connection loop (if not started) and resolves once the client is live: welcomed
	 * and caught up. Rejects if the credentials or room are refused, or the client is closed.
	 * Reconnects after that are automatic and do not need another call.
	 */
	connect(): Promise<void> {
		// The saved outbox is read once, whatever the state (a page may start suspended); every
		// connection attempt waits for it, so restored messages go out first.
		if (!this.#live.terminal) this.#started ??= this.#restore();
		return this.#live.connect();
	}

	/**
	 * Sends a message. Resolves with the ack once the server has durably stored it (with
	 * `duplicate: true` if an earlier attempt with the same id got there first). While the
	 * connection is down the send waits in the queue; it is rejected only when the server
	 * refuses it (bad_request, too_large, read_only, banned, ...) or the client is closed.
	 */
	send(text: string, options: SendOptions = {}): Promise<SendResult> {
		return this.#enqueue(sendFrame(text, options.id ?? newClientId(), options.crossPost, options.replyTo));
	}

	/**
	 * v1.3: changes the text of one of your messages. Goes through the same outbox as sends: it
	 * is written after everything sent before it (it never overtakes a send typed earlier), kept
	 * in `storage` until acked, resent with the same id after a reconnect (a repeat is
	 * `duplicate: true`), and rejected with the server's code when refused for good (`forbidden`
	 * for someone else's message, `not_found`, `too_large`, ...). Resolves with the ack: `seq` is
	 * the `message.edited` event's.
	 */
	edit(msgId: string, text: string, options: ChangeOptions = {}): Promise<SendResult> {
		return this.#enqueue(editFrame(msgId, text, options.id ?? newClientId()));
	}

	/**
	 * v1.3: adds one emoji (one grapheme, or a `:name:`) to a message, through the outbox like
	 * `edit()`. Reacting again with the same emoji resolves with `duplicate: true`.
	 */
	react(msgId: string, emoji: string, options: ChangeOptions = {}): Promise<SendResult> {
		return this.#enqueue(reactFrame(msgId, emoji, options.id ?? newClientId(), false));
	}

	/** v1.3: removes your `emoji` from a message, through the outbox like `react()`. */
	unreact(msgId: string, emoji: string, options: ChangeOptions = {}): Promise<SendResult> {
		return this.#enqueue(reactFrame(msgId, emoji, options.id ?? newClientId(), true));
	}

	/**
	 * v1.3: tells the room you are typing. Call it on every keystroke: at most one frame per
	 * TYPING_INTERVAL_MS is written, and only while live on a v1.3 server (its welcome carries
	 * `read`); it is never queued or persisted (a late "typing" is worse than none). Returns
	 * whether a frame was written.
	 */
	typing(): boolean {
		const conn = this.#live.current;
		if (this.#live.state !== "live" || conn === undefined || !conn.chat || conn.socket.readyState !== SOCKET_OPEN) return false;
		const now = Date.now();
		if (now - this.#typingAt < TYPING_INTERVAL_MS) return false;
		// Not paced: one frame per 3 s fits in the headroom the pacing leaves under the room's rate.
		try {
			conn.socket.send(JSON.stringify({ type: "typing" }));
		} catch {
			return false;
		}
		this.#typingAt = now;
		return true;
	}

	/**
	 * v1.3: marks every event up to `seq` as read (capped at the last one delivered). Monotonic:
	 * a lower seq than before is ignored. Updates `readState` at once (and emits `read`); the
	 * room is told with at most one `read` frame per READ_COALESCE_MS, always the latest seq, and
	 * told again after a reconnect when its welcome shows it did not get the last one. A server
	 * that predates read state (no `read` in its welcome) is not sent any.
	 */
	markRead(seq: number): void {
		if (!(Number.isInteger(seq) && seq >= 0)) throw new TypeError("`seq` must be a whole number >= 0");
		if (this.#live.terminal) return;
		const upTo = Math.min(seq, this.#sequencer.lastSeq);
		if (this.#read.advance(upTo)) this.#events.emit("read", this.#read.state);
		if (this.#readOut.want(upTo)) this.#flushRead();
	}

	/** Queues an outbox frame (a send, an edit, a reaction) and returns its ack. */
	#enqueue(frame: OutFrame): Promise<SendResult> {
		if (this.#live.terminal) return Promise.reject(this.#live.terminalError());
		const { id } = frame;
		// A second call with an id still in the queue joins the first one's promise.
		const queued = this.#outbox.has(id);
		if (!queued) {
			const refused = checkOutgoing(frame, this.#limits);
			if (refused !== undefined) return Promise.reject(refused);
		}
		const promise = new Promise<SendResult>((resolve, reject) => {
			const list = this.#waiters.get(id) ?? [];
			list.push({ resolve, reject });
			this.#waiters.set(id, list);
		});
		if (!queued && this.#outbox.add(frame)) {
			this.#persist();
			this.#flush();
			this.#reportQueue();
		}
		return promise;
	}

	/** Drops every unsent message, from memory and from `storage`; their sends reject with `closed`. */
	discardUnsent(): void {
		const error = new ParleyClientError("closed", "the unsent messages were discarded");
		for (const frame of this.#outbox.drain()) this.#settleWaiters(frame.id, (waiter) => waiter.reject(error));
		this.#persist();
		this.#reportQueue();
	}

	/**
	 * Retracts one of your messages (or any message, for an admin). Resolves with the seq of the
	 * retract event; deleting an already-retracted message resolves with the original retract's
	 * seq. Uses the HTTP route, whose answer the contract defines, and retries transient failures.
	 */
	async delete(msgId: string): Promise<{ seq: number }> {
		if (this.#live.terminal) throw this.#live.terminalError();
		const retry = new Backoff({ minMs: 250, maxMs: 4000, factor: 2 });
		for (let attempt = 1; ; attempt++) {
			try {
				return await this.#identity.http((credentials) =>
					requestJson<{ seq: number }>(
						this.#fetch,
						apiUrl(this.url, this.room, `messages/${encodeURIComponent(msgId)}`, {}, credentials),
						{ method: "DELETE", headers: authHeaders(credentials) },
						this.#httpTimeoutMs,
					),
				);
			} catch (error) {
				const transient =
					error instanceof ParleyClientError &&
					(error.code === "network" || error.code === "timeout" || error.code === "rate_limited" || error.code === "internal");
				if (!transient || attempt >= 4 || this.#live.terminal) throw error;
				const wait = error.retryAfterMs ?? retry.next().delayMs;
				await new Promise((done) => setTimeout(done, wait));
			}
		}
	}

	/**
	 * Reads a page of the room's history over HTTP, outside the live stream (for "load older"):
	 * `{ before: oldestSeqShown, limit: 50 }`. Events come back ascending.
	 */
	async history(query: HistoryQuery): Promise<EventsPage> {
		const page = await this.#identity.http((credentials) =>
			fetchEvents(this.#fetch, this.url, this.room, credentials, query, this.#httpTimeoutMs),
		);
		return { ...page, events: stampReactions(page.events, page.lastSeq) };
	}

	/**
	 * v1.3: live messages matching `q`, newest first, with their latest text; pass the page's
	 * `before` back for the next (older) page. Same credentials and 401 rule as `history()`.
	 */
	async search(q: string, options: SearchOptions = {}): Promise<SearchPage> {
		return await this.#identity.http((credentials) =>
			requestJson<SearchPage>(
				this.#fetch,
				apiUrl(this.url, this.room, "search", { q, before: options.before, limit: options.limit }, credentials),
				{ headers: authHeaders(credentials) },
				this.#httpTimeoutMs,
			),
		);
	}

	/** v1.3: every text a message has had, the original first. */
	async editHistory(msgId: string): Promise<EditHistory> {
		return await this.#identity.http((credentials) =>
			requestJson<EditHistory>(
				this.#fetch,
				apiUrl(this.url, this.room, `messages/${encodeURIComponent(msgId)}/edits`, {}, credentials),
				{ headers: authHeaders(credentials) },
				this.#httpTimeoutMs,
			),
		);
	}

	/**
	 * A page of who is online, sorted by user id: `{ count, members, cursor? }`. Pass `cursor`
	 * back for the next page; it is absent on the last one. For rooms too big to list live.
	 */
	async members(query: { cursor?: string; limit?: number } = {}): Promise<MembersPage> {
		return await this.#identity.http((credentials) =>
			requestJson<MembersPage>(
				this.#fetch,
				apiUrl(this.url, this.room, "members", { cursor: query.cursor, limit: query.limit }, credentials),
				{ headers: authHeaders(credentials) },
				this.#httpTimeoutMs,
			),
		);
	}

	/**
	 * Goes offline on purpose (e.g. the browser's `offline` event): drops the socket and stops
	 * reconnecting. Sends keep queueing. `resume()` reconnects at once.
	 */
	suspend(): void {
		this.#live.suspend();
	}

	/** Ends a `suspend()`: reconnects now, with a fresh backoff schedule. */
	resume(): void {
		this.#live.resume();
	}

	/** Skips the current backoff wait and reconnects now (no-op unless `reconnecting`). */
	reconnectNow(): void {
		this.#live.reconnectNow();
	}

	/**
	 * Closes the connection for good. Sends still waiting for an ack are rejected (`closed`);
	 * with a `storage` they stay there and go out the next time a client connects.
	 */
	close(): void {
		this.#live.close();
	}

	// -----------------------------------------------------------------------------------
	// Credentials and the persisted outbox
	// -----------------------------------------------------------------------------------

	/** Loads unsent messages an earlier run left in `storage`, ahead of anything queued since. */
	async #restore(): Promise<void> {
		if (this.#storage === undefined) return;
		try {
			const credentials = await this.#identity.credentials();
			const who = "guest" in credentials ? `guest:${credentials.guest}` : tokenSubject(credentials.token);
			this.#storageKey = `parley.outbox:${new URL(this.url).host}:${this.room}:${who}`;
			const frames = parseStored(await this.#storage.get(this.#storageKey)).flatMap(({ frame }) => frame ?? []);
			const restored = this.#outbox.restore(frames);
			if (restored.length > 0) {
				// `restored` lists the sends (what a UI shows as bubbles); edits and reactions are in `pendingChanges()`.
				this.#events.emit(
					"restored",
					restored.flatMap((frame) => pendingSendOf(frame) ?? []),
				);
				this.#reportQueue();
			}
		} catch (error) {
			// A broken store must not stop the chat; say so and carry on in memory.
			this.#events.emit("error", new ParleyClientError("protocol", `could not read the saved outbox: ${String(error)}`));
		}
		this.#persist();
	}

	/**
	 * Writes the queue as it is now, chained so the last write wins. Another client of the same
	 * user in the same room (a second tab) shares the key: its entries, the ones this client
	 * never held, are kept, so two tabs never erase each other's unsent messages. (Both may
	 * send one; the same id makes that harmless.)
	 */
	#persist(): void {
		const storage = this.#storage;
		const key = this.#storageKey;
		if (storage === undefined || key === undefined) return;
		const mine = this.#outbox.entries().map(({ frame }) => toStored(frame));
		for (const frame of mine) this.#held.add(frame.id);
		const held = this.#held;
		this.#persisting = this.#persisting
			.then(() => {
				const write = (raw: string | null | undefined): void | Promise<void> => {
					// Entries of other clients are kept as they are, even kinds this one does not know.
					const others = parseStored(raw).flatMap(({ entry, id }) => (id === undefined || held.has(id) ? [] : [entry]));
					const frames = [...others, ...mine];
					return frames.length === 0 ? storage.delete(key) : storage.set(key, JSON.stringify(frames));
				};
				// With a synchronous store (localStorage) the read and the write happen in one
				// step, so a second tab cannot slip its own write in between.
				const raw = storage.get(key);
				return raw instanceof Promise ? raw.then(write) : write(raw);
			})
			.catch((error: unknown) => {
				this.#events.emit("error", new ParleyClientError("protocol", `could not save the outbox: ${String(error)}`));
			});
	}

	// -----------------------------------------------------------------------------------
	// Connection loop
	// -----------------------------------------------------------------------------------

	/** After a socket that was never welcomed: a refusal over HTTP is terminal; anything else is what backoff is for. */
	async #probe(): Promise<void> {
		try {
			await this.#identity.http((credentials) =>
				fetchEvents(this.#fetch, this.url, this.room, credentials, { limit: 1 }, this.#httpTimeoutMs),
			);
		} catch (error) {
			if (!(error instanceof ParleyClientError) || this.#live.terminal) return;
			const state = refusedState(error.status);
			if (state !== undefined) this.#live.terminate(state, error);
		}
	}

	// -----------------------------------------------------------------------------------
	// Frames
	// -----------------------------------------------------------------------------------

	#onFrame(conn: RoomConnection, frame: AnyServerFrame): void {
		switch (frame.type) {
			case "batch":
				// As if each event, then each answer, had come as its own frame.
				for (const inner of unpackBatch(frame as BatchFrame)) {
					if (conn !== this.#live.current) return;
					if (typeof inner === "object" && inner !== null) this.#onFrame(conn, inner);
				}
				return;
			case "welcome":
				this.#onWelcome(conn, frame);
				return;
			case "message":
			case "retract":
			case "message.edited":
			case "reaction.added":
			case "reaction.removed":
				this.#onEvent(conn, frame);
				return;
			case "typing":
				if (typeof frame.user?.id === "string") this.#events.emit("typing", frame);
				return;
			case "receipt":
				this.#onReceipt(frame);
				return;
			case "synced":
				void this.#onSynced(conn, frame.through);
				return;
			case "ack":
				this.#onAck(frame);
				return;
			case "saga":
				this.#events.emit("saga", frame);
				return;
			case "presence":
				if (isPresenceUpdate(frame)) {
					this.#onPresenceUpdate(frame);
					return;
				}
				if ("joined" in frame) this.#online.set(frame.joined.id, frame.joined);
				else this.#online.delete(frame.left.id);
				this.#onlineCount = this.#online.size;
				this.#events.emit("presence", frame);
				this.#reportOnline();
				return;
			case "error": {
				const { code, message, retryAfterMs, id } = frame;
				this.#onRefusal(new ParleyClientError(code, message, { retryAfterMs, id }));
				return;
			}
			default:
				// New frame types are allowed by the contract; an old client ignores them.
				return;
		}
	}

	#onWelcome(conn: RoomConnection, welcome: WelcomeFrame): void {
		this.#user = welcome.user;
		this.#online.clear();
		for (const user of welcome.online) this.#online.set(user.id, user);
		this.#onlineCount = Math.max(welcome.onlineTotal ?? 0, this.#online.size);
		this.#onlineComplete = this.#onlineCount <= this.#online.size;
		if (!this.#joined) {
			// Joined without `since`: the server replays the latest events, so start just
			// before them instead of treating the whole older history as a gap to fetch.
			if (this.#since === undefined) this.#sequencer.rebase(Math.max(0, welcome.lastSeq - DEFAULT_REPLAY));
			this.#joined = true;
		} else if (welcome.lastSeq < this.#sequencer.lastSeq) {
			this.#events.emit(
				"error",
				new ParleyClientError(
					"history_reset",
					`the room's history ends at seq ${welcome.lastSeq}, but this client already saw ${this.#sequencer.lastSeq}`,
				),
			);
			this.#sequencer.rebase(welcome.lastSeq);
		}
		this.#sequencer.noteHead(welcome.lastSeq);
		this.#limits = limitsFromWelcome(welcome);
		// The room's bucket is per user: other sockets of ours, and opening this one, may have
		// spent part of it. Start half full, at our slower pace; it fills within a second or two.
		this.#pace = { tokens: Math.max(1, Math.floor(pacing(this.#limits).burst / 2)), at: Date.now() };
		this.#outbox.unpause();
		conn.head = welcome.lastSeq;
		this.#live.welcome(conn);
		this.#events.emit("welcome", welcome);
		this.#reportOnline();
		this.#onReadWelcome(welcome);
		this.#flush();
	}

	/** v1.3 read state from a welcome: our marker and unread count, others' markers; resend ours if it was lost. */
	#onReadWelcome(welcome: WelcomeFrame): void {
		this.#readOut.newSocket();
		const read = welcome.read;
		const conn = this.#live.current;
		if (conn !== undefined) conn.chat = read !== undefined;
		if (read !== undefined && Number.isInteger(read.seq)) {
			this.#readOut.confirm(read.seq);
			this.#read.welcome(read, welcome.lastSeq);
			this.#events.emit("read", this.#read.state);
		}
		for (const receipt of Array.isArray(welcome.receipts) ? welcome.receipts : []) {
			this.#onReceipt({ type: "receipt", user: receipt.user, seq: receipt.seq });
		}
		this.#flushRead();
	}

	#onReceipt(receipt: ReceiptFrame): void {
		if (typeof receipt.seq !== "number" || typeof receipt.user?.id !== "string") return;
		if (receipt.user.id === this.#user?.id) {
			// Ours, from this socket or another tab: the server has it.
			this.#readOut.confirm(receipt.seq);
			if (this.#read.advance(receipt.seq)) this.#events.emit("read", this.#read.state);
			return;
		}
		const known = this.#receipts.get(receipt.user.id);
		if (known !== undefined && known.seq >= receipt.seq) return;
		this.#receipts.set(receipt.user.id, { user: receipt.user, seq: receipt.seq });
		this.#events.emit("receipt", receipt);
	}

	/** Writes the read marker if one is due, or looks again when the coalescing window ends. */
	#flushRead(): void {
		clearTimeout(this.#readTimer);
		this.#readTimer = undefined;
		const conn = this.#live.current;
		if (conn === undefined || !conn.welcomed || !conn.chat || conn.socket.readyState !== SOCKET_OPEN) return;
		const now = Date.now();
		const due = this.#readOut.due(now);
		if (due === undefined) return;
		if ("at" in due) {
			this.#readTimer = setTimeout(() => this.#flushRead(), due.at - now);
			return;
		}
		try {
			// Not paced, like typing: one frame per READ_COALESCE_MS at most.
			conn.socket.send(JSON.stringify({ type: "read", seq: due.write }));
		} catch {
			return;
		}
		this.#readOut.wrote(due.write, now);
	}

	/**
	 * A coalesced presence window (v1.2). Listeners still get one `presence` event per user who
	 * came or went, as with v1 frames; in count mode only the count moves.
	 */
	#onPresenceUpdate(frame: PresenceUpdateFrame): void {
		const changes: PresenceFrame[] = [];
		if (frame.mode === "list") {
			if (Array.isArray(frame.members)) {
				const next = new Map(frame.members.map((user) => [user.id, user]));
				for (const [id, user] of this.#online) if (!next.has(id)) changes.push({ type: "presence", left: user });
				for (const [id, user] of next) if (!this.#online.has(id)) changes.push({ type: "presence", joined: user });
				this.#online.clear();
				for (const [id, user] of next) this.#online.set(id, user);
			}
			for (const user of Array.isArray(frame.joined) ? frame.joined : []) {
				if (!this.#online.has(user.id)) changes.push({ type: "presence", joined: user });
				this.#online.set(user.id, user);
			}
			for (const user of Array.isArray(frame.left) ? frame.left : []) {
				if (this.#online.delete(user.id)) changes.push({ type: "presence", left: user });
			}
		}
		this.#onlineCount = typeof frame.count === "number" ? frame.count : this.#online.size;
		this.#onlineComplete = frame.mode === "list";
		for (const change of changes) this.#events.emit("presence", change);
		this.#reportOnline();
	}

	#reportOnline(): void {
		this.#events.emit("online", { count: this.#onlineCount, complete: this.#onlineComplete });
	}

	#onEvent(conn: RoomConnection, event: RoomEvent): void {
		if (typeof event.seq !== "number") return;
		this.#deliver(this.#sequencer.offer(stampReaction(event, conn.head)));
		// Before `synced` a gap is normal (the replay is still coming); after it, a gap means
		// we missed something and must fetch it.
		if (conn.synced && this.#sequencer.gap() !== undefined) void this.#fill(conn);
	}

	async #onSynced(conn: RoomConnection, through: number): Promise<void> {
		this.#sequencer.noteHead(through);
		await this.#fill(conn);
		this.#live.live(conn, () => this.#events.emit("synced", { through: this.#sequencer.lastSeq }));
	}

	/** Pages over HTTP until nothing known is missing; one loop per connection. */
	#fill(conn: RoomConnection): Promise<void> {
		conn.fill ??= this.#fillLoop(conn).finally(() => {
			conn.fill = undefined;
		});
		return conn.fill;
	}

	async #fillLoop(conn: RoomConnection): Promise<void> {
		try {
			for (let gap = this.#sequencer.gap(); gap !== undefined && conn === this.#live.current; gap = this.#sequencer.gap()) {
				const before = this.#sequencer.lastSeq;
				const after = gap.after;
				const page = await this.#identity.http((credentials) =>
					fetchEvents(this.#fetch, this.url, this.room, credentials, { after, limit: PAGE_LIMIT_MAX }, this.#httpTimeoutMs),
				);
				if (conn !== this.#live.current) return;
				this.#deliver(this.#sequencer.offerAll(stampReactions(page.events, page.lastSeq)));
				if (this.#sequencer.lastSeq === before) {
					throw new ParleyClientError("protocol", `the server announced events after seq ${before} but did not return them`);
				}
			}
		} catch (error) {
			if (conn !== this.#live.current) return;
			const failure = error instanceof ParleyClientError ? error : new ParleyClientError("network", String(error));
			this.#events.emit("error", failure);
			// A new socket resumes with since = lastSeq, which retries the catch-up for free.
			this.#live.lost(conn, `history fetch failed: ${failure.message}`);
		}
	}

	#deliver(events: RoomEvent[]): void {
		for (const event of events) {
			switch (event.type) {
				case "message":
					this.#events.emit("message", event);
					break;
				case "retract":
					this.#events.emit("retract", event);
					break;
				case "message.edited":
					this.#events.emit("edit", event);
					break;
				case "reaction.added":
				case "reaction.removed":
					this.#events.emit("reaction", event);
					break;
			}
			if (this.#read.delivered(event, this.#user?.id)) this.#events.emit("read", this.#read.state);
		}
	}

	#onAck(ack: AckFrame): void {
		if (this.#outbox.settle(ack.id) === undefined) return;
		const result: SendResult =
			ack.sagaId === undefined
				? { seq: ack.seq, msgId: ack.msgId, traceId: ack.traceId, duplicate: ack.duplicate }
				: { seq: ack.seq, msgId: ack.msgId, traceId: ack.traceId, duplicate: ack.duplicate, sagaId: ack.sagaId };
		this.#settleWaiters(ack.id, (waiter) => waiter.resolve(result));
		this.#persist();
		this.#events.emit("ack", ack);
		this.#flush();
		this.#reportQueue();
	}

	#onRefusal(error: ParleyClientError): void {
		const entry = error.id === undefined ? undefined : this.#outbox.get(error.id);
		if (entry === undefined || error.id === undefined) {
			// Not about a send of ours (or one already settled): report it and carry on.
			if (error.code === "rate_limited") this.#hold(error.retryAfterMs ?? 1000);
			this.#events.emit("error", error);
			return;
		}
		const kind = refusalKind(error.code);
		if (kind === "permanent" || (error.code === "internal" && entry.writes > MAX_INTERNAL_RETRIES)) {
			this.#reject(error.id, error);
		} else {
			// Not the send's fault: it goes again, in its place in the queue.
			this.#outbox.requeue(error.id);
			if (error.code === "rate_limited") this.#hold(error.retryAfterMs ?? 1000);
			else if (error.code === "internal") this.#hold(1000);
			this.#flush();
			this.#reportQueue();
		}
		if (kind !== "reorder") this.#events.emit("error", error);
	}

	/** Holds every write for `ms` and empties our bucket, as the room's is now empty. */
	#hold(ms: number): void {
		const until = Date.now() + ms;
		this.#outbox.pause(until);
		this.#pace = { tokens: 0, at: until };
	}

	/** Rejects one send for good and drops it from the queue (and storage). */
	#reject(id: string, error: ParleyClientError): void {
		if (this.#outbox.settle(id) === undefined) return;
		this.#settleWaiters(id, (waiter) => waiter.reject(error));
		this.#persist();
		this.#flush();
		this.#reportQueue();
	}

	/**
	 * The server closed the socket for a frame over its limit. The write-time check makes that
	 * impossible against a server that tells its limits; against one that does not, the largest
	 * frame written is the one, and it must not be resent forever.
	 */
	#dropOversized(): void {
		const written = this.#outbox.entries().filter((entry) => entry.state === "sent");
		const largest = written.reduce<(typeof written)[number] | undefined>(
			(max, entry) => (max === undefined || frameBytes(entry.frame) > frameBytes(max.frame) ? entry : max),
			undefined,
		);
		if (largest === undefined) return;
		const bytes = frameBytes(largest.frame);
		this.#limits = { ...this.#limits, maxFrameBytes: Math.min(this.#limits.maxFrameBytes, bytes - 1) };
		const error = new ParleyClientError("too_large", `the server refused a ${bytes}-byte frame as too large`, { id: largest.frame.id });
		this.#reject(largest.frame.id, error);
		this.#events.emit("error", error);
	}

	#settleWaiters(id: string, settle: (waiter: Deferred<SendResult>) => void): void {
		const waiters = this.#waiters.get(id);
		this.#waiters.delete(id);
		for (const waiter of waiters ?? []) settle(waiter);
	}

	#reportQueue(): void {
		this.#events.emit("queue", {
			size: this.#outbox.size,
			inFlight: this.#outbox.inFlight,
			heldUntil: this.#outbox.size > this.#outbox.inFlight ? this.#heldUntil : 0,
		});
	}

	/** Writes whatever the outbox, the in-flight window and the pace allow, if there is a welcomed socket. */
	#flush(): void {
		const conn = this.#live.current;
		if (conn === undefined || !conn.welcomed || conn.socket.readyState !== SOCKET_OPEN) return;
		const now = Date.now();
		clearTimeout(this.#flushTimer);
		this.#flushTimer = undefined;
		this.#heldUntil = 0;
		if (now < this.#outbox.pausedUntil) {
			this.#later(this.#outbox.pausedUntil - now);
			return;
		}
		const wanted = this.#outbox.writable(this.#maxInFlight);
		if (wanted === 0) return;
		const pace = pacing(this.#limits);
		let budget = wanted;
		if (pace.ratePerSec > 0) {
			const take = takeUpTo(this.#pace, wanted, pace.ratePerSec, pace.burst, now);
			this.#pace = take.bucket;
			budget = take.granted;
			if (take.granted < wanted) this.#later(take.retryAfterMs);
		}
		for (const frame of this.#outbox.takeQueued(now, this.#maxInFlight, budget)) {
			// Limits may have shrunk since the send was queued (a new welcome): never write a
			// frame the server would answer by closing the socket.
			const refused = checkOutgoing(frame, this.#limits);
			if (refused !== undefined) {
				this.#reject(frame.id, refused);
				continue;
			}
			try {
				conn.socket.send(JSON.stringify(frame));
			} catch {
				// The socket died under us; its close handler requeues everything.
				return;
			}
		}
	}

	/** Flushes again in `ms`, for the pace or a hold; the queue reports writes held until then. */
	#later(ms: number): void {
		this.#heldUntil = Date.now() + ms;
		this.#flushTimer = setTimeout(() => this.#flush(), ms);
	}
}

/**
 * Messages of a replay or page that carry reaction counts, marked with the head they were counted
 * at (see `ChatMessage.reactionsAt`); other events as they are.
 */
function stampReactions(events: RoomEvent[], head: number): RoomEvent[] {
	return events.map((event) => stampReaction(event, head));
}

function stampReaction(event: RoomEvent, head: number): RoomEvent {
	if (event.type !== "message" || !Array.isArray(event.reactions)) return event;
	const message: ChatMessage = { ...event, reactionsAt: Math.max(head, event.seq) };
	return message;
}
