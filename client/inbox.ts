/**
 * @module
 * The Parley inbox client (v1.4): one user's view across rooms, kept up to date over the inbox
 * socket (`GET /v1/me/ws`), so an app can badge rooms it is not connected to.
 *
 * It shares the room client's connection loop (client/live-socket.ts) and rules (docs/client.md):
 * the token provider is asked on every connect and HTTP call (and once more after a 401); a
 * socket closed with 4001 (token expired) is reopened at once with a fresh token; a dead network
 * is noticed by the heartbeat and reconnected with exponential backoff and full jitter; refused
 * credentials (401), access (403) or requests (400), and a server without an inbox (404, before
 * v1.4), stop the loop.
 *
 * Counts are not replayed on the socket, so every connect (the first and each reconnect) reads
 * `GET /v1/me/inbox` first and opens the socket with `since` = that page's seq. Durable frames
 * are then applied by key, last change wins (client/inbox-state.ts), so a frame repeated after
 * a resume, or one that arrives late, never doubles or undoes anything.
 *
 * @example
 * ```ts
 * import { InboxClient } from "@parley/client";
 *
 * const inbox = new InboxClient({ url: location.origin, token: () => currentToken() });
 * inbox.on("inbox", (view) => {
 *   document.title = titleText(view.unreadTotal);
 *   renderRooms(view.rooms);
 * });
 * inbox.on("mention", (m) => notify(`${m.author.name} mentioned you in #${m.room}`));
 * await inbox.connect();
 * const dm = await inbox.openDm("bob");
 * openRoom(dm.room);
 * ```
 */
import type {
	DmResult,
	InboxChangeFrame,
	InboxPage,
	InboxRoom,
	InboxServerFrame,
	InboxWelcomeFrame,
	JoinResult,
	Mention,
	MentionsPage,
	UnreadFrame,
} from "../src/inbox-protocol.ts";
import { MENTIONS_PAGE_MAX } from "../src/inbox-protocol.ts";
import type { UserRef } from "../src/protocol.ts";
import { isRoomId } from "../src/protocol.ts";
import { Emitter } from "./emitter.ts";
import type { Listener } from "./emitter.ts";
import { ParleyClientError } from "./errors.ts";
import { authHeaders, requestJson } from "./http.ts";
import type { Credentials, FetchLike } from "./http.ts";
import {
	addLocalRoom,
	addOlderMentions,
	applyFrame,
	applyLocalRead,
	emptyInbox,
	fromPage,
	removeLocalRoom,
	type InboxState,
	type InboxView,
} from "./inbox-state.ts";
import { Identity, type TokenProvider } from "./identity.ts";
import {
	type Connection,
	type ConnectionState,
	LiveSocket,
	type LiveSocketOptions,
	refusedState,
	type StatusEvent,
} from "./live-socket.ts";

/** Hands out a current token; called on every connect and HTTP call (and once more on a 401). */
export type InboxTokenProvider = TokenProvider;

/**
 * Where the inbox connection is: the room client's states (see `ConnectionState` there):
 * `idle`, `connecting` (reading the page, opening a socket), `syncing` (welcomed, replaying),
 * `live`, `reconnecting`, `offline` (`suspend()`), and the terminal `closed`, `unauthorized`,
 * `forbidden`, `rejected`.
 */
export type InboxConnectionState = ConnectionState;

/** The room client's status event: `attempt` and `delayMs` while reconnecting, `reason` why. */
export type InboxStatusEvent = StatusEvent;

/** A room entered or left the inbox. */
export type InboxRoomEvent = { type: "joined"; room: InboxRoom } | { type: "left"; room: string };

/** Everything `on()` can listen to. */
export interface InboxClientEvents {
	/** The whole view, after every change (a page read, a frame applied, a local change). */
	inbox: InboxView;
	/** A mention arrived (`added`) or changed (its message was edited). */
	mention: Mention & { added: boolean };
	/** A mention is gone (its message was deleted, moderated or edited); `known` if it was listed. */
	mentionRemoved: { room: string; msgId: string; known: boolean };
	/** A room entered or left the inbox. */
	room: InboxRoomEvent;
	/** A room's counts changed; `held` when the room is not listed yet (its join is on its way). */
	unread: UnreadFrame & { held: boolean };
	/** The inbox socket was accepted. */
	welcome: InboxWelcomeFrame;
	/** Caught up: the counts are the page's, every change up to `through` is applied. */
	synced: { through: number };
	/** A refusal or a failure worth showing; the client keeps going unless its state is terminal. */
	error: ParleyClientError;
	status: InboxStatusEvent;
}

/** Also the connection loop's options (`LiveSocketOptions`): backoff, heartbeat, connect timeout, `createSocket`, `random`. */
export interface InboxClientOptions extends LiveSocketOptions {
	/** The server's origin (and optional path prefix), e.g. `https://chat.example.com`. */
	url: string;
	/** A signed token, or a function that returns a current one. Give exactly one of `token` and `guest`. */
	token?: string | InboxTokenProvider;
	/** A guest name, when the server allows guests. */
	guest?: string;
	/** Timeout of each HTTP request. Default 15000 ms. */
	httpTimeoutMs?: number;
	/** Makes HTTP requests; default: the global `fetch`. */
	fetch?: FetchLike;
}

/** `<base>/v1/<rest>` with the query, and `?guest=` for a guest. */
export function inboxApiUrl(
	baseUrl: string,
	rest: string,
	params: Record<string, string | number | undefined>,
	credentials: Credentials,
): string {
	const url = new URL(baseUrl);
	url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/${rest}`;
	url.search = "";
	url.hash = "";
	for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, String(value));
	if ("guest" in credentials) url.searchParams.set("guest", credentials.guest);
	return url.toString();
}

/** The inbox socket's URL: the token in the query string, as for room sockets (browsers cannot set headers on a WebSocket). */
export function inboxSocketUrl(baseUrl: string, credentials: Credentials, since: number): string {
	const url = new URL(inboxApiUrl(baseUrl, "me/ws", { since }, credentials));
	url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
	if ("token" in credentials) url.searchParams.set("token", credentials.token);
	return url.toString();
}

/**
 * A user's inbox: rooms with unread and mention counts, mentions, DMs. Create it, add listeners,
 * then `connect()`.
 */
export class InboxClient {
	readonly url: string;
	readonly #identity: Identity;
	readonly #events = new Emitter<InboxClientEvents>();
	readonly #live: LiveSocket<Connection>;
	readonly #fetch: FetchLike;
	readonly #httpTimeoutMs: number;
	#inbox: InboxState = emptyInbox();
	#loadingOlder: Promise<number> | undefined;

	constructor(options: InboxClientOptions) {
		if ((options.token === undefined) === (options.guest === undefined)) {
			throw new TypeError("give exactly one of `token` and `guest`");
		}
		this.url = new URL(options.url).toString();
		this.#identity = new Identity(options.token, options.guest);
		this.#live = new LiveSocket<Connection>(options, {
			messages: { forbidden: "access to the inbox was refused", closed: "the inbox client was closed" },
			// The page first: counts are not replayed, and its seq is where the socket resumes.
			prepare: (current) =>
				this.#readPage().then(async (page) => {
					if (!current()) return undefined;
					this.#adoptPage(page);
					return await this.#identity.credentials();
				}),
			prepareFailed: (error) => {
				const failure =
					error instanceof ParleyClientError
						? error
						: new ParleyClientError("network", `could not read the inbox: ${String(error)}`);
				// A server from before v1.4 has no inbox (404): asking again will not make one.
				const terminal = refusedState(failure.status) ?? (failure.status === 404 ? "rejected" : undefined);
				return { error: failure, reason: `inbox read failed: ${failure.message}`, terminal };
			},
			socketUrl: (credentials) => inboxSocketUrl(this.url, credentials, this.#inbox.view.seq),
			newConnection: (socket) => ({ socket, welcomed: false, synced: false }),
			onFrame: (conn, frame) => this.#onFrame(conn, frame as InboxServerFrame),
			// No probe after a lost socket, unlike the room client: the next attempt reads the page
			// first, which tells a refused token (401) from a blip.
			onStatus: (status) => this.#events.emit("status", status),
			onError: (error) => this.#events.emit("error", error),
		});
		this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
		this.#httpTimeoutMs = options.httpTimeoutMs ?? 15_000;
	}

	// -----------------------------------------------------------------------------------
	// Public API
	// -----------------------------------------------------------------------------------

	on<K extends keyof InboxClientEvents>(type: K, listener: Listener<InboxClientEvents[K]>): () => void {
		return this.#events.on(type, listener);
	}

	off<K extends keyof InboxClientEvents>(type: K, listener: Listener<InboxClientEvents[K]>): void {
		this.#events.off(type, listener);
	}

	/** The connection state (also reported by `status`). */
	get state(): InboxConnectionState {
		return this.#live.state;
	}

	/** The current view: rooms (server order), totals, mentions (newest first). Empty until the first page. */
	get inbox(): InboxView {
		return this.#inbox.view;
	}

	/** Whose inbox it is, once known. */
	get user(): UserRef | undefined {
		return this.#inbox.view.user;
	}

	/** Starts the loop (if not started); resolves once live. Rejects on refused credentials or `close()`. */
	connect(): Promise<void> {
		return this.#live.connect();
	}

	/**
	 * Loads the next older page of mentions (`GET /v1/me/mentions?before=`) into `inbox.mentions`.
	 * Resolves with how many were added (0 when there are no older ones). One load at a time.
	 */
	loadOlderMentions(limit?: number): Promise<number> {
		this.#loadingOlder ??= this.#loadOlder(limit).finally(() => {
			this.#loadingOlder = undefined;
		});
		return this.#loadingOlder;
	}

	async #loadOlder(limit: number | undefined): Promise<number> {
		const before = this.#inbox.view.before;
		if (before === undefined) return 0;
		if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= MENTIONS_PAGE_MAX)) {
			throw new TypeError(`\`limit\` must be a whole number in 1..${MENTIONS_PAGE_MAX}`);
		}
		const page = await this.#identity.http((credentials) =>
			requestJson<MentionsPage>(
				this.#fetch,
				inboxApiUrl(this.url, "me/mentions", { before, limit }, credentials),
				{ headers: authHeaders(credentials) },
				this.#httpTimeoutMs,
			),
		);
		// A reconnect read a fresh page meanwhile: this older page belongs to the old one.
		if (this.#inbox.view.before !== before) return 0;
		const count = this.#inbox.view.mentions.length;
		this.#set(addOlderMentions(this.#inbox, { mentions: Array.isArray(page.mentions) ? page.mentions : [], before: page.before }));
		return this.#inbox.view.mentions.length - count;
	}

	/** Joins a room (`POST /v1/rooms/{room}/join`); it is listed at once, its counts follow. */
	async joinRoom(room: string): Promise<JoinResult> {
		if (!isRoomId(room)) throw new ParleyClientError("bad_request", `not a room id: ${JSON.stringify(room)}`);
		const result = await this.#post<JoinResult>(`rooms/${encodeURIComponent(room)}/join`, "POST");
		if (result.joined) this.#set(addLocalRoom(this.#inbox, room, { joinedAt: Date.now() }));
		return result;
	}

	/** Leaves a room (`DELETE /v1/rooms/{room}/join`); it leaves the list at once, with its mentions. */
	async leaveRoom(room: string): Promise<JoinResult> {
		if (!isRoomId(room)) throw new ParleyClientError("bad_request", `not a room id: ${JSON.stringify(room)}`);
		const result = await this.#post<JoinResult>(`rooms/${encodeURIComponent(room)}/join`, "DELETE");
		if (!result.joined) this.#set(removeLocalRoom(this.#inbox, room));
		return result;
	}

	/**
	 * The direct-message room with `userId` (`POST /v1/dms`), created if need be (idempotent:
	 * `created` is false when it existed). Listed at once; connect a `ParleyClient` to
	 * `result.room` to talk there, as in any room.
	 */
	async openDm(userId: string): Promise<DmResult> {
		if (typeof userId !== "string" || userId.trim() === "") throw new ParleyClientError("bad_request", "a DM needs a user id");
		const result = await this.#post<DmResult>("dms", "POST", { with: userId.trim() });
		this.#set(addLocalRoom(this.#inbox, result.room, { with: result.with, joinedAt: Date.now() }));
		return result;
	}

	/**
	 * Tells the inbox what the room client knows of the reader in `room` (its `readState`), so
	 * the badge of the room being read drops at once rather than when the server's count comes.
	 */
	noteRead(room: string, read: { seq: number; unread: number }): void {
		this.#set(applyLocalRead(this.#inbox, room, read));
	}

	/** Re-reads the page now (e.g. after the app was asleep); the socket goes on. */
	async refresh(): Promise<void> {
		const page = await this.#readPage();
		this.#adoptPage(page);
	}

	/** Drops the socket and stops reconnecting (e.g. the browser went offline); `resume()` reconnects. */
	suspend(): void {
		this.#live.suspend();
	}

	resume(): void {
		this.#live.resume();
	}

	/** Skips the current backoff wait (no-op unless `reconnecting`). */
	reconnectNow(): void {
		this.#live.reconnectNow();
	}

	close(): void {
		this.#live.close();
	}

	// -----------------------------------------------------------------------------------
	// HTTP
	// -----------------------------------------------------------------------------------

	async #post<T>(rest: string, method: "POST" | "DELETE", body?: unknown): Promise<T> {
		if (this.#live.terminal) throw this.#live.terminalError();
		return await this.#identity.http((credentials) =>
			requestJson<T>(
				this.#fetch,
				inboxApiUrl(this.url, rest, {}, credentials),
				{
					method,
					headers:
						body === undefined ? authHeaders(credentials) : { ...authHeaders(credentials), "content-type": "application/json" },
					body: body === undefined ? undefined : JSON.stringify(body),
				},
				this.#httpTimeoutMs,
			),
		);
	}

	async #readPage(): Promise<InboxPage> {
		const page = await this.#identity.http((credentials) =>
			requestJson<InboxPage>(
				this.#fetch,
				inboxApiUrl(this.url, "me/inbox", {}, credentials),
				{ headers: authHeaders(credentials) },
				this.#httpTimeoutMs,
			),
		);
		if (typeof page !== "object" || page === null || !Number.isInteger(page.seq) || !Array.isArray(page.rooms)) {
			throw new ParleyClientError("protocol", "the server sent an inbox page this client does not understand");
		}
		return { ...page, mentions: Array.isArray(page.mentions) ? page.mentions : [] };
	}

	#adoptPage(page: InboxPage): void {
		this.#set(fromPage(page));
	}

	#set(next: InboxState): void {
		if (next === this.#inbox) return;
		this.#inbox = next;
		this.#events.emit("inbox", next.view);
	}

	// -----------------------------------------------------------------------------------
	// Frames
	// -----------------------------------------------------------------------------------

	#onFrame(conn: Connection, frame: InboxServerFrame): void {
		switch (frame.type) {
			case "inbox.welcome":
				this.#live.welcome(conn);
				this.#events.emit("welcome", frame);
				return;
			case "inbox.synced":
				this.#live.live(conn, () => this.#events.emit("synced", { through: this.#inbox.view.seq }));
				return;
			case "error":
				this.#events.emit("error", new ParleyClientError(frame.code as ParleyClientError["code"], frame.message));
				return;
			case "mention":
			case "mention.removed":
			case "room.joined":
			case "room.left":
			case "unread":
				this.#apply(frame);
				return;
			default:
				// New frame types are allowed by the contract; an old client ignores them.
				return;
		}
	}

	#apply(frame: InboxChangeFrame | UnreadFrame): void {
		const { state, change } = applyFrame(this.#inbox, frame);
		if (change === undefined) return;
		this.#set(state);
		switch (change.kind) {
			case "mention":
				this.#events.emit("mention", { ...change.mention, added: change.added });
				return;
			case "mentionRemoved":
				this.#events.emit("mentionRemoved", { room: change.room, msgId: change.msgId, known: change.known });
				return;
			case "roomJoined":
				this.#events.emit("room", { type: "joined", room: change.room });
				return;
			case "roomLeft":
				this.#events.emit("room", { type: "left", room: change.room });
				return;
			case "unread":
				this.#events.emit("unread", { ...change.frame, held: change.held });
				return;
		}
	}
}
