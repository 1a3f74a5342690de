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
	DEFAULT_REPLAY,
	type DeletedFrame,
	type EventsPage,
	type EventsQuery,
	type ErrorFrame,
	frameId,
	type MessageEvent,
	parseClientFrame,
	type PolicyPatch,
	policyRefusal,
	REPLAY_LIMIT,
	type RoomEvent,
	type RoomPolicy,
	type SendInput,
	type SendResult,
	type ServerFrame,
	type UserRef,
	utf8Bytes,
} from "../src/protocol.ts";
import { recordRefusal, SOCKET_OPEN_COST, UserBuckets } from "../src/rate-limit.ts";
import type { ModerationCounts, SagaView, TaskMessage, TaskOutcome } from "../src/saga/types.ts";
import { MAX_MESSAGES_PER_ROOM, type RoomPlan, type Selector } from "../src/ops/moderation.ts";
import { newSagaId } from "../src/saga/ids.ts";
import { POLICY_ACTION, policySummary, policyTarget } from "../src/ops/policy-audit.ts";
import { newTraceId, parseTraceparent, viaSpan } from "../src/trace.ts";
import { Meter } from "./meter.ts";
import { Barrier, refusal } from "./barrier.ts";
import { EventLog, type StoredMessage } from "./event-log.ts";
import { meteredSql, StorageMeter } from "./storage-meter.ts";
import { applyMigrations } from "./migrate.ts";
import { OutboxObject, outboxParts } from "./outbox-object.ts";
import type { OpsRecord } from "./ops-record.ts";
import type { Outbox } from "./outbox.ts";
import { TaskEngine } from "./task-engine.ts";
import {
	CLOSE,
	closeQuietly,
	identityOf,
	type LiveState,
	newLiveState,
	Presence,
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
	frame: ClientFrame;
	traceId: string;
	receivedAt: number;
}

/** What a command did: events to broadcast, and what to answer its sender. */
interface Executed {
	events: RoomEvent[];
	reply: AckFrame | DeletedFrame | ErrorFrame;
	alarm: boolean;
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
	private readonly outbox: Outbox;
	private readonly barrier: Barrier;
	private readonly ops: OpsRecord;
	readonly engine: TaskEngine;
	/** Counters for /v1/admin/metrics, in memory (objects/meter.ts); shared with the engine. */
	readonly meter: Meter;
	/** Rows this room has written (an instance field, so no RPC surface; see meterReading()). */
	readonly storageMeter = new StorageMeter();
	private policy: RoomPolicy;
	/** Who is online, kept in memory and rebuilt from the sockets' attachments on wake. */
	private readonly presence: Presence;
	/** Abuse windows per socket (see liveState). */
	private readonly live = new WeakMap<WebSocket, LiveState>();
	/** The rate limit, per user across sockets and HTTP posts. */
	private readonly buckets: UserBuckets;
	/** Authors known to have posted here, so the first-post check reads SQLite once each. */
	private readonly knownAuthors = new Set<string>();
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
		const parts = outboxParts(sql, () => this.name, this.config);
		this.outbox = parts.outbox;
		this.ops = parts.ops;
		this.barrier = new Barrier(sql, this.log);
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
			onRollback: () => this.log.resync(),
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
		this.presence = new Presence(() =>
			this.openSockets().flatMap((ws) => {
				const who = readSocketIdentity(ws);
				return who === undefined ? [] : [who.user];
			}),
		);
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
		const mine = this.openSockets(userTag(identity.id)).length;
		if (mine >= this.config.maxSocketsPerUser) {
			// Refused before accepting, so it is an HTTP answer the client can read.
			return errorResponse({
				code: "rate_limited",
				message: `at most ${this.config.maxSocketsPerUser} sockets per user in a room`,
				retryAfterMs: 5000,
			});
		}
		const { 0: client, 1: server } = new WebSocketPair();
		const firstOfUser = mine === 0;
		this.ctx.acceptWebSocket(server, [userTag(identity.id)]);
		server.serializeAttachment(socketIdentity(identity));
		this.meter.socketsMoved();
		const user: UserRef = { id: identity.id, name: identity.name };
		this.presence.joined(user);

		const lastSeq = this.log.lastSeq;
		const welcome: ServerFrame = {
			type: "welcome",
			room: this.name,
			user,
			lastSeq,
			online: this.presence.online(),
			limits: roomLimits(this.config),
		};
		server.send(JSON.stringify(welcome));
		const replay =
			since === undefined
				? this.log.page({ latest: true, limit: DEFAULT_REPLAY })
				: this.log.page({ after: since, limit: REPLAY_LIMIT });
		for (const event of replay) server.send(JSON.stringify(event));
		const through = replay.at(-1)?.seq ?? Math.min(since ?? lastSeq, lastSeq);
		server.send(JSON.stringify({ type: "synced", through } satisfies ServerFrame));

		if (firstOfUser) this.broadcast(JSON.stringify({ type: "presence", joined: user } satisfies ServerFrame), server);
		return new Response(null, { status: 101, webSocket: client });
	}

	override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
		const who = readSocketIdentity(ws);
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
		const take = this.buckets.take(who.user.id, now);
		if (!take.ok) {
			// Parsed only to name the refused frame, so the client knows which send to hold back.
			const id = typeof message === "string" ? frameId(message) : undefined;
			const limited: ErrorBody = { code: "rate_limited", message: "slow down", retryAfterMs: take.retryAfterMs };
			this.refuse(ws, now, id === undefined ? limited : { ...limited, id });
			return;
		}
		if (typeof message !== "string") {
			this.refuse(ws, now, { code: "bad_request", message: "binary frames are not accepted; send JSON text" });
			return;
		}
		const parsed = parseClientFrame(message, this.name, this.config);
		if (!parsed.ok) {
			this.refuse(ws, now, parsed.error);
			return;
		}
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

	private socketGone(ws: WebSocket): void {
		const who = readSocketIdentity(ws);
		if (who === undefined) return;
		this.meter.socketsMoved();
		const remaining = this.openSockets(userTag(who.user.id), ws).length;
		if (this.presence.left(who.user.id, remaining)) {
			this.broadcast(JSON.stringify({ type: "presence", left: who.user } satisfies ServerFrame), ws);
		}
	}

	/** Open sockets, optionally by tag, leaving out one that is going away. */
	private openSockets(tag?: string, except?: WebSocket): WebSocket[] {
		return this.ctx
			.getWebSockets(tag)
			.filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN && readSocketIdentity(ws)?.closing !== true);
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

	/** Sends one serialized frame to every open socket: serialize once, send many. */
	private broadcast(frame: string, except?: WebSocket): void {
		for (const ws of this.ctx.getWebSockets()) {
			if (ws !== except) sendIfOpen(ws, frame);
		}
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
		// Marked in the attachment, so frames still in flight are dropped even after a wake.
		ws.serializeAttachment({ ...who, closing: true } satisfies SocketIdentity);
		closeQuietly(ws, code, reason);
		this.socketGone(ws);
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
		const sockets = this.ctx.getWebSockets();
		for (const result of results) {
			for (const event of result.events) {
				const frame = JSON.stringify(event);
				for (const ws of sockets) sendIfOpen(ws, frame);
			}
		}
		commands.forEach((command, i) => {
			const reply = results[i]?.reply;
			if (reply === undefined) return;
			if (reply.type === "error") this.refuse(command.ws, now, reply);
			else {
				sendIfOpen(command.ws, JSON.stringify(reply));
				if (reply.type === "ack") {
					this.meter.count("acks", { transport: "socket" });
					if (!reply.duplicate) this.meter.messageStored("socket");
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
		const existing = this.log.findByClientId(identity.id, input.id);
		if (existing !== undefined) return { result: ok(sendResult(existing, true)), events: [], alarm: false };
		const refusal = this.policyRefusal(identity);
		if (refusal !== undefined) return { result: refusal, events: [], alarm: false };
		if (input.after !== undefined && this.log.findByClientId(identity.id, input.after) === undefined) {
			return {
				result: fail("out_of_order", `the message before this one (${input.after}) is not stored yet; send it first`),
				events: [],
				alarm: false,
			};
		}
		const targets = input.crossPost ?? [];
		const denied = targets.find((room) => !canAccessRoom(identity, room));
		if (denied !== undefined)
			return { result: fail("forbidden", `your token does not grant room ${denied}`), events: [], alarm: false };
		const sagaId = targets.length > 0 ? newSagaId(this.name) : null;
		this.log.pruneDedup(now);
		// An author's first message here registers the room in the author directory, so an
		// operator moderation by author can find it. Later messages cost nothing extra.
		const firstPost = !this.knownAuthors.has(identity.id) && !this.log.hasAuthor(identity.id);
		if (firstPost) this.ops.authorPosted(identity.id, now);
		const message = this.log.appendMessage(
			{
				author: { id: identity.id, name: identity.name },
				clientId: input.id,
				text: input.text,
				traceId,
				...(sagaId === null ? {} : { sagaId }),
			},
			now,
		);
		this.knownAuthors.add(identity.id);
		if (sagaId !== null) {
			// The message, its dedup record and one task per target commit together; deliveries
			// the engine's gate lets through are claimed now, for the room to attempt itself. The
			// commit's spans (the ingress one names the Worker's span) go in the first task's row.
			this.outbox.startSaga(sagaId, message, targets, now, { receivedAt, traceparent, direct: this.engine.directGate });
		}
		return { result: ok(sendResult({ event: message, sagaId }, false)), events: [message], alarm: sagaId !== null || firstPost };
	}

	private write<T>(work: () => T): T {
		return this.engine.write(work);
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
		return { result: ok({ seq: retract.seq }), events: [retract], alarm: message.sagaId !== null };
	}

	/** Runs a prepared command on its own (HTTP), then broadcasts and re-arms as needed. */
	private async commitNow<T extends object>(prepare: () => Prepared<T>): Promise<Result<T>> {
		const prepared = this.write(prepare);
		for (const event of prepared.events) this.broadcast(JSON.stringify(event));
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

	async remove(identity: Identity, msgId: string, traceId: string): Promise<Result<{ seq: number }>> {
		const now = this.engine.now();
		return await this.commitNow(() => this.prepareDelete(identity, msgId, traceId, now));
	}

	async events(query: EventsQuery): Promise<EventsPage> {
		return { room: this.name, events: this.log.page(query), lastSeq: this.log.lastSeq };
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
		const outcomes = this.write(() => {
			const done: TaskOutcome[] = [];
			for (const [i, task] of tasks.entries()) {
				if (done.some((outcome) => outcome.status !== "ok")) {
					done.push({ status: "deferred", code: "deferred", message: "an earlier task of the batch did not go through" });
					continue;
				}
				// A direct attempt leaves no span row here: its origin notes the answer in its task rows.
				if (faults[i] === true) {
					if (spans) this.ops.span(task.traceId, now, "room", `${task.kind}.fault_injected`, `attempt ${task.attempt}`);
					done.push(refusal("fault", "injected fault (FAULTS=on)"));
					continue;
				}
				const result = this.barrier.apply(task, this.policy, now, (ids, traceId, at) => this.moderate(ids, traceId, at));
				const detail = result.outcome.status === "ok" ? result.outcome.detail : `${result.outcome.code}: ${result.outcome.message}`;
				if (spans)
					this.ops.span(
						task.traceId,
						now,
						"room",
						`${task.kind}.${result.outcome.status}`,
						`attempt ${task.attempt}: ${detail}${viaSpan(task.traceparent)}`,
					);
				events.push(...result.events);
				done.push(result.outcome);
			}
			return done;
		});
		for (const event of events) this.broadcast(JSON.stringify(event));
		// A moderation may have started compensations of this room's own sagas.
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
				events.push(this.log.appendRetract(msgId, "moderated", traceId, now));
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
