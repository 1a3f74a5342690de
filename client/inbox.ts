/**
 * @module
 * The Parley inbox client (v1.4): one user's view across rooms, kept up to date over the inbox
 * socket (`GET /v1/me/ws`), so an app can badge rooms it is not connected to.
 *
 * It follows the room client's rules (client/index.ts, docs/client.md): the token provider is
 * asked on every connect and HTTP call (and once more after a 401); a socket closed with 4001
 * (token expired) is reopened at once with a fresh token; a dead network is noticed by the
 * heartbeat and reconnected with exponential backoff and full jitter; refused credentials (401),
 * access (403) or requests (400), and a server without an inbox (404, before v1.4), stop the loop.
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
import { isRoomId, TOKEN_EXPIRED_CLOSE } from "../src/protocol.ts";
import { Backoff, DEFAULT_BACKOFF } from "./backoff.ts";
import type { BackoffOptions } from "./backoff.ts";
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
import { SOCKET_OPEN, globalSocketFactory } from "./socket.ts";
import type { SocketFactory, SocketLike } from "./socket.ts";

/** Hands out a current token; called on every connect and HTTP call (and once more on a 401). */
export type InboxTokenProvider = () => string | Promise<string>;

/**
 * Where the inbox connection is: the room client's states (see `ConnectionState` there):
 * `idle`, `connecting` (reading the page, opening a socket), `syncing` (welcomed, replaying),
 * `live`, `reconnecting`, `offline` (`suspend()`), and the terminal `closed`, `unauthorized`,
 * `forbidden`, `rejected`.
 */
export type InboxConnectionState =
	| "idle"
	| "connecting"
	| "syncing"
	| "live"
	| "reconnecting"
	| "offline"
	| "closed"
	| "unauthorized"
	| "forbidden"
	| "rejected";

const TERMINAL: ReadonlySet<InboxConnectionState> = new Set(["closed", "unauthorized", "forbidden", "rejected"]);

export interface InboxStatusEvent {
	state: InboxConnectionState;
	/** `connecting` / `reconnecting`: consecutive failed attempts so far. */
	attempt?: number;
	/** `reconnecting`: how long until the next attempt. */
	delayMs?: number;
	/** Why the previous socket ended, or why the state is terminal. */
	reason?: string;
}

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

export interface InboxClientOptions {
	/** The server's origin (and optional path prefix), e.g. `https://chat.example.com`. */
	url: string;
	/** A signed token, or a function that returns a current one. Give exactly one of `token` and `guest`. */
	token?: string | InboxTokenProvider;
	/** A guest name, when the server allows guests. */
	guest?: string;
	/** Reconnect schedule; default `{ minMs: 500, maxMs: 30000, factor: 2 }`. */
	backoff?: Partial<BackoffOptions>;
	/** How often to send `ping` on an open socket. Default 20000 ms. */
	heartbeatIntervalMs?: number;
	/** How long after a ping without any frame back the socket is declared dead. Default 10000 ms. */
	heartbeatTimeoutMs?: number;
	/** How long a new socket may take to be welcomed. Default 15000 ms. */
	connectTimeoutMs?: number;
	/** Timeout of each HTTP request. Default 15000 ms. */
	httpTimeoutMs?: number;
	createSocket?: SocketFactory;
	fetch?: FetchLike;
	/** Source of randomness for the backoff jitter (tests pin it). */
	random?: () => number;
}

interface Deferred {
	resolve(): void;
	reject(error: unknown): void;
}

type Timer = ReturnType<typeof setTimeout>;

interface Connection {
	readonly socket: SocketLike;
	welcomed: boolean;
	synced: boolean;
	connectTimer: Timer | undefined;
	heartbeatTimer: ReturnType<typeof setInterval> | undefined;
	pongTimer: Timer | undefined;
}

/** Close code for sockets the client abandons. App range, as the room client's. */
const ABANDON_CODE = 4000;

type Auth = { token: InboxTokenProvider } | { guest: string };

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
	readonly #auth: Auth;
	readonly #events = new Emitter<InboxClientEvents>();
	readonly #backoff: Backoff;
	readonly #createSocket: SocketFactory;
	readonly #fetch: FetchLike;
	readonly #heartbeatIntervalMs: number;
	readonly #heartbeatTimeoutMs: number;
	readonly #connectTimeoutMs: number;
	readonly #httpTimeoutMs: number;
	#state: InboxConnectionState = "idle";
	#inbox: InboxState = emptyInbox();
	#conn: Connection | undefined;
	#attemptSeq = 0;
	#reconnectTimer: Timer | undefined;
	#connectWaiters: Deferred[] = [];
	#loadingOlder: Promise<number> | undefined;

	constructor(options: InboxClientOptions) {
		if ((options.token === undefined) === (options.guest === undefined)) {
			throw new TypeError("give exactly one of `token` and `guest`");
		}
		this.url = new URL(options.url).toString();
		const token = options.token;
		this.#auth = token === undefined ? { guest: options.guest ?? "" } : { token: typeof token === "string" ? () => token : token };
		this.#backoff = new Backoff({ ...DEFAULT_BACKOFF, ...options.backoff }, options.random);
		this.#createSocket = options.createSocket ?? globalSocketFactory();
		this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
		this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? 20_000;
		this.#heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 10_000;
		this.#connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
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
		return this.#state;
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
		if (TERMINAL.has(this.#state)) return Promise.reject(this.#terminalError());
		if (this.#state === "live") return Promise.resolve();
		const promise = new Promise<void>((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
		if (this.#state === "idle") this.#open();
		return promise;
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
		const page = await this.#http((credentials) =>
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
		if (TERMINAL.has(this.#state) || this.#state === "offline") return;
		this.#clearReconnect();
		this.#abandon("suspended");
		this.#setStatus({ state: "offline", reason: "suspended" });
	}

	resume(): void {
		if (this.#state !== "offline") return;
		this.#backoff.reset();
		this.#open();
	}

	/** Skips the current backoff wait (no-op unless `reconnecting`). */
	reconnectNow(): void {
		if (this.#state !== "reconnecting") return;
		this.#clearReconnect();
		this.#open();
	}

	close(): void {
		this.#terminate("closed", new ParleyClientError("closed", "the inbox client was closed"));
	}

	// -----------------------------------------------------------------------------------
	// HTTP
	// -----------------------------------------------------------------------------------

	async #credentials(): Promise<Credentials> {
		if ("guest" in this.#auth) return { guest: this.#auth.guest };
		const token = await this.#auth.token();
		if (typeof token !== "string" || token === "") throw new ParleyClientError("unauthorized", "the token provider returned no token");
		return { token };
	}

	async #http<T>(call: (credentials: Credentials) => Promise<T>): Promise<T> {
		try {
			return await call(await this.#credentials());
		} catch (error) {
			if (!(error instanceof ParleyClientError && error.status === 401 && "token" in this.#auth)) throw error;
			return await call(await this.#credentials());
		}
	}

	async #post<T>(rest: string, method: "POST" | "DELETE", body?: unknown): Promise<T> {
		if (TERMINAL.has(this.#state)) throw this.#terminalError();
		return await this.#http((credentials) =>
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
		const page = await this.#http((credentials) =>
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
	// Connection loop
	// -----------------------------------------------------------------------------------

	#open(): void {
		this.#clearReconnect();
		this.#setStatus({ state: "connecting", attempt: this.#backoff.attempt });
		const attempt = ++this.#attemptSeq;
		const current = (): boolean => attempt === this.#attemptSeq && this.#state === "connecting";
		// The page first: counts are not replayed, and its seq is where the socket resumes.
		this.#readPage()
			.then(async (page) => {
				if (!current()) return;
				this.#adoptPage(page);
				const credentials = await this.#credentials();
				if (current()) this.#openSocket(credentials);
			})
			.catch((error: unknown) => {
				if (!current()) return;
				const failure =
					error instanceof ParleyClientError
						? error
						: new ParleyClientError("network", `could not read the inbox: ${String(error)}`);
				if (failure.status === 401) this.#terminate("unauthorized", failure);
				else if (failure.status === 403) this.#terminate("forbidden", failure);
				else if (failure.status === 400) this.#terminate("rejected", failure);
				// A server from before v1.4 has no inbox: asking again will not make one.
				else if (failure.status === 404) this.#terminate("rejected", failure);
				else {
					this.#events.emit("error", failure);
					this.#scheduleReconnect(`inbox read failed: ${failure.message}`);
				}
			});
	}

	#openSocket(credentials: Credentials): void {
		let socket: SocketLike;
		try {
			socket = this.#createSocket(inboxSocketUrl(this.url, credentials, this.#inbox.view.seq));
		} catch (error) {
			this.#events.emit("error", new ParleyClientError("network", `could not open a socket: ${String(error)}`));
			this.#scheduleReconnect("socket constructor threw");
			return;
		}
		const conn: Connection = {
			socket,
			welcomed: false,
			synced: false,
			connectTimer: undefined,
			heartbeatTimer: undefined,
			pongTimer: undefined,
		};
		this.#conn = conn;
		conn.connectTimer = setTimeout(() => this.#lost(conn, "no welcome in time"), this.#connectTimeoutMs);
		socket.addEventListener("open", () => {
			if (conn === this.#conn) this.#startHeartbeat(conn);
		});
		socket.addEventListener("message", (event) => {
			if (conn === this.#conn) this.#onData(conn, event.data);
		});
		socket.addEventListener("close", (event) => {
			if (conn !== this.#conn) return;
			const reason = `socket closed (${event.code}${event.reason === "" ? "" : ` ${event.reason}`})`;
			if (event.code === TOKEN_EXPIRED_CLOSE) {
				// Not a failure: the token ran out. Reconnect at once with a fresh one.
				this.#abandon(reason);
				if (!TERMINAL.has(this.#state) && this.#state !== "offline") this.#open();
				return;
			}
			this.#lost(conn, reason);
		});
		socket.addEventListener("error", () => {
			if (conn === this.#conn) this.#lost(conn, "socket error");
		});
	}

	#startHeartbeat(conn: Connection): void {
		conn.heartbeatTimer = setInterval(() => {
			if (conn !== this.#conn) return;
			try {
				conn.socket.send("ping");
			} catch {
				// Dead; the close event follows.
			}
			conn.pongTimer ??= setTimeout(() => this.#lost(conn, "heartbeat timeout"), this.#heartbeatTimeoutMs);
		}, this.#heartbeatIntervalMs);
	}

	#abandon(reason: string): void {
		const conn = this.#conn;
		if (conn === undefined) return;
		this.#conn = undefined;
		clearTimeout(conn.connectTimer);
		clearInterval(conn.heartbeatTimer);
		clearTimeout(conn.pongTimer);
		if (conn.socket.readyState <= SOCKET_OPEN) {
			try {
				conn.socket.close(ABANDON_CODE, reason.slice(0, 100));
			} catch {
				// Already closing.
			}
		}
	}

	#lost(conn: Connection, reason: string): void {
		if (conn !== this.#conn) return;
		this.#abandon(reason);
		if (TERMINAL.has(this.#state) || this.#state === "offline") return;
		// The next attempt reads the page first, which tells a refused token (401) from a blip.
		this.#scheduleReconnect(reason);
	}

	#scheduleReconnect(reason: string): void {
		this.#clearReconnect();
		const step = this.#backoff.next();
		this.#setStatus({ state: "reconnecting", attempt: step.attempt + 1, delayMs: step.delayMs, reason });
		this.#reconnectTimer = setTimeout(() => {
			this.#reconnectTimer = undefined;
			if (this.#state === "reconnecting") this.#open();
		}, step.delayMs);
	}

	#clearReconnect(): void {
		clearTimeout(this.#reconnectTimer);
		this.#reconnectTimer = undefined;
	}

	#terminate(state: InboxConnectionState, error: ParleyClientError): void {
		if (TERMINAL.has(this.#state)) return;
		this.#clearReconnect();
		this.#abandon(state);
		this.#attemptSeq++;
		this.#state = state;
		const waiters = this.#connectWaiters;
		this.#connectWaiters = [];
		for (const waiter of waiters) waiter.reject(error);
		if (state !== "closed") this.#events.emit("error", error);
		this.#events.emit("status", { state, reason: error.message });
	}

	#terminalError(): ParleyClientError {
		switch (this.#state) {
			case "unauthorized":
				return new ParleyClientError("unauthorized", "the credentials were refused", { status: 401 });
			case "forbidden":
				return new ParleyClientError("forbidden", "access to the inbox was refused", { status: 403 });
			case "rejected":
				return new ParleyClientError("bad_request", "the server refused the connection request", { status: 400 });
			default:
				return new ParleyClientError("closed", "the inbox client was closed");
		}
	}

	#setStatus(status: InboxStatusEvent): void {
		if (status.state === this.#state && status.state !== "reconnecting") return;
		this.#state = status.state;
		this.#events.emit("status", status);
	}

	// -----------------------------------------------------------------------------------
	// Frames
	// -----------------------------------------------------------------------------------

	#onData(conn: Connection, data: unknown): void {
		clearTimeout(conn.pongTimer);
		conn.pongTimer = undefined;
		if (typeof data !== "string" || data === "pong") return;
		let frame: InboxServerFrame;
		try {
			frame = JSON.parse(data) as InboxServerFrame;
		} catch {
			this.#events.emit("error", new ParleyClientError("protocol", "the server sent a frame that is not JSON"));
			return;
		}
		if (typeof frame !== "object" || frame === null) return;
		this.#onFrame(conn, frame);
	}

	#onFrame(conn: Connection, frame: InboxServerFrame): void {
		switch (frame.type) {
			case "inbox.welcome":
				clearTimeout(conn.connectTimer);
				conn.connectTimer = undefined;
				conn.welcomed = true;
				this.#setStatus({ state: "syncing" });
				this.#events.emit("welcome", frame);
				return;
			case "inbox.synced":
				if (conn.synced) return;
				conn.synced = true;
				this.#backoff.reset();
				this.#setStatus({ state: "live" });
				this.#events.emit("synced", { through: this.#inbox.view.seq });
				for (const waiter of this.#connectWaiters.splice(0)) waiter.resolve();
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
