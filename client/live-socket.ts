/**
 * @module
 * One logical connection over any number of sockets: the loop the room client (client/index.ts)
 * and the inbox client (client/inbox.ts) share, so both keep the promises of docs/client.md in
 * one place.
 *
 * It asks its owner for credentials on every connect, declares a socket dead when it is not
 * welcomed in time or stops answering the heartbeat, reconnects with exponential backoff and full
 * jitter, reopens at once after 4001 (token expired), and stops for good on refused credentials
 * (401), access (403) or requests (400). What a socket is for (its URL, its frames, when it is
 * welcomed and caught up) belongs to the owner, which is told and asked through hooks.
 */
import { TOKEN_EXPIRED_CLOSE } from "../src/protocol.ts";
import { Backoff, DEFAULT_BACKOFF } from "./backoff.ts";
import type { BackoffOptions } from "./backoff.ts";
import { ParleyClientError } from "./errors.ts";
import type { Credentials } from "./http.ts";
import { SOCKET_OPEN, globalSocketFactory } from "./socket.ts";
import type { SocketFactory, SocketLike } from "./socket.ts";

/**
 * Where the connection is:
 * - `idle`: created, `connect()` not called yet;
 * - `connecting`: a socket is being opened (until `welcome`);
 * - `syncing`: welcomed, catching up on missed events (replay, then HTTP pages);
 * - `live`: caught up; events arrive as they happen;
 * - `reconnecting`: the socket is gone; waiting `delayMs` before the next attempt;
 * - `offline`: suspended by the app (`suspend()`), sends queue until `resume()`;
 * - `closed`: `close()` was called;
 * - `unauthorized` / `forbidden` / `rejected`: the server refused the credentials (401), the
 *   room (403) or the request (400); terminal, nothing is retried.
 */
export type ConnectionState =
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

/** The states nothing leaves: no socket is opened again. */
export type TerminalState = "closed" | "unauthorized" | "forbidden" | "rejected";

const TERMINAL: ReadonlySet<ConnectionState> = new Set<TerminalState>(["closed", "unauthorized", "forbidden", "rejected"]);

export interface StatusEvent {
	state: ConnectionState;
	/** `connecting` / `reconnecting`: consecutive failed attempts so far (0 on a fresh start). */
	attempt?: number;
	/** `reconnecting`: how long until the next attempt. */
	delayMs?: number;
	/** Why the previous socket ended, or why the state is terminal. */
	reason?: string;
}

/** The terminal state an HTTP refusal means (401, 403, 400); undefined for what backoff is for. */
export function refusedState(status: number | undefined): TerminalState | undefined {
	if (status === 401) return "unauthorized";
	if (status === 403) return "forbidden";
	if (status === 400) return "rejected";
	return undefined;
}

/** One socket and how far it got; replaced wholesale on every reconnect. Owners extend it. */
export interface Connection {
	readonly socket: SocketLike;
	welcomed: boolean;
	synced: boolean;
}

/** The timing options both clients take, under the same names. */
export interface LiveSocketOptions {
	/** Reconnect schedule; default `{ minMs: 500, maxMs: 30000, factor: 2 }`. */
	backoff?: Partial<BackoffOptions>;
	/** How often to send `ping` on an open socket. Default 20000 ms. */
	heartbeatIntervalMs?: number;
	/** How long after a ping without any frame back the socket is declared dead. Default 10000 ms. */
	heartbeatTimeoutMs?: number;
	/** How long a new socket may take to be welcomed. Default 15000 ms. */
	connectTimeoutMs?: number;
	/** Opens sockets; default: the global `WebSocket`. */
	createSocket?: SocketFactory;
	/** Source of randomness for the backoff jitter (tests pin it). */
	random?: () => number;
}

/** Why an attempt failed before its socket: reported as `error`, then retried or terminal. */
export interface PrepareFailure {
	error: ParleyClientError;
	/** The `reason` of the `reconnecting` status. */
	reason: string;
	/** Set when retrying cannot help. */
	terminal?: TerminalState;
}

/** What differs between the owners. */
export interface LiveSocketHooks<C extends Connection> {
	/** The words of the terminal errors that name what is connected to. */
	messages: { forbidden: string; closed: string };
	/**
	 * Everything an attempt needs before its socket, ending with current credentials. Resolves
	 * undefined to give up quietly when `current()` turned false (a newer attempt, a suspend).
	 */
	prepare(current: () => boolean): Promise<Credentials | undefined>;
	prepareFailed(error: unknown): PrepareFailure;
	socketUrl(credentials: Credentials): string;
	newConnection(socket: SocketLike): C;
	/** A parsed frame of the current socket (pings and non-JSON are handled here). */
	onFrame(conn: C, frame: object): void;
	/** The current socket closed with `code`, before anything else is done about it. */
	onClose?(code: number): void;
	/** The current socket was let go of (lost, suspended, replaced, terminated). */
	onAbandon?(): void;
	/** The current socket was lost and a reconnect scheduled. */
	onLost?(conn: C): void;
	/** The state just became terminal; the connect waiters are rejected next. */
	onTerminate?(error: ParleyClientError): void;
	onStatus(status: StatusEvent): void;
	onError(error: ParleyClientError): void;
}

interface Waiter {
	resolve(): void;
	reject(error: unknown): void;
}

type Timer = ReturnType<typeof setTimeout>;

/** Close code for sockets the client abandons (heartbeat or connect timeout). App range. */
const ABANDON_CODE = 4000;

/** The connection loop: state, status, backoff, heartbeat and the current socket. */
export class LiveSocket<C extends Connection> {
	readonly #hooks: LiveSocketHooks<C>;
	readonly #backoff: Backoff;
	readonly #createSocket: SocketFactory;
	readonly #heartbeatIntervalMs: number;
	readonly #heartbeatTimeoutMs: number;
	readonly #connectTimeoutMs: number;
	#state: ConnectionState = "idle";
	#conn: C | undefined;
	/** Bumped on every connection attempt, so a slow token provider cannot open a stale socket. */
	#attemptSeq = 0;
	#reconnectTimer: Timer | undefined;
	#connectWaiters: Waiter[] = [];
	// The current socket's timers; all cleared when it is let go of.
	#connectTimer: Timer | undefined;
	#heartbeatTimer: ReturnType<typeof setInterval> | undefined;
	#pongTimer: Timer | undefined;

	constructor(options: LiveSocketOptions, hooks: LiveSocketHooks<C>) {
		this.#hooks = hooks;
		this.#backoff = new Backoff({ ...DEFAULT_BACKOFF, ...options.backoff }, options.random);
		this.#createSocket = options.createSocket ?? globalSocketFactory();
		this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? 20_000;
		this.#heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 10_000;
		this.#connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
	}

	get state(): ConnectionState {
		return this.#state;
	}

	get terminal(): boolean {
		return TERMINAL.has(this.#state);
	}

	/** The socket in use, if any; a socket let go of is never current again. */
	get current(): C | undefined {
		return this.#conn;
	}

	/** Starts the loop (if not started); resolves once live. Rejects once terminal. */
	connect(): Promise<void> {
		if (this.terminal) return Promise.reject(this.terminalError());
		if (this.#state === "live") return Promise.resolve();
		const promise = new Promise<void>((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
		if (this.#state === "idle") this.#open();
		return promise;
	}

	suspend(): void {
		if (this.terminal || this.#state === "offline") return;
		this.#clearReconnect();
		this.#abandon("suspended");
		this.#setStatus({ state: "offline", reason: "suspended" });
	}

	resume(): void {
		if (this.#state !== "offline") return;
		this.#backoff.reset();
		this.#open();
	}

	reconnectNow(): void {
		if (this.#state !== "reconnecting") return;
		this.#clearReconnect();
		this.#open();
	}

	close(): void {
		this.terminate("closed", new ParleyClientError("closed", this.#hooks.messages.closed));
	}

	/** `conn` was welcomed: no more connect timeout; catching up. */
	welcome(conn: C): void {
		this.#clearConnectTimer();
		conn.welcomed = true;
		this.#setStatus({ state: "syncing" });
	}

	/** `conn` caught up: live, with a fresh backoff schedule; `announce` runs before `connect()` resolves. */
	live(conn: C, announce: () => void): void {
		if (conn !== this.#conn || conn.synced) return;
		conn.synced = true;
		this.#backoff.reset();
		this.#setStatus({ state: "live" });
		announce();
		const waiters = this.#connectWaiters;
		this.#connectWaiters = [];
		for (const waiter of waiters) waiter.resolve();
	}

	/**
	 * The socket ended (closed, errored, or declared dead). We do not wait for a close handshake:
	 * on a half-open connection it may never come.
	 */
	lost(conn: C, reason: string): void {
		if (conn !== this.#conn) return;
		this.#abandon(reason);
		if (this.terminal || this.#state === "offline") return;
		this.#scheduleReconnect(reason);
		this.#hooks.onLost?.(conn);
	}

	terminate(state: TerminalState, error: ParleyClientError): void {
		if (this.terminal) return;
		this.#clearReconnect();
		this.#abandon(state);
		this.#attemptSeq++;
		this.#state = state;
		this.#hooks.onTerminate?.(error);
		const waiters = this.#connectWaiters;
		this.#connectWaiters = [];
		for (const waiter of waiters) waiter.reject(error);
		if (state !== "closed") this.#hooks.onError(error);
		this.#hooks.onStatus({ state, reason: error.message });
	}

	/** What a call made in the current terminal state is rejected with. */
	terminalError(): ParleyClientError {
		switch (this.#state) {
			case "unauthorized":
				return new ParleyClientError("unauthorized", "the credentials were refused", { status: 401 });
			case "forbidden":
				return new ParleyClientError("forbidden", this.#hooks.messages.forbidden, { status: 403 });
			case "rejected":
				return new ParleyClientError("bad_request", "the server refused the connection request", { status: 400 });
			default:
				return new ParleyClientError("closed", this.#hooks.messages.closed);
		}
	}

	#open(): void {
		this.#clearReconnect();
		this.#setStatus({ state: "connecting", attempt: this.#backoff.attempt });
		const attempt = ++this.#attemptSeq;
		const current = (): boolean => attempt === this.#attemptSeq && this.#state === "connecting";
		this.#hooks.prepare(current).then(
			(credentials) => {
				if (credentials !== undefined && current()) this.#openSocket(credentials);
			},
			(error: unknown) => {
				if (!current()) return;
				const failure = this.#hooks.prepareFailed(error);
				if (failure.terminal !== undefined) {
					this.terminate(failure.terminal, failure.error);
					return;
				}
				this.#hooks.onError(failure.error);
				this.#scheduleReconnect(failure.reason);
			},
		);
	}

	#openSocket(credentials: Credentials): void {
		let socket: SocketLike;
		try {
			socket = this.#createSocket(this.#hooks.socketUrl(credentials));
		} catch (error) {
			this.#hooks.onError(new ParleyClientError("network", `could not open a socket: ${String(error)}`));
			this.#scheduleReconnect("socket constructor threw");
			return;
		}
		const conn = this.#hooks.newConnection(socket);
		this.#conn = conn;
		this.#connectTimer = setTimeout(() => this.lost(conn, "no welcome in time"), this.#connectTimeoutMs);
		// Every handler first checks that its socket is still the current one: a socket we
		// abandoned may still fire events much later (a half-open close can take minutes).
		socket.addEventListener("open", () => {
			if (conn === this.#conn) this.#startHeartbeat(conn);
		});
		socket.addEventListener("message", (event) => {
			if (conn === this.#conn) this.#onData(conn, event.data);
		});
		socket.addEventListener("close", (event) => {
			if (conn !== this.#conn) return;
			this.#hooks.onClose?.(event.code);
			const reason = `socket closed (${event.code}${event.reason === "" ? "" : ` ${event.reason}`})`;
			if (event.code === TOKEN_EXPIRED_CLOSE) {
				// Not a failure: the token ran out. Reconnect at once with a fresh one.
				this.#abandon(reason);
				if (!this.terminal && this.#state !== "offline") this.#open();
				return;
			}
			this.lost(conn, reason);
		});
		socket.addEventListener("error", () => {
			if (conn === this.#conn) this.lost(conn, "socket error");
		});
	}

	#startHeartbeat(conn: C): void {
		this.#heartbeatTimer = setInterval(() => {
			if (conn !== this.#conn) return;
			try {
				conn.socket.send("ping");
			} catch {
				// A socket that cannot even take a write is dead; the close event will follow.
			}
			// Any frame counts as a sign of life (see #onData); only start the clock once, so a
			// steady trickle of pings without answers still times out.
			this.#pongTimer ??= setTimeout(() => this.lost(conn, "heartbeat timeout"), this.#heartbeatTimeoutMs);
		}, this.#heartbeatIntervalMs);
	}

	#onData(conn: C, data: unknown): void {
		clearTimeout(this.#pongTimer);
		this.#pongTimer = undefined;
		if (typeof data !== "string" || data === "pong") return;
		let frame: unknown;
		try {
			frame = JSON.parse(data);
		} catch {
			this.#hooks.onError(new ParleyClientError("protocol", "the server sent a frame that is not JSON"));
			return;
		}
		if (typeof frame !== "object" || frame === null) return;
		this.#hooks.onFrame(conn, frame);
	}

	/** Forgets the current socket without scheduling anything. */
	#abandon(reason: string): void {
		const conn = this.#conn;
		if (conn === undefined) return;
		this.#conn = undefined;
		this.#clearConnectTimer();
		clearInterval(this.#heartbeatTimer);
		clearTimeout(this.#pongTimer);
		this.#heartbeatTimer = undefined;
		this.#pongTimer = undefined;
		if (conn.socket.readyState <= SOCKET_OPEN) {
			try {
				conn.socket.close(ABANDON_CODE, reason.slice(0, 100));
			} catch {
				// Already closing; nothing to do.
			}
		}
		this.#hooks.onAbandon?.();
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

	#clearConnectTimer(): void {
		clearTimeout(this.#connectTimer);
		this.#connectTimer = undefined;
	}

	#setStatus(status: StatusEvent): void {
		// Every `reconnecting` is reported (attempt and delay change); other states only on change.
		if (status.state === this.#state && status.state !== "reconnecting") return;
		this.#state = status.state;
		this.#hooks.onStatus(status);
	}
}
