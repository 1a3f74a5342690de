/**
 * A chat room: one Durable Object per room id. SQLite holds the event log (and, with the
 * saga layer, the outbox); sockets are hibernatable and keep their state in attachments.
 * The Worker authenticates and authorizes before any call reaches the room, so the room
 * trusts the identity it is handed.
 */
import { MIGRATIONS } from "../migrations/index.ts";
import type { Identity } from "../src/auth.ts";
import { canAccessRoom } from "../src/auth.ts";
import { type Config, configFor, roomLimits } from "../src/config.ts";
import { type ErrorBody, errorResponse, type Failure, fail, ok, type Result } from "../src/errors.ts";
import {
	type AckFrame,
	type ClientFrame,
	type TypingInput,
	DEFAULT_REPLAY,
	type DeletedFrame,
	type EditHistory,
	type EditInput,
	type EventsPage,
	type EventsQuery,
	type ErrorFrame,
	frameId,
	type MembersPage,
	type MembersQuery,
	type MessageEvent,
	parseClientFrame,
	parseFeatures,
	type PolicyPatch,
	policyRefusal,
	type ReactInput,
	type ReadResult,
	type ReceiptFrame,
	RECEIPTS_IN_WELCOME,
	REPLAY_LIMIT,
	type ReplyRef,
	type RoomEvent,
	type RoomPolicy,
	type SearchPage,
	type SearchQuery,
	type SendInput,
	type SendResult,
	type ServerFrame,
	type UserRef,
	utf8Bytes,
} from "../src/protocol.ts";
import { BatchBody, chunkEvents } from "../src/batch.ts";
import { Roster, windowMs } from "../src/presence.ts";
import { TypingThrottle } from "../src/typing.ts";
import { recordRefusal, SOCKET_OPEN_COST, UserBuckets } from "../src/rate-limit.ts";
import type { ModerationCounts, SagaView, TaskMessage, TaskOutcome } from "../src/saga/types.ts";
import { MAX_MESSAGES_PER_ROOM, type RoomPlan, type Selector } from "../src/ops/moderation.ts";
import { newSagaId } from "../src/saga/ids.ts";
import { applyInOrder } from "../src/saga/batches.ts";
import { POLICY_ACTION, policySummary, policyTarget } from "../src/ops/policy-audit.ts";
import { newTraceId, parseTraceparent, viaSpan } from "../src/trace.ts";
import { Meter } from "./meter.ts";
import { Barrier } from "./barrier.ts";
import { EventLog, type StoredMessage } from "./event-log.ts";
import { editRefusal, Edits, replySnapshot } from "./edits.ts";
import { RoomUsers } from "./room-users.ts";
import { Search } from "./search.ts";
import { Reactions } from "./reactions.ts";
import { ReadMarkers } from "./read-state.ts";
import { meteredSql, StorageMeter } from "./storage-meter.ts";
import { applyMigrations } from "./migrate.ts";
import { OutboxObject, outboxParts } from "./outbox-object.ts";
import type { OpsRecord } from "./ops-record.ts";
import type { Outbox } from "./outbox.ts";
import { TaskEngine } from "./task-engine.ts";
import { InboxWatchers } from "./inbox-watchers.ts";
import { excerptOf, isDmRoom, type MessagePreview, type RoomSummary } from "../src/inbox-protocol.ts";
import {
	CLOSE,
	closeQuietly,
	BATCH_TAGS,
	featureTag,
	FRAME_TAGS,
	identityOf,
	type LiveState,
	newLiveState,
	PRESENCE1_TAGS,
	PRESENCE2_TAGS,
	readSocketIdentity,
	sendIfOpen,
	type SocketIdentity,
	socketIdentity,
	userTag,
} from "./socket-state.ts";

/** Header on the internal upgrade request that carries the authenticated identity. */
export const IDENTITY_HEADER = "x-parley-identity";
/** Header on the internal upgrade request that carries the parsed `since`. */
export const SINCE_HEADER = "x-parley-since";
/** Header on the internal upgrade request that carries the `features` the socket asked for. */
export const FEATURES_HEADER = "x-parley-features";

/** How often a busy room looks for sockets that stopped reading. */
const WATCH_EVERY_MS = 50;
/** A batch socket's replay travels in frames of at most this much event JSON. */
const REPLAY_BATCH_BYTES = 1024 * 1024;

const POLICY_KEY = "policy";

/**
 * Close codes an endpoint reports but may never send (RFC 6455 §7.4.1): 1005 no code given,
 * 1006 closed without a Close frame, 1015 TLS failure. `close()` with one throws.
 */
export const RESERVED_CLOSE_CODES: ReadonlySet<number> = new Set([1005, 1006, 1015]);

/** A socket command waiting for the next group commit. */
interface Command {
	ws: WebSocket;
	identity: Identity;
	/** Every frame but `typing`, which is passed on at once and never stored (passTyping). */
	frame: Exclude<ClientFrame, TypingInput>;
	traceId: string;
	receivedAt: number;
}

/** What a command did: events to broadcast, and what to answer its sender. */
interface Executed {
	events: RoomEvent[];
	/** Absent for a frame that is not answered (v1.3 `read`). */
	reply?: AckFrame | DeletedFrame | ErrorFrame;
	alarm: boolean;
	/** v1.3: read markers that moved, for the room's sockets after the commit (see sendReceipts). */
	receipts?: ReceiptFrame[];
}

/** A command prepared inside a transaction: its result, the events it made, and whether
 * it wrote anything the alarm must drive. */
interface Prepared<T> {
	result: Result<T>;
	events: RoomEvent[];
	alarm: boolean;
}

function sendResult(message: StoredMessage | { event: MessageEvent; sagaId: string | null }, duplicate: boolean): SendResult {
	const result: SendResult = {
		seq: message.event.seq,
		msgId: message.event.msgId,
		traceId: message.event.traceId,
		duplicate,
	};
	if (message.sagaId !== null) result.sagaId = message.sagaId;
	return result;
}

export class Room extends OutboxObject {
	private readonly config: Config;
	private readonly log: EventLog;
	/** v1.3 chat: edits, who posted here (for mentions), search (objects/edits.ts, room-users.ts, search.ts). */
	private readonly edits: Edits;
	private readonly users: RoomUsers;
	private readonly search: Search;
	/** v1.3 reactions and read markers (objects/reactions.ts, objects/read-state.ts). */
	private readonly reactions: Reactions;
	private readonly reads: ReadMarkers;
	/** v1.3: at most one `typing` per user per interval is passed on (in memory: see src/typing.ts). */
	private readonly typing = new TypingThrottle();
	private readonly outbox: Outbox;
	private readonly barrier: Barrier;
	private readonly ops: OpsRecord;
	readonly engine: TaskEngine;
	/** Counters for /v1/admin/metrics, in memory (objects/meter.ts); shared with the engine. */
	readonly meter: Meter;
	/** Rows this room has written (an instance field, so no RPC surface; see meterReading()). */
	readonly storageMeter = new StorageMeter();
	private policy: RoomPolicy;
	/** Who is online, kept in memory and rebuilt from the sockets' attachments on wake (see roster()). */
	private rosterState: Roster | undefined;
	/** The end of the current presence window, while one is open. */
	private presenceTimer: ReturnType<typeof setTimeout> | undefined;
	/** Sockets the last presence window reached, which sets the next window's length. */
	private presenceFanout = 0;
	/** Sockets whose leave was already handled (a server close, then the runtime's close event). */
	private readonly gone = new WeakSet<WebSocket>();
	/** Whether a socket asked for batches, as read from its tags once per incarnation. */
	private readonly batching = new WeakMap<WebSocket, boolean>();
	/** When delivery next looks at the sockets' unsent bytes (see watchDue). */
	private nextWatch = 0;
	/** Attachments as read once per socket and incarnation: every frame needs them, they change only at a server close. */
	private readonly identities = new WeakMap<WebSocket, SocketIdentity>();
	/** Abuse windows per socket (see liveState). */
	private readonly live = new WeakMap<WebSocket, LiveState>();
	/** The rate limit, per user across sockets and HTTP posts. */
	private readonly buckets: UserBuckets;
	/** Authors known to have posted here, so the first-post check reads SQLite once each. */
	private readonly knownAuthors = new Set<string>();
	/**
	 * v1.4: users' inboxes that asked to hear of this room's changes (objects/inbox-watchers.ts).
	 * An instance field, so not RPC surface; tests read it through runInDurableObject.
	 */
	readonly watchers: InboxWatchers;
	/** The latest message's preview, as of the log's last seq (see lastPreview). */
	private preview: { lastSeq: number; value: MessagePreview | null } | undefined;
	/** Socket commands waiting for the next group commit. */
	private pending: Command[] = [];
	private flushScheduled = false;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.config = configFor(env);
		this.buckets = new UserBuckets(this.config.rateLimitPerSec);
		applyMigrations(ctx.storage, MIGRATIONS);
		const sql = meteredSql(ctx.storage.sql, this.storageMeter);
		this.log = new EventLog(sql);
		this.search = new Search(sql, () => this.log);
		this.log.onRetracted = (seq) => this.search.retracted(seq);
		this.edits = new Edits(sql, this.log);
		this.users = new RoomUsers(sql);
		this.reactions = new Reactions(sql, this.log);
		this.reads = new ReadMarkers(sql);
		const parts = outboxParts(sql, () => this.name, this.config);
		this.outbox = parts.outbox;
		this.ops = parts.ops;
		this.barrier = new Barrier(sql, this.log, (seq, text) => this.search.edited(seq, text));
		this.meter = new Meter({
			env: () => this.env,
			name: () => this.name,
			shards: this.config.opsIndexShards,
			flushMs: this.config.metricsFlushMs,
			labelledRooms: this.config.metricsRooms,
			sockets: () => this.openSockets().length,
		});
		this.engine = new TaskEngine({
			meter: this.meter,
			storageMeter: this.storageMeter,
			ctx,
			env: () => this.env,
			config: this.config,
			outbox: this.outbox,
			ops: this.ops,
			name: () => this.name,
			onRollback: () => {
				this.log.resync();
				this.preview = undefined;
				this.users.forget();
				this.search.forget();
			},
			onSagaReports: (reports) => {
				for (const report of reports) {
					const frame = JSON.stringify({
						type: "saga",
						sagaId: report.sagaId,
						state: report.state,
						steps: report.steps,
					} satisfies ServerFrame);
					for (const ws of this.openSockets(userTag(report.authorId))) sendIfOpen(ws, frame);
				}
			},
		});
		this.watchers = new InboxWatchers({
			now: () => this.engine.now(),
			summary: (userId) => this.summaryFor(userId),
			push: async (userId, summary) => {
				this.storageMeter.countCall("out", "roomChanged");
				await this.env.INBOX.getByName(userId).roomChanged(summary);
			},
			waitUntil: (work) => this.ctx.waitUntil(work),
		});
		const stored = this.log.getMeta(POLICY_KEY);
		this.policy = stored === undefined ? { readOnly: false, banned: [] } : (JSON.parse(stored) as RoomPolicy);
		// Heartbeats are answered by the runtime without waking a hibernated room.
		ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
		// A fired alarm is used up: if this incarnation starts with live tasks, make sure one is set.
		if (this.engine.needsAlarm()) void ctx.blockConcurrencyWhile(() => this.engine.armAlarm());
	}

	/** The room id: rooms are only ever addressed by name. */
	private get name(): string {
		return this.ctx.id.name ?? "";
	}

	// -------------------------------------------------------------------------------------
	// Sockets
	// -------------------------------------------------------------------------------------

	override async fetch(request: Request): Promise<Response> {
		const identityHeader = request.headers.get(IDENTITY_HEADER);
		if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket" || identityHeader === null) {
			return Response.json({ error: { code: "bad_request", message: "expected a WebSocket upgrade" } }, { status: 400 });
		}
		const identity = JSON.parse(identityHeader) as Identity;
		const sinceHeader = request.headers.get(SINCE_HEADER);
		const since = sinceHeader === null ? undefined : Number(sinceHeader);

		// Opening a socket takes from the user's allowance too (see SOCKET_OPEN_COST).
		const take = this.buckets.take(identity.id, this.engine.now(), SOCKET_OPEN_COST);
		if (!take.ok) {
			this.meter.count("refusals", { transport: "socket", code: "rate_limited" });
			return errorResponse({ code: "rate_limited", message: "reconnecting too fast; slow down", retryAfterMs: take.retryAfterMs });
		}
		const user: UserRef = { id: identity.id, name: identity.name };
		const roster = this.roster();
		let mine = roster.sockets(user.id);
		if (mine === 0) {
			// Only a count of 0 is checked with the runtime: it decides a join, and costs a lookup of
			// this user's sockets alone (usually none), never of the whole room.
			mine = this.openSockets(userTag(user.id)).length;
			if (mine > 0) roster.recount(user, mine);
		}
		if (mine >= this.config.maxSocketsPerUser) {
			// Refused before accepting, so it is an HTTP answer the client can read.
			return errorResponse({
				code: "rate_limited",
				message: `at most ${this.config.maxSocketsPerUser} sockets per user in a room`,
				retryAfterMs: 5000,
			});
		}
		const { 0: client, 1: server } = new WebSocketPair();
		const features = parseFeatures(request.headers.get(FEATURES_HEADER));
		this.ctx.acceptWebSocket(server, [userTag(user.id), featureTag(features)]);
		server.serializeAttachment(socketIdentity(identity));
		this.meter.socketsMoved();
		const firstOfUser = roster.connect(user);

		const lastSeq = this.log.lastSeq;
		const welcome: ServerFrame = {
			type: "welcome",
			room: this.name,
			user,
			lastSeq,
			...roster.welcome(user),
			limits: roomLimits(this.config),
			read: this.reads.state(user.id),
			receipts: this.reads.receipts(user.id, RECEIPTS_IN_WELCOME),
		};
		server.send(JSON.stringify(welcome));
		const replay = this.reactions.attach(
			since === undefined
				? this.log.page({ latest: true, limit: DEFAULT_REPLAY })
				: this.log.page({ after: since, limit: REPLAY_LIMIT }),
			user.id,
		);
		if (features.has("batch")) {
			for (const chunk of chunkEvents(
				replay.map((event) => JSON.stringify(event)),
				REPLAY_BATCH_BYTES,
			))
				server.send(new BatchBody(chunk).shared);
		} else {
			for (const event of replay) server.send(JSON.stringify(event));
		}
		const through = replay.at(-1)?.seq ?? Math.min(since ?? lastSeq, lastSeq);
		server.send(JSON.stringify({ type: "synced", through } satisfies ServerFrame));

		if (firstOfUser) {
			// v1 frames only while the room lists users: above its limit they would cost n² frames.
			if (roster.mode === "list")
				this.sendPresence1(JSON.stringify({ type: "presence", joined: user } satisfies ServerFrame), server);
			this.schedulePresence();
		}
		return new Response(null, { status: 101, webSocket: client });
	}

	override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
		const who = this.identity(ws);
		// Frames that were in flight when the server closed the socket are dropped.
		if (who === undefined || who.closing === true || ws.readyState !== WebSocket.OPEN) return;
		const now = this.engine.now();
		const size = typeof message === "string" ? utf8Bytes(message, this.config.maxFrameBytes) : message.byteLength;
		if (size > this.config.maxFrameBytes) {
			this.closeSocket(ws, who, CLOSE.tooBig, `frame over ${this.config.maxFrameBytes} bytes`);
			return;
		}
		// A socket lives no longer than its token: checked per frame, so no timer is needed.
		if (who.exp !== undefined && now >= who.exp * 1000) {
			this.closeSocket(ws, who, CLOSE.tokenExpired, "token expired");
			return;
		}
		const parsed = typeof message === "string" ? parseClientFrame(message, this.name, this.config) : undefined;
		// v1.3: a `typing` that is passed on costs nothing from the allowance, so typing never
		// holds back a send; it is bounded by the throttle instead (one per user per interval).
		const typing = parsed?.ok === true && parsed.value.type === "typing";
		if (typing && this.passTyping(ws, who, now)) return;
		// Every other frame takes a token, a throttled or ignored `typing` included: that is
		// what bounds a flood of them (an honest client sends one per interval and never pays).
		const take = this.buckets.take(who.user.id, now);
		if (!take.ok) {
			// Parsed only to name the refused frame, so the client knows which send to hold back.
			const id = parsed?.ok === true ? parsed.value.id : typeof message === "string" ? frameId(message) : undefined;
			const limited: ErrorBody = { code: "rate_limited", message: "slow down", retryAfterMs: take.retryAfterMs };
			this.refuse(ws, now, id === undefined ? limited : { ...limited, id });
			return;
		}
		if (parsed === undefined) {
			this.refuse(ws, now, { code: "bad_request", message: "binary frames are not accepted; send JSON text" });
			return;
		}
		if (!parsed.ok) {
			this.refuse(ws, now, parsed.error);
			return;
		}
		if (parsed.value.type === "typing") return;
		this.enqueue({ ws, identity: identityOf(who), frame: parsed.value, traceId: newTraceId(), receivedAt: now });
	}

	override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
		// The runtime already answered the close (web_socket_auto_reply_to_close); this is for
		// older compatibility dates, and a no-op on a closed socket. A reserved code means the
		// peer sent no Close frame (the runtime made the code up), so there is nothing to
		// answer, and answering a peer that is gone fails later, out of reach of a try.
		if (!RESERVED_CLOSE_CODES.has(code)) closeQuietly(ws, code, reason);
		this.socketGone(ws);
	}

	override async webSocketError(ws: WebSocket): Promise<void> {
		this.socketGone(ws);
	}

	/**
	 * v1.3: passes a `typing` on as `{type:"typing", user}` to the sockets of everyone else in
	 * the room (the sender's own tabs have no use for it), unless the throttle holds it back or
	 * the room's policy refuses this user's posts (it is then dropped without an answer: typing
	 * is a hint, not a command). Never stored. Returns whether it was passed on.
	 */
	private passTyping(ws: WebSocket, who: SocketIdentity, now: number): boolean {
		if (policyRefusal(this.policy, who.user.id, who.admin) !== undefined) return false;
		if (!this.typing.pass(who.user.id, now)) return false;
		const frame = JSON.stringify({ type: "typing", user: who.user } satisfies ServerFrame);
		for (const other of this.ctx.getWebSockets()) {
			if (other === ws) continue;
			const them = this.identity(other);
			if (them === undefined || them.closing === true || them.user.id === who.user.id) continue;
			sendIfOpen(other, frame);
		}
		return true;
	}

	private socketGone(ws: WebSocket): void {
		if (this.gone.has(ws)) return;
		this.gone.add(ws);
		const who = readSocketIdentity(ws);
		if (who === undefined) return;
		// The open-socket gauge changed either way (closeSocket calls this before it marks the socket).
		this.meter.socketsMoved();
		// A socket the server closed was handled then (closeSocket), possibly in an earlier incarnation.
		if (who.closing === true) return;
		const roster = this.roster();
		if (!roster.disconnect(who.user)) return;
		// The user's last socket by the count: confirmed with the runtime, as a count may drift
		// (a close that was in flight when the room rebuilt its roster after a wake).
		const remaining = this.openSockets(userTag(who.user.id), ws).length;
		if (remaining > 0) {
			roster.recount(who.user, remaining);
			return;
		}
		if (roster.mode === "list") this.sendPresence1(JSON.stringify({ type: "presence", left: who.user } satisfies ServerFrame), ws);
		this.schedulePresence();
	}

	// -------------------------------------------------------------------------------------
	// Presence (rules in src/presence.ts)
	// -------------------------------------------------------------------------------------

	/** The roster, built from the open sockets' attachments once per incarnation. */
	private roster(): Roster {
		this.rosterState ??= new Roster(
			this.openSockets().flatMap((ws) => {
				const who = readSocketIdentity(ws);
				return who === undefined ? [] : [who.user];
			}),
			this.config.presenceListLimit,
		);
		return this.rosterState;
	}

	/** The sockets carrying any of these feature tags. */
	private tagged(tags: readonly string[]): WebSocket[] {
		return tags.flatMap((tag) => this.ctx.getWebSockets(tag));
	}

	/** A v1 presence frame, to the sockets that did not ask for the coalesced kind. */
	private sendPresence1(frame: string, except: WebSocket): void {
		for (const ws of this.tagged(PRESENCE1_TAGS)) {
			if (ws !== except) sendIfOpen(ws, frame);
		}
	}

	/**
	 * Opens a presence window if none is open. Like the group commit's timer it lives only as
	 * long as the burst it serves (a window, then it is gone), so it never holds off hibernation.
	 */
	private schedulePresence(): void {
		if (this.presenceTimer !== undefined || !this.roster().pending) return;
		this.presenceTimer = setTimeout(() => {
			this.presenceTimer = undefined;
			this.flushPresence();
		}, windowMs(this.presenceFanout));
	}

	/** Ends the window: one v1.2 frame to every socket that asked for them. */
	private flushPresence(): void {
		const frame = this.roster().flush();
		if (frame === undefined) return;
		const json = JSON.stringify(frame);
		const sockets = this.tagged(PRESENCE2_TAGS);
		this.presenceFanout = sockets.length;
		const watch = this.watchDue();
		const slow: WebSocket[] = [];
		for (const ws of sockets) if (!(watch && this.isSlow(ws, slow))) sendIfOpen(ws, json);
		this.closeSlow(slow);
	}

	/** Open sockets, optionally by tag, leaving out one that is going away. */
	private openSockets(tag?: string, except?: WebSocket): WebSocket[] {
		return this.ctx
			.getWebSockets(tag)
			.filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN && readSocketIdentity(ws)?.closing !== true);
	}

	/** The socket's attachment, deserialized once (closeSocket keeps the copy in step). */
	private identity(ws: WebSocket): SocketIdentity | undefined {
		let who = this.identities.get(ws);
		if (who === undefined) {
			who = readSocketIdentity(ws);
			if (who !== undefined) this.identities.set(ws, who);
		}
		return who;
	}

	/**
	 * Per-socket abuse window, in memory only. It needs no attachment: a room hibernates only
	 * after 10 s without events, and by then every abuse window (10 s) has expired, so a fresh
	 * state on wake is the same state. Writing it to the attachment on every frame would cost
	 * a serialization.
	 */
	private liveState(ws: WebSocket): LiveState {
		let state = this.live.get(ws);
		if (state === undefined) {
			state = newLiveState(this.engine.now());
			this.live.set(ws, state);
		}
		return state;
	}

	// -------------------------------------------------------------------------------------
	// Delivery: one frame per event, or one batch per commit (features=batch)
	// -------------------------------------------------------------------------------------

	/**
	 * Sends one commit's events to every socket: one frame per event to v1 sockets, one
	 * `batch` frame to batch sockets, carrying the answers in `acks` (serialized, by socket).
	 * Each event is serialized once, and so is the batch, except for a sender's own.
	 */
	private deliver(events: readonly RoomEvent[], acks?: ReadonlyMap<WebSocket, string[]>): void {
		// v1.4: the inboxes that watch this room hear that its counts moved (no row written).
		if (events.length > 0) this.watchers.changed();
		const serialized = events.map((event) => JSON.stringify(event));
		const watch = this.watchDue();
		const slow: WebSocket[] = [];
		if (serialized.length > 0) {
			for (const ws of this.tagged(FRAME_TAGS)) {
				if (ws.readyState !== WebSocket.OPEN || (watch && this.isSlow(ws, slow))) continue;
				for (const frame of serialized) sendIfOpen(ws, frame);
			}
		}
		if (serialized.length > 0 || (acks !== undefined && acks.size > 0)) {
			const body = new BatchBody(serialized);
			for (const ws of this.tagged(BATCH_TAGS)) {
				const mine = acks?.get(ws);
				const frame = mine !== undefined ? body.with(mine) : serialized.length > 0 ? body.shared : undefined;
				if (frame === undefined || (watch && this.isSlow(ws, slow))) continue;
				sendIfOpen(ws, frame);
			}
		}
		this.closeSlow(slow);
	}

	/**
	 * Whether this delivery also looks at what waits unsent per socket: at most every
	 * WATCH_EVERY_MS, since reading it on every send of a busy room costs more than a stalled
	 * reader can add in that time (a bound overshot by 50 ms of traffic, not unbounded).
	 */
	private watchDue(): boolean {
		const now = this.engine.now();
		if (now < this.nextWatch) return false;
		this.nextWatch = now + WATCH_EVERY_MS;
		return true;
	}

	/**
	 * Whether more than the bound still waits unsent for a socket from earlier deliveries (at
	 * least WATCH_EVERY_MS ago): looked at before sending, so one big commit to a reader that
	 * keeps up is never mistaken for a reader that stopped.
	 */
	private isSlow(ws: WebSocket, slow: WebSocket[]): boolean {
		// Written as "not over" so a runtime without the count (undefined) never closes anyone.
		if (!(ws.bufferedAmount > this.config.maxBufferedBytes)) return false;
		slow.push(ws);
		return true;
	}

	/**
	 * Closes sockets that stopped reading, so one stalled peer cannot grow the room's memory
	 * without bound: what is already queued stays (the runtime cannot drop it), nothing more is
	 * added, and the client resumes with `since` like after any other close.
	 */
	private closeSlow(sockets: readonly WebSocket[]): void {
		for (const ws of sockets) {
			const who = readSocketIdentity(ws);
			if (who !== undefined && who.closing !== true) {
				this.closeSocket(ws, who, CLOSE.slow, `over ${this.config.maxBufferedBytes} bytes waiting unsent; reconnect with since`);
			}
		}
	}

	private isBatch(ws: WebSocket): boolean {
		let batch = this.batching.get(ws);
		if (batch === undefined) {
			try {
				batch = this.ctx.getTags(ws).some((tag) => (BATCH_TAGS as readonly string[]).includes(tag));
			} catch {
				// A socket that closed meanwhile has no tags to read; it gets nothing either way.
				return false;
			}
			this.batching.set(ws, batch);
		}
		return batch;
	}

	private refuse(ws: WebSocket, now: number, error: ErrorBody & { id?: string }): void {
		const live = this.liveState(ws);
		const { window, close } = recordRefusal(live.abuse, now);
		live.abuse = window;
		this.meter.count("refusals", { transport: "socket", code: error.code });
		if (close) {
			const who = readSocketIdentity(ws);
			if (who !== undefined) this.closeSocket(ws, who, CLOSE.policy, "too many refused frames");
			return;
		}
		sendIfOpen(ws, JSON.stringify({ type: "error", ...error } satisfies ErrorFrame));
	}

	private closeSocket(ws: WebSocket, who: SocketIdentity, code: number, reason: string): void {
		// Frames this socket sent before the offending one are answered first, then it closes.
		if (this.pending.some((command) => command.ws === ws)) this.flushNow();
		// Gone before it is marked: the runtime's close event that follows reads the mark as "handled".
		this.socketGone(ws);
		// Marked in the attachment, so frames still in flight are dropped even after a wake.
		const closing: SocketIdentity = { ...who, closing: true };
		ws.serializeAttachment(closing);
		this.identities.set(ws, closing);
		closeQuietly(ws, code, reason);
	}

	// -------------------------------------------------------------------------------------
	// Group commit: the frames that arrived together commit in one transaction
	// -------------------------------------------------------------------------------------

	/**
	 * Queues a socket command for the next flush. The flush runs on a zero-delay timer: frames
	 * already received are delivered to the room first and join the same transaction, so one
	 * commit (and one output-gate wait) serves the whole burst. It is the room's only timer,
	 * it never outlives the burst it serves, so it never keeps a room from hibernating. Acks
	 * still leave only after the commit.
	 */
	private enqueue(command: Command): void {
		this.pending.push(command);
		if (this.flushScheduled) return;
		this.flushScheduled = true;
		setTimeout(() => {
			this.flushScheduled = false;
			this.flushNow();
		}, 0);
	}

	/** Commits what is queued now; the commit and the replies happen before this returns. */
	private flushNow(): void {
		this.flush().catch((error: unknown) => {
			// Commands that did not commit were not acked: their senders resend them.
			console.error(JSON.stringify({ level: "error", msg: "group commit failed", room: this.name, error: String(error) }));
		});
	}

	private async flush(): Promise<void> {
		const commands = this.pending.splice(0);
		if (commands.length === 0) return;
		const now = this.engine.now();
		let results: Executed[];
		try {
			results = this.write(() => commands.map((command) => this.execute(command, now)));
		} catch {
			// One command that breaks must not sink the others: retry them one at a time.
			results = commands.map((command) => {
				try {
					return this.write(() => this.execute(command, now));
				} catch (error) {
					console.error(
						JSON.stringify({
							level: "error",
							msg: "command failed",
							room: this.name,
							traceId: command.traceId,
							error: String(error),
						}),
					);
					const id = command.frame.id;
					const reply: ErrorFrame =
						id === undefined
							? { type: "error", code: "internal", message: "internal error" }
							: { type: "error", code: "internal", message: "internal error", id };
					return { events: [], reply, alarm: false };
				}
			});
		}
		// A batch socket's acks ride in its batch; v1 sockets get theirs after the events.
		const batched = new Map<WebSocket, string[]>();
		const single = commands.map((command, i) => {
			const reply = results[i]?.reply;
			if (reply === undefined || reply.type === "error" || !this.isBatch(command.ws)) return true;
			const list = batched.get(command.ws) ?? [];
			list.push(JSON.stringify(reply));
			batched.set(command.ws, list);
			return false;
		});
		this.deliver(
			results.flatMap((result) => result.events),
			batched,
		);
		this.sendReceipts(results.flatMap((result) => result.receipts ?? []));
		commands.forEach((command, i) => {
			const reply = results[i]?.reply;
			if (reply === undefined || single[i] !== true) return;
			if (reply.type === "error") this.refuse(command.ws, now, reply);
			else {
				sendIfOpen(command.ws, JSON.stringify(reply));
				if (reply.type === "ack") {
					this.meter.count("acks", { transport: "socket" });
					if (!reply.duplicate && command.frame.type === "send") this.meter.messageStored("socket");
				}
			}
		});
		if (results.some((r) => r.alarm)) await this.engine.afterWrite();
	}

	/** Runs one socket command inside the flush's transaction. */
	private execute(command: Command, now: number): Executed {
		const { frame, identity, traceId } = command;
		if (frame.type === "send") {
			const sent = this.prepareSend(identity, frame, traceId, now, command.receivedAt);
			if (!sent.result.ok) return { events: [], reply: { type: "error", ...sent.result.error, id: frame.id }, alarm: false };
			const ack = sent.result.value;
			return { events: sent.events, reply: { type: "ack", id: frame.id, ...ack }, alarm: sent.alarm };
		}
		if (frame.type === "edit") {
			const edited = this.prepareEdit(identity, frame, traceId, now);
			if (!edited.result.ok) return { events: [], reply: { type: "error", ...edited.result.error, id: frame.id }, alarm: false };
			return { events: edited.events, reply: { type: "ack", id: frame.id, ...edited.result.value }, alarm: edited.alarm };
		}
		if (frame.type === "react") {
			const reacted = this.prepareReact(identity, frame, traceId, now);
			if (!reacted.result.ok) return { events: [], reply: { type: "error", ...reacted.result.error, id: frame.id }, alarm: false };
			return { events: reacted.events, reply: { type: "ack", id: frame.id, ...reacted.result.value }, alarm: false };
		}
		if (frame.type === "read") {
			const read = this.prepareRead(identity, frame.seq, now);
			return { events: [], alarm: false, receipts: read.receipts };
		}
		const deleted = this.prepareDelete(identity, frame.msgId, traceId, now);
		if (!deleted.result.ok) {
			const reply: ErrorFrame =
				frame.id === undefined
					? { type: "error", ...deleted.result.error }
					: { type: "error", ...deleted.result.error, id: frame.id };
			return { events: [], reply, alarm: false };
		}
		return {
			events: deleted.events,
			reply: { type: "deleted", msgId: frame.msgId, seq: deleted.result.value.seq },
			alarm: deleted.alarm,
		};
	}

	// -------------------------------------------------------------------------------------
	// Commands (shared by the socket and the HTTP routes); each runs inside a transaction
	// -------------------------------------------------------------------------------------

	private policyRefusal(identity: Identity): Failure | undefined {
		const refused = policyRefusal(this.policy, identity.id, identity.admin);
		return refused === undefined ? undefined : fail(refused.code, refused.message);
	}

	/**
	 * Stores a send. A repeat of the same client id returns the original result; the policy is
	 * checked after dedup so a lost ack can always be recovered.
	 */
	private prepareSend(
		identity: Identity,
		input: SendInput,
		traceId: string,
		now: number,
		receivedAt: number,
		traceparent?: string,
	): Prepared<SendResult> {
		const repeat = (): Prepared<SendResult> | undefined => {
			const existing = this.log.findByClientId(identity.id, input.id);
			return existing === undefined ? undefined : { result: ok(sendResult(existing, true)), events: [], alarm: false };
		};
		const refusal = this.sendRefusal(identity, input);
		// A repeat of a stored message gets the original answer whatever changed since.
		if (refusal !== undefined) return repeat() ?? { result: refusal, events: [], alarm: false };
		let replyTo: ReplyRef | undefined;
		if (input.replyTo !== undefined) {
			const target = this.log.findMessage(input.replyTo);
			if (target === undefined || target.retractedBy !== null) {
				const missing = fail("not_found", `no message ${input.replyTo} to reply to in this room`);
				return repeat() ?? { result: missing, events: [], alarm: false };
			}
			replyTo = replySnapshot(target.event);
		}
		const mentions = this.users.mentions(input.text);
		const targets = input.crossPost ?? [];
		const sagaId = targets.length > 0 ? newSagaId(this.name) : null;
		this.log.pruneDedup(now);
		// An author's first message here registers the room in the author directory, so an
		// operator moderation by author can find it. Later messages cost nothing extra.
		// (A repeat is never a first post: its original is this author's.)
		const firstPost = !this.knownAuthors.has(identity.id) && !this.log.hasAuthor(identity.id);
		// The insert is the dedup check: the (author, client id) index turns a repeat away, and only
		// then is the original read. A new message costs no lookup.
		const message = this.log.appendMessage(
			{
				author: { id: identity.id, name: identity.name },
				clientId: input.id,
				text: input.text,
				traceId,
				...(sagaId === null ? {} : { sagaId }),
				...(replyTo === undefined ? {} : { replyTo }),
				...(mentions.length === 0 ? {} : { mentions }),
			},
			now,
			{ ifNew: true },
		);
		if (message === undefined) {
			const original = repeat();
			if (original === undefined) throw new Error("the dedup index turned a send away, but holds no message for it");
			return original;
		}
		if (firstPost) this.ops.authorPosted({ id: identity.id, name: identity.name }, now);
		this.knownAuthors.add(identity.id);
		this.users.posted(message.author);
		// v1.4: the mentioned users' inboxes hear of it. (A first post joins the author's inbox to the
		// room through the author directory it registers with above: objects/author-directory.ts.)
		const mentioned = this.mentionable(mentions, identity.id);
		const inboxTasks =
			mentioned.length > 0
				? this.outbox.inboxWork(
						{ message, version: message.seq, traceId, mention: mentioned, unmention: [] },
						now,
						this.engine.directGate,
					)
				: 0;
		if (sagaId !== null) {
			// The message, its dedup record and one task per target commit together; deliveries
			// the engine's gate lets through are claimed now, for the room to attempt itself. The
			// commit's spans (the ingress one names the Worker's span) go in the first task's row.
			this.outbox.startSaga(sagaId, message, targets, now, { receivedAt, traceparent, direct: this.engine.directGate });
		}
		return {
			result: ok(sendResult({ event: message, sagaId }, false)),
			events: [message],
			alarm: sagaId !== null || firstPost || inboxTasks > 0,
		};
	}

	/** Why a new send is refused (policy, order, cross-post access), if it is. */
	private sendRefusal(identity: Identity, input: SendInput): Failure | undefined {
		const refusal = this.policyRefusal(identity);
		if (refusal !== undefined) return refusal;
		if (input.after !== undefined && this.log.findByClientId(identity.id, input.after) === undefined) {
			return fail("out_of_order", `the message before this one (${input.after}) is not stored yet; send it first`);
		}
		const denied = (input.crossPost ?? []).find((room) => !canAccessRoom(identity, room));
		if (denied !== undefined) return fail("forbidden", `your token does not grant room ${denied}`);
		// v1.4: a DM is its two members' alone; no cross-post reaches one.
		const dm = (input.crossPost ?? []).find(isDmRoom);
		return dm === undefined ? undefined : fail("forbidden", `a cross-post cannot reach a direct-message room (${dm})`);
	}

	/**
	 * Stores an edit (v1.3): only the author, of a live message that is not a cross-posted copy.
	 * Deduplicated by the client id like a send: a repeat answers the first ack, whatever
	 * changed since.
	 */
	private prepareEdit(identity: Identity, input: EditInput, traceId: string, now: number): Prepared<SendResult> {
		const repeat = (): Prepared<SendResult> | undefined => {
			const existing = this.edits.findAck(identity.id, input.id);
			return existing === undefined ? undefined : { result: ok({ ...existing, duplicate: true }), events: [], alarm: false };
		};
		const refused = (failure: Failure): Prepared<SendResult> => repeat() ?? { result: failure, events: [], alarm: false };
		const policy = this.policyRefusal(identity);
		if (policy !== undefined) return refused(policy);
		if (input.after !== undefined && this.log.findByClientId(identity.id, input.after) === undefined) {
			return refused(fail("out_of_order", `the frame before this one (${input.after}) is not stored yet; send it first`));
		}
		const target = editRefusal(this.log.findMessage(input.msgId), input.msgId, identity.id);
		if (!target.ok) return refused(target);
		const message = target.value;
		this.log.pruneDedup(now);
		const mentions = this.users.mentions(input.text);
		const author = { id: identity.id, name: identity.name };
		const request = { editor: author, clientId: input.id, msgId: input.msgId, text: input.text, mentions, traceId };
		const edited = this.edits.append(message, request, now);
		if (edited === undefined) {
			const original = repeat();
			if (original === undefined) throw new Error("the dedup index turned an edit away, but holds nothing for it");
			return original;
		}
		this.search.edited(message.event.seq, input.text);
		// v1.4: who the edit mentions hears of it (again, with the new text); who it no longer mentions, of that.
		const before = this.mentioned(message.event.mentions, identity.id);
		const after = this.mentionable(mentions, identity.id);
		const inboxTasks =
			before.length + after.length > 0
				? this.outbox.inboxWork(
						{
							message: { ...message.event, text: input.text },
							version: edited.seq,
							editedAt: edited.editedAt,
							traceId,
							mention: after,
							unmention: before.filter((user) => !after.includes(user)),
						},
						now,
						this.engine.directGate,
					)
				: 0;
		// A cross-posted original's copies follow through the outbox (objects/outbox.ts, editCopies).
		const copies =
			message.sagaId === null
				? 0
				: this.outbox.editCopies(
						message.sagaId,
						{ editSeq: edited.seq, editedAt: edited.editedAt, text: input.text, traceId },
						now,
						this.engine.directGate,
					);
		const result: SendResult = { seq: edited.seq, msgId: edited.msgId, traceId, duplicate: false };
		if (message.sagaId !== null) result.sagaId = message.sagaId;
		return { result: ok(result), events: [edited], alarm: copies > 0 || inboxTasks > 0 };
	}

	/** v1.3: a reaction, with the room's policy (objects/reactions.ts has the rules). */
	private prepareReact(identity: Identity, input: ReactInput, traceId: string, now: number): Prepared<SendResult> {
		const who = { user: { id: identity.id, name: identity.name }, admin: identity.admin, policy: this.policy };
		return { ...this.reactions.react(who, input, traceId, now), alarm: false };
	}

	/**
	 * v1.3: moves the caller's read marker. A seq beyond the room's last event is clamped to it
	 * (nobody has read what does not exist yet); only a marker that moved writes a row and sends
	 * a `receipt`. Reading is not posting: the policy does not apply.
	 */
	private prepareRead(identity: Identity, seq: number, now: number): { receipts: ReceiptFrame[] } {
		const user: UserRef = { id: identity.id, name: identity.name };
		const stored = this.reads.advance(user, Math.min(seq, this.log.lastSeq), now);
		return { receipts: stored.moved ? [{ type: "receipt", user, seq: stored.seq }] : [] };
	}

	/**
	 * v1.3: each moved marker as a `receipt` to the room's open sockets (batch sockets too, as
	 * plain frames), the reader's own included. Over the presence list limit only the reader's
	 * own sockets get it, as v1 presence frames stop there: with everyone reading every message,
	 * a receipt to every socket would cost n² frames. Others see those markers in their welcome.
	 */
	private sendReceipts(receipts: readonly ReceiptFrame[]): void {
		if (receipts.length === 0) return;
		// v1.4: a reader's own inbox hears that their unread count here moved.
		for (const receipt of receipts) this.watchers.changed(receipt.user.id);
		const everyone = this.roster().mode === "list";
		for (const receipt of receipts) {
			const frame = JSON.stringify(receipt);
			for (const ws of this.ctx.getWebSockets(everyone ? undefined : userTag(receipt.user.id))) {
				if (ws.readyState !== WebSocket.OPEN || this.identity(ws)?.closing === true) continue;
				sendIfOpen(ws, frame);
			}
		}
	}

	private write<T>(work: () => T): T {
		return this.engine.write(() => {
			const result = work();
			// A retract of an indexed message leaves its words in FTS5's segments until a merge.
			this.search.purge();
			return result;
		});
	}

	/**
	 * Retracts a message. Deleting a cross-posted original also compensates its saga, so every
	 * copy is retracted (reason `deleted`); deleting a copy in its own room leaves the saga be.
	 */
	private prepareDelete(identity: Identity, msgId: string, traceId: string, now: number): Prepared<{ seq: number }> {
		const message = this.log.findMessage(msgId);
		if (message === undefined) return { result: fail("not_found", `no message ${msgId} in this room`), events: [], alarm: false };
		if (message.event.author.id !== identity.id && !identity.admin) {
			return { result: fail("forbidden", "only the author or an admin can delete a message"), events: [], alarm: false };
		}
		if (message.retractedBy !== null) return { result: ok({ seq: message.retractedBy }), events: [], alarm: false };
		const retract = this.log.appendRetract(msgId, "deleted", traceId, now);
		if (message.sagaId !== null) this.outbox.compensate(message.sagaId, "deleted", now);
		const unmentioned = this.unmentionGone(message, retract.seq, traceId, now);
		return { result: ok({ seq: retract.seq }), events: [retract], alarm: message.sagaId !== null || unmentioned > 0 };
	}

	// -------------------------------------------------------------------------------------
	// v1.4: the inboxes of the users a message mentions (objects/inbox.ts)
	// -------------------------------------------------------------------------------------

	/** Who a message's mentions reach: not its author, nor anyone banned here (they have no access). */
	private mentionable(mentions: readonly string[] | undefined, authorId: string): string[] {
		return this.mentioned(mentions, authorId).filter((user) => !this.policy.banned.includes(user));
	}

	/** Whose inbox may hold a mention of this message: everyone it mentions but its author. */
	private mentioned(mentions: readonly string[] | undefined, authorId: string): string[] {
		return (mentions ?? []).filter((user) => user !== authorId);
	}

	/** A message is gone (deleted, moderated): its mentions are removed for good, in its transaction. */
	private unmentionGone(message: StoredMessage, retractSeq: number, traceId: string, now: number): number {
		const users = this.mentioned(message.event.mentions, message.event.author.id);
		if (users.length === 0) return 0;
		const work = { message: message.event, version: retractSeq, traceId, mention: [], unmention: users, gone: true };
		return this.outbox.inboxWork(work, now, this.engine.directGate);
	}

	/** This room as one reader's inbox sees it: counts after their marker, and the latest message. */
	private summaryFor(userId: string): RoomSummary {
		const read = this.reads.state(userId);
		return { room: this.name, lastSeq: this.log.lastSeq, readSeq: read.seq, unread: read.unread, last: this.lastPreview() };
	}

	/**
	 * The latest live message as an inbox shows it, the same for every reader: read once per
	 * change of the log (a push after a commit asks it for each watching inbox). Every change to
	 * a message (an edit, a retract, a reaction) is an event, so the log's last seq keys it.
	 */
	private lastPreview(): MessagePreview | null {
		const lastSeq = this.log.lastSeq;
		if (this.preview?.lastSeq !== lastSeq) {
			const last = this.log.lastLiveMessage();
			const value =
				last === undefined
					? null
					: { msgId: last.msgId, seq: last.seq, author: last.author, excerpt: excerptOf(last.text), ts: last.ts };
			this.preview = { lastSeq, value };
		}
		return this.preview.value;
	}

	/** Runs a prepared command on its own (HTTP), then broadcasts and re-arms as needed. */
	private async commitNow<T extends object>(prepare: () => Prepared<T>): Promise<Result<T>> {
		const prepared = this.write(prepare);
		this.deliver(prepared.events);
		if (prepared.alarm) await this.engine.afterWrite();
		return prepared.result;
	}

	// -------------------------------------------------------------------------------------
	// RPC from the Worker (HTTP routes)
	// -------------------------------------------------------------------------------------

	/**
	 * A send over HTTP: the same as a socket frame, the user's rate limit included. `traceparent`
	 * is the Worker's span that made this call (W3C); a cross-post's ingress span names it.
	 */
	async post(
		identity: Identity,
		input: SendInput,
		traceId: string,
		receivedAt?: number,
		traceparent?: string,
	): Promise<Result<SendResult>> {
		const now = this.engine.now();
		const take = this.buckets.take(identity.id, now);
		if (!take.ok) {
			this.meter.count("refusals", { transport: "http", code: "rate_limited" });
			return fail("rate_limited", "slow down", take.retryAfterMs);
		}
		const via = parseTraceparent(traceparent)?.traceId === traceId ? traceparent : undefined;
		const result = await this.commitNow(() => this.prepareSend(identity, input, traceId, now, receivedAt ?? now, via));
		if (!result.ok) this.meter.count("refusals", { transport: "http", code: result.error.code });
		else {
			this.meter.count("acks", { transport: "http" });
			if (!result.value.duplicate) this.meter.messageStored("http");
		}
		return result;
	}

	/** v1.3: an edit over HTTP (`PATCH /v1/rooms/{room}/messages/{msgId}`), rate-limited like a send. */
	async edit(identity: Identity, input: EditInput, traceId: string): Promise<Result<SendResult>> {
		const now = this.engine.now();
		const take = this.buckets.take(identity.id, now);
		if (!take.ok) {
			this.meter.count("refusals", { transport: "http", code: "rate_limited" });
			return fail("rate_limited", "slow down", take.retryAfterMs);
		}
		const result = await this.commitNow(() => this.prepareEdit(identity, input, traceId, now));
		if (!result.ok) this.meter.count("refusals", { transport: "http", code: result.error.code });
		return result;
	}

	/** v1.3: every text a live message has had, the original first. */
	async editHistory(msgId: string): Promise<Result<EditHistory>> {
		return this.edits.history(this.name, msgId);
	}

	/**
	 * v1.3: a page of live messages matching the query, newest first. Indexes what arrived since
	 * the last search first, a chunk per transaction (objects/search.ts); `rate_limited` while a
	 * long history is still being indexed.
	 */
	async searchMessages(query: SearchQuery): Promise<Result<SearchPage>> {
		return await this.search.search(this.name, query, (work) => this.write(work));
	}

	async remove(identity: Identity, msgId: string, traceId: string): Promise<Result<{ seq: number }>> {
		const now = this.engine.now();
		return await this.commitNow(() => this.prepareDelete(identity, msgId, traceId, now));
	}

	/** A history page; v1.3: each live message carries its `reactions`, `mine` for `readerId`. */
	async events(query: EventsQuery, readerId = ""): Promise<EventsPage> {
		return { room: this.name, events: this.reactions.attach(this.log.page(query), readerId), lastSeq: this.log.lastSeq };
	}

	/** v1.3: a reaction over HTTP, with the user's rate limit, as the `react` frame. */
	async react(identity: Identity, input: ReactInput, traceId: string): Promise<Result<SendResult>> {
		const now = this.engine.now();
		const take = this.buckets.take(identity.id, now);
		if (!take.ok) {
			this.meter.count("refusals", { transport: "http", code: "rate_limited" });
			return fail("rate_limited", "slow down", take.retryAfterMs);
		}
		const result = await this.commitNow(() => this.prepareReact(identity, input, traceId, now));
		if (!result.ok) this.meter.count("refusals", { transport: "http", code: result.error.code });
		return result;
	}

	/** v1.3: `PUT /v1/rooms/{room}/read`, as the `read` frame; answers the marker as stored and its unread count. */
	async markRead(identity: Identity, seq: number): Promise<Result<ReadResult>> {
		const now = this.engine.now();
		const take = this.buckets.take(identity.id, now);
		if (!take.ok) {
			this.meter.count("refusals", { transport: "http", code: "rate_limited" });
			return fail("rate_limited", "slow down", take.retryAfterMs);
		}
		const read = this.write(() => this.prepareRead(identity, seq, now));
		this.sendReceipts(read.receipts);
		return ok(this.reads.state(identity.id));
	}

	/** Changes the policy; with `audit`, the change and its audit entry commit together. */
	async updatePolicy(patch: PolicyPatch, audit?: { actor: string; reason: string; traceId: string }): Promise<RoomPolicy> {
		const banGuests = patch.banGuests ?? this.policy.banGuests ?? false;
		const next: RoomPolicy = {
			readOnly: patch.readOnly ?? this.policy.readOnly,
			...(banGuests ? { banGuests } : {}),
			banned: patch.banned ?? this.policy.banned,
		};
		if (audit === undefined) {
			this.log.setMeta(POLICY_KEY, JSON.stringify(next));
			this.policy = next;
			return next;
		}
		const before = this.policy;
		const now = Date.now();
		this.write(() => {
			this.log.setMeta(POLICY_KEY, JSON.stringify(next));
			const entry = {
				at: now,
				actor: audit.actor,
				taskId: policyTarget(this.name),
				action: POLICY_ACTION,
				reason: audit.reason,
				from: policySummary(before),
				to: policySummary(next),
				traceId: audit.traceId,
			};
			this.ops.audit(entry, now);
		});
		this.policy = next;
		// The audit entry reaches the index through the feed, which the alarm ships.
		await this.engine.afterWrite();
		return next;
	}

	async getPolicy(): Promise<RoomPolicy> {
		return this.policy;
	}

	/** A page of who is online, sorted by user id (v1.2; the list a big room no longer sends). */
	async members(query: MembersQuery): Promise<MembersPage> {
		const roster = this.roster();
		return { room: this.name, count: roster.count, ...roster.page(query) };
	}

	/** v1.4: this room as one reader's inbox sees it (GET /v1/me/inbox asks each of the user's rooms). */
	async inboxSummary(userId: string): Promise<RoomSummary> {
		this.storageMeter.countCall("in", "inboxSummary");
		return this.summaryFor(userId);
	}

	/**
	 * v1.4: the user's inbox has a socket open and wants to hear of this room's changes for a
	 * while (it renews the wish from its alarm). Kept in memory only: a room that was evicted
	 * forgets it, and the inbox's next renewal brings it back. Answers whether it was taken
	 * (a room watched by too many inboxes says no, and those inboxes read counts when asked).
	 */
	async watchInbox(userId: string): Promise<boolean> {
		this.storageMeter.countCall("in", "watchInbox");
		return this.watchers.watch(userId);
	}

	// -------------------------------------------------------------------------------------
	// Cross-room work: the outbox ticker (origin side) and the barrier (target side)
	// -------------------------------------------------------------------------------------

	/**
	 * Target side: applies a batch of tasks through the barrier, in order, in one transaction.
	 * The first task that does not go through stops the batch: the rest are answered
	 * `deferred` and come again, so copies never overtake one another. `spans` is false for an
	 * origin's direct attempt, whose spans the origin keeps in its own task rows.
	 */
	async applyTasks(tasks: TaskMessage[], faults: boolean[], spans = true): Promise<TaskOutcome[]> {
		const now = this.engine.now();
		const events: RoomEvent[] = [];
		// A direct attempt leaves no span row here (`spans` false): its origin notes the answer in its task rows.
		const outcomes = this.write(() =>
			applyInOrder(
				tasks,
				faults,
				(task) => {
					const result = this.barrier.apply(task, this.policy, now, (ids, traceId, at) => this.moderate(ids, traceId, at));
					const detail =
						result.outcome.status === "ok" ? result.outcome.detail : `${result.outcome.code}: ${result.outcome.message}`;
					if (spans)
						this.ops.span(
							task.traceId,
							now,
							"room",
							`${task.kind}.${result.outcome.status}`,
							`attempt ${task.attempt}: ${detail}${viaSpan(task.traceparent)}`,
						);
					events.push(...result.events);
					return result.outcome;
				},
				(task) => {
					if (spans) this.ops.span(task.traceId, now, "room", `${task.kind}.fault_injected`, `attempt ${task.attempt}`);
				},
			),
		);
		this.deliver(events);
		// A moderation may have started compensations of this room's own sagas, and unmentions.
		if (tasks.some((task) => task.kind === "moderate")) await this.engine.afterWrite();
		return outcomes;
	}

	/**
	 * Retracts messages for an operator moderation, inside the caller's transaction: each
	 * live one gets a `moderated` retract, and a cross-posted original also compensates its
	 * saga with reason `moderated`, so its copies are retracted through the outbox.
	 */
	private moderate(msgIds: readonly string[], traceId: string, now: number): { events: RoomEvent[]; counts: ModerationCounts } {
		const counts: ModerationCounts = { retracted: 0, alreadyGone: 0, missing: 0, sagasCompensated: 0 };
		const events: RoomEvent[] = [];
		for (const msgId of msgIds) {
			const message = this.log.findMessage(msgId);
			if (message === undefined) {
				counts.missing++;
				continue;
			}
			if (message.retractedBy !== null) counts.alreadyGone++;
			else {
				const retract = this.log.appendRetract(msgId, "moderated", traceId, now);
				events.push(retract);
				this.unmentionGone(message, retract.seq, traceId, now);
				counts.retracted++;
			}
			if (message.sagaId !== null && this.outbox.compensate(message.sagaId, "moderated", now)) counts.sagasCompensated++;
		}
		return { events, counts };
	}

	/** What an operator moderation with this selector would retract here (changes nothing). */
	async moderationPlan(selector: Selector): Promise<RoomPlan> {
		const range = this.log.seqRange(selector.from, selector.to);
		let matches: Array<{ msgId: string; sagaId: string | null }>;
		if (selector.msgIds !== undefined) {
			matches = [];
			for (const msgId of selector.msgIds) {
				const found = this.log.findMessage(msgId);
				if (found === undefined || found.retractedBy !== null) continue;
				if (selector.author !== undefined && found.event.author.id !== selector.author) continue;
				if (found.event.seq < range.first || found.event.seq > range.last) continue;
				matches.push({ msgId, sagaId: found.sagaId });
			}
		} else {
			matches = this.log.liveMessages(range, selector.author, MAX_MESSAGES_PER_ROOM + 1);
		}
		const truncated = matches.length > MAX_MESSAGES_PER_ROOM;
		const kept = matches.slice(0, MAX_MESSAGES_PER_ROOM);
		const copies = kept.flatMap((m) =>
			m.sagaId === null ? [] : this.outbox.copyRooms(m.sagaId).map((room) => ({ room, sagaId: m.sagaId ?? "" })),
		);
		return { room: this.name, msgIds: kept.map((m) => m.msgId), copies, truncated };
	}

	/** The current states of some of this room's sagas (for a moderation's progress). */
	async sagaStates(sagaIds: string[]): Promise<Record<string, string>> {
		return Object.fromEntries(sagaIds.map((id) => [id, this.outbox.sagaState(id) ?? "unknown"]));
	}

	async saga(sagaId: string): Promise<(SagaView & { text: string }) | undefined> {
		// Whoever reads a cross-post here and then lists the index finds it there as well.
		await this.engine.indexed(sagaId);
		const saga = this.outbox.getSaga(sagaId);
		if (saga === undefined) return undefined;
		return { ...saga, text: this.log.findMessage(saga.msgId)?.event.text ?? "" };
	}
}
