/**
 * A chat room: one Durable Object per room id. SQLite holds the event log (and, with the
 * saga layer, the outbox); sockets are hibernatable and keep their state in attachments.
 * The Worker authenticates and authorizes before any call reaches the room, so the room
 * trusts the identity it is handed.
 */
import { DurableObject } from "cloudflare:workers";
import { MIGRATIONS } from "../migrations/index.ts";
import type { Identity } from "../src/auth.ts";
import { canAccessRoom } from "../src/auth.ts";
import { type Config, configFor } from "../src/config.ts";
import { type ErrorBody, type Failure, fail, type Result } from "../src/errors.ts";
import {
	DEFAULT_REPLAY,
	type EventsPage,
	type EventsQuery,
	type ErrorFrame,
	type MessageEvent,
	parseClientFrame,
	type PolicyPatch,
	REPLAY_LIMIT,
	type RoomEvent,
	type RoomPolicy,
	type SendInput,
	type SendResult,
	type ServerFrame,
	type UserRef,
} from "../src/protocol.ts";
import { recordRefusal, takeToken } from "../src/rate-limit.ts";
import { leaseMs } from "../src/saga/backoff.ts";
import { withTimeout } from "../src/saga/errors.ts";
import type { SagaView, TaskMessage, TaskOutcome, TaskView } from "../src/saga/types.ts";
import type { AlertView, Span } from "../src/ops/types.ts";
import { shardName } from "../src/ops/shard.ts";
import { newSagaId } from "../src/saga/ids.ts";
import { newTraceId } from "../src/trace.ts";
import { Barrier } from "./barrier.ts";
import { EventLog, type StoredMessage } from "./event-log.ts";
import { applyMigrations } from "./migrate.ts";
import { OpsRecord } from "./ops-record.ts";
import { type ManualAction, Outbox } from "./outbox.ts";
import {
	CLOSE,
	closeQuietly,
	newSocketState,
	readSocketState,
	sendIfOpen,
	type SocketState,
	userTag,
} from "./socket-state.ts";

/** Header on the internal upgrade request that carries the authenticated identity. */
export const IDENTITY_HEADER = "x-parley-identity";
/** Header on the internal upgrade request that carries the parsed `since`. */
export const SINCE_HEADER = "x-parley-since";

const POLICY_KEY = "policy";
const encoder = new TextEncoder();
/** Queue sends and index feeds from the alarm give up after this; the rows stay and retry. */
const OUTBOUND_TIMEOUT_MS = 10_000;
/** An alert webhook that has not answered by then counts as a failed delivery. */
const WEBHOOK_TIMEOUT_MS = 5_000;

/** What the queue consumer saw of one delivery, for the trace. */
export interface DeliveryNote {
	receivedAt: number;
	queueAttempts: number;
}

export type ActionReply =
	| { ok: true; task: TaskView; repeated: boolean }
	| { ok: false; error: { code: "not_found" | "conflict"; message: string } };


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

/** UTF-8 size of a text frame, computed only when the cheap bounds cannot decide. */
function frameBytes(text: string, limit: number): number {
	if (text.length > limit) return text.length;
	if (text.length * 3 <= limit) return text.length;
	return encoder.encode(text).byteLength;
}

export class Room extends DurableObject<Env> {
	private readonly config: Config;
	private readonly log: EventLog;
	private readonly outbox: Outbox;
	private readonly barrier: Barrier;
	private readonly ops: OpsRecord;
	private policy: RoomPolicy;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.config = configFor(env);
		applyMigrations(ctx.storage, MIGRATIONS);
		this.log = new EventLog(ctx.storage.sql);
		this.outbox = new Outbox(ctx.storage.sql, () => this.name, {
			baseDelayMs: this.config.outboxBaseDelayMs,
			maxAttempts: this.config.outboxMaxAttempts,
			leaseMs: leaseMs(this.config.outboxBaseDelayMs),
		});
		this.barrier = new Barrier(ctx.storage.sql, this.log);
		this.ops = new OpsRecord(ctx.storage.sql, () => this.name, {
			shards: this.config.opsIndexShards,
			webhook: this.config.alertWebhookUrl !== "",
			baseDelayMs: this.config.outboxBaseDelayMs,
		});
		const stored = this.log.getMeta(POLICY_KEY);
		this.policy = stored === undefined ? { readOnly: false, banned: [] } : (JSON.parse(stored) as RoomPolicy);
		// Heartbeats are answered by the runtime without waking a hibernated room.
		ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
		// A fired alarm is used up: if this incarnation starts with live tasks, make sure one is set.
		if (this.outbox.countLive() > 0 || this.ops.nextWakeAt() !== null) void ctx.blockConcurrencyWhile(() => this.armAlarm());
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
		const now = Date.now();

		const { 0: client, 1: server } = new WebSocketPair();
		const firstOfUser = this.openSockets(userTag(identity.id)).length === 0;
		this.ctx.acceptWebSocket(server, [userTag(identity.id)]);
		server.serializeAttachment(newSocketState(identity, this.config.rateLimitPerSec, now));

		const user: UserRef = { id: identity.id, name: identity.name };
		const lastSeq = this.log.lastSeq;
		server.send(
			JSON.stringify({ type: "welcome", room: this.name, user, lastSeq, online: this.online() } satisfies ServerFrame),
		);
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
		const state = readSocketState(ws);
		// Frames that were in flight when the server closed the socket are dropped.
		if (state === undefined || state.closing === true || ws.readyState !== WebSocket.OPEN) return;
		const now = Date.now();
		const size = typeof message === "string" ? frameBytes(message, this.config.maxFrameBytes) : message.byteLength;
		if (size > this.config.maxFrameBytes) {
			this.closeSocket(ws, state, CLOSE.tooBig, `frame over ${this.config.maxFrameBytes} bytes`);
			return;
		}
		const take = takeToken(state.bucket, this.config.rateLimitPerSec, now);
		state.bucket = take.bucket;
		if (!take.ok) {
			this.refuse(ws, state, now, { code: "rate_limited", message: "slow down", retryAfterMs: take.retryAfterMs });
			return;
		}
		if (typeof message !== "string") {
			this.refuse(ws, state, now, { code: "bad_request", message: "binary frames are not accepted; send JSON text" });
			return;
		}
		const parsed = parseClientFrame(message, this.name, this.config);
		if (!parsed.ok) {
			this.refuse(ws, state, now, parsed.error);
			return;
		}
		const frame = parsed.value;
		const identity: Identity = { ...state.user, admin: state.admin, rooms: state.rooms, guest: state.user.id.startsWith("guest:") };
		if (frame.type === "send") {
			const result = await this.commitSend(identity, frame, newTraceId(), now);
			if (!result.ok) {
				this.refuse(ws, state, now, { ...result.error, id: frame.id });
				return;
			}
			ws.serializeAttachment(state);
			const { ok: _ok, ...ack } = result;
			sendIfOpen(ws, JSON.stringify({ type: "ack", id: frame.id, ...ack } satisfies ServerFrame));
			return;
		}
		const result = await this.commitDelete(identity, frame.msgId, newTraceId(), now);
		if (!result.ok) {
			this.refuse(ws, state, now, result.error);
			return;
		}
		ws.serializeAttachment(state);
		sendIfOpen(ws, JSON.stringify({ type: "deleted", msgId: frame.msgId, seq: result.seq } satisfies ServerFrame));
	}

	override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
		// The runtime already answered the close (web_socket_auto_reply_to_close); this is
		// for older compatibility dates, and is a no-op when the socket is closed.
		closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
		this.socketGone(ws);
	}

	override async webSocketError(ws: WebSocket): Promise<void> {
		this.socketGone(ws);
	}

	private socketGone(ws: WebSocket): void {
		const state = readSocketState(ws);
		if (state === undefined) return;
		if (this.openSockets(userTag(state.user.id), ws).length === 0) {
			this.broadcast(JSON.stringify({ type: "presence", left: state.user } satisfies ServerFrame), ws);
		}
	}

	/** Open sockets, optionally by tag, leaving out one that is going away. */
	private openSockets(tag?: string, except?: WebSocket): WebSocket[] {
		return this.ctx
			.getWebSockets(tag)
			.filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN && readSocketState(ws)?.closing !== true);
	}

	private online(): UserRef[] {
		const users = new Map<string, UserRef>();
		for (const ws of this.openSockets()) {
			const state = readSocketState(ws);
			if (state !== undefined) users.set(state.user.id, state.user);
		}
		return [...users.values()];
	}

	/** Sends one serialized frame to every open socket: serialize once, send many. */
	private broadcast(frame: string, except?: WebSocket): void {
		for (const ws of this.ctx.getWebSockets()) {
			if (ws !== except) sendIfOpen(ws, frame);
		}
	}

	private refuse(ws: WebSocket, state: SocketState, now: number, error: ErrorBody & { id?: string }): void {
		const { window, close } = recordRefusal(state.abuse, now);
		state.abuse = window;
		if (close) {
			this.closeSocket(ws, state, CLOSE.policy, "too many refused frames");
			return;
		}
		ws.serializeAttachment(state);
		sendIfOpen(ws, JSON.stringify({ type: "error", ...error } satisfies ErrorFrame));
	}

	private closeSocket(ws: WebSocket, state: SocketState, code: number, reason: string): void {
		state.closing = true;
		ws.serializeAttachment(state);
		closeQuietly(ws, code, reason);
		this.socketGone(ws);
	}

	// -------------------------------------------------------------------------------------
	// Commands (shared by the socket and the HTTP routes)
	// -------------------------------------------------------------------------------------

	private policyRefusal(identity: Identity): Failure | undefined {
		if (this.policy.banned.includes(identity.id)) return fail("banned", "you are banned from this room");
		if (this.policy.readOnly && !identity.admin) return fail("read_only", "this room is read-only");
		return undefined;
	}

	/**
	 * Commits a send and broadcasts it. A repeat of the same client id returns the original
	 * result; the policy is checked after dedup so a lost ack can always be recovered.
	 */
	private async commitSend(identity: Identity, input: SendInput, traceId: string, now: number, receivedAt = now): Promise<Result<SendResult>> {
		const existing = this.log.findByClientId(identity.id, input.id);
		if (existing !== undefined) return { ok: true, ...sendResult(existing, true) };
		const refusal = this.policyRefusal(identity);
		if (refusal !== undefined) return refusal;
		const targets = input.crossPost ?? [];
		const denied = targets.find((room) => !canAccessRoom(identity, room));
		if (denied !== undefined) return fail("forbidden", `your token does not grant room ${denied}`);
		const sagaId = targets.length > 0 ? newSagaId(this.name) : null;
		// The message, its dedup record, the saga and one task per target commit together.
		const event = this.write(() => {
			this.log.pruneDedup(now);
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
			if (sagaId !== null) {
				this.ops.span(traceId, receivedAt, "ingress", "message.received", `from ${identity.id}, cross-post to ${targets.join(", ")}`);
				this.ops.span(traceId, now, "room", "message.committed", `seq ${message.seq}, saga ${sagaId}`);
				this.outbox.startSaga(sagaId, message, targets, now);
			}
			return message;
		});
		this.broadcast(JSON.stringify(event));
		if (sagaId !== null) await this.armAlarm();
		return { ok: true, ...sendResult({ event, sagaId }, false) };
	}

	/**
	 * Runs a write as one transaction. On a throw nothing of it stays, and the in-memory
	 * seq counter and buffered outbox changes are put back in step with the database.
	 */
	private write<T>(work: () => T): T {
		try {
			return this.ctx.storage.transactionSync(() => {
				const result = work();
				// What the change means for traces, the ops index and alerts commits with it.
				const now = Date.now();
				this.ops.recordChanges(this.outbox.drainChanges(), this.outbox.drainSagaChanges(), now);
				this.ops.raiseAlerts(this.outbox.drainAlertRequests(), now);
				return result;
			});
		} catch (error) {
			this.log.resync();
			this.outbox.discardPending();
			throw error;
		}
	}

	/**
	 * Retracts a message. Deleting a cross-posted original also compensates its saga, so every
	 * copy is retracted (reason `deleted`); deleting a copy in its own room leaves the saga be.
	 */
	private async commitDelete(identity: Identity, msgId: string, traceId: string, now: number): Promise<Result<{ seq: number }>> {
		const message = this.log.findMessage(msgId);
		if (message === undefined) return fail("not_found", `no message ${msgId} in this room`);
		if (message.event.author.id !== identity.id && !identity.admin) {
			return fail("forbidden", "only the author or an admin can delete a message");
		}
		if (message.retractedBy !== null) return { ok: true, seq: message.retractedBy };
		const sagaId = message.sagaId;
		const retract: RoomEvent = this.write(() => {
			const event = this.log.appendRetract(msgId, "deleted", traceId, now);
			if (sagaId !== null) this.outbox.compensate(sagaId, "deleted", now);
			return event;
		});
		this.broadcast(JSON.stringify(retract));
		if (sagaId !== null) await this.afterOutboxWrite();
		return { ok: true, seq: retract.seq };
	}

	// -------------------------------------------------------------------------------------
	// RPC from the Worker (HTTP routes)
	// -------------------------------------------------------------------------------------

	async send(identity: Identity, input: SendInput, traceId: string, receivedAt?: number): Promise<Result<SendResult>> {
		return await this.commitSend(identity, input, traceId, Date.now(), receivedAt);
	}

	async remove(identity: Identity, msgId: string, traceId: string): Promise<Result<{ seq: number }>> {
		return await this.commitDelete(identity, msgId, traceId, Date.now());
	}

	async events(query: EventsQuery): Promise<EventsPage> {
		return { room: this.name, events: this.log.page(query), lastSeq: this.log.lastSeq };
	}

	async updatePolicy(patch: PolicyPatch): Promise<RoomPolicy> {
		const next: RoomPolicy = {
			readOnly: patch.readOnly ?? this.policy.readOnly,
			banned: patch.banned ?? this.policy.banned,
		};
		this.log.setMeta(POLICY_KEY, JSON.stringify(next));
		this.policy = next;
		return next;
	}

	async getPolicy(): Promise<RoomPolicy> {
		return this.policy;
	}

	// -------------------------------------------------------------------------------------
	// Cross-room work: the outbox ticker (origin side) and the barrier (target side)
	// -------------------------------------------------------------------------------------

	/**
	 * Sets the alarm to the outbox's next due time, or clears it when nothing is live.
	 * Called after every outbox write and on start; the schedule itself lives in SQLite.
	 */
	private async armAlarm(notBefore = 0): Promise<void> {
		const candidates = [this.outbox.nextWakeAt(), this.ops.nextWakeAt(), this.outbox.nextStuckAt(this.config.alertStuckMs)];
		const times = candidates.filter((t): t is number => t !== null);
		const due = times.length === 0 ? null : Math.min(...times);
		const current = await this.ctx.storage.getAlarm();
		if (due === null) {
			if (current !== null) await this.ctx.storage.deleteAlarm();
			return;
		}
		const next = Math.max(due, notBefore);
		if (current !== next) await this.ctx.storage.setAlarm(next);
	}

	/** After an outbox change: tell authors about finished sagas, then re-arm. */
	private async afterOutboxWrite(notBefore = 0): Promise<void> {
		for (const report of this.outbox.drainReports()) {
			const frame = JSON.stringify({ type: "saga", sagaId: report.sagaId, state: report.state, steps: report.steps } satisfies ServerFrame);
			for (const ws of this.openSockets(userTag(report.authorId))) sendIfOpen(ws, frame);
		}
		await this.armAlarm(notBefore);
	}

	/**
	 * The ticker: claims due tasks with a lease and sends them to the queue. It never throws:
	 * the platform's own alarm retries are limited, so failures are recorded as task backoff
	 * and the next alarm is always computed from the table.
	 */
	override async alarm(): Promise<void> {
		const now = Date.now();
		// After a failed run the next one waits a base delay, so a persistent fault cannot spin.
		let notBefore = 0;
		try {
			const claimed = this.write(() => {
				this.outbox.archiveOld(now);
				this.outbox.raiseStuck(now, this.config.alertStuckMs);
				return this.outbox.claimDue(now);
			});
			for (let i = 0; i < claimed.length; i += 100) {
				const chunk = claimed.slice(i, i + 100);
				try {
					await withTimeout("queue send", OUTBOUND_TIMEOUT_MS, this.env.OUTBOX.sendBatch(chunk.map((body) => ({ body }))));
				} catch (error) {
					const message = `queue send failed: ${error instanceof Error ? error.message : String(error)}`;
					console.error(JSON.stringify({ level: "error", msg: message, room: this.name, tasks: chunk.map((t) => t.taskId) }));
					this.write(() => this.outbox.releaseUnsent(chunk.map((t) => t.taskId), message, Date.now()));
				}
			}
			await this.shipFeed();
			await this.deliverAlerts();
		} catch (error) {
			notBefore = Date.now() + this.config.outboxBaseDelayMs;
			console.error(JSON.stringify({ level: "error", msg: "outbox alarm failed", room: this.name, error: String(error) }));
		} finally {
			await this.afterOutboxWrite(notBefore);
		}
	}

	/** Sends due index updates to their shards; a shard that fails keeps its rows for later. */
	private async shipFeed(): Promise<void> {
		for (const batch of this.ops.dueFeed(Date.now())) {
			try {
				const shard = this.env.OPS_INDEX.getByName(shardName(batch.shard));
				await withTimeout("ops index feed", OUTBOUND_TIMEOUT_MS, shard.ingest(batch.updates));
				this.write(() => this.ops.feedShipped(batch));
			} catch (error) {
				console.warn(JSON.stringify({ level: "warn", msg: "ops index feed failed", room: this.name, shard: batch.shard, error: String(error) }));
				this.write(() => this.ops.feedFailed(batch, Date.now()));
			}
		}
	}

	/** Posts due alerts to the webhook, each retried with backoff and recorded either way. */
	private async deliverAlerts(): Promise<void> {
		const url = this.config.alertWebhookUrl;
		if (url === "") return;
		for (const { alertId, payload } of this.ops.dueAlerts(Date.now())) {
			let error: string | undefined;
			try {
				const response = await fetch(url, {
					method: "POST",
					headers: { "Content-Type": "application/json" },
					body: JSON.stringify(payload),
					signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
				});
				if (!response.ok) error = `webhook answered ${response.status}`;
				await response.body?.cancel();
			} catch (thrown) {
				error = `webhook unreachable: ${thrown instanceof Error ? thrown.message : String(thrown)}`;
			}
			const at = Date.now();
			this.write(() => (error === undefined ? this.ops.alertDelivered(alertId, at) : this.ops.alertUndelivered(alertId, error, at)));
			if (error !== undefined) console.error(JSON.stringify({ level: "error", msg: "alert delivery failed", traceId: payload.traceId, alertId, error }));
		}
	}

	/** Target side: applies a deliver or retract through the barrier, exactly once. */
	async applyTask(task: TaskMessage, injectFault: boolean): Promise<TaskOutcome> {
		const now = Date.now();
		if (injectFault) {
			this.write(() => this.ops.span(task.traceId, now, "room", `${task.kind}.fault_injected`, `attempt ${task.attempt}`));
			return { status: "transient", code: "fault", message: "injected fault (FAULTS=on)" };
		}
		const applied = this.write(() => {
			const result = this.barrier.apply(task, this.policy, now);
			const detail = result.outcome.status === "ok" ? result.outcome.detail : `${result.outcome.code}: ${result.outcome.message}`;
			this.ops.span(task.traceId, now, "room", `${task.kind}.${result.outcome.status}`, `attempt ${task.attempt}: ${detail}`);
			return result;
		});
		for (const event of applied.events) this.broadcast(JSON.stringify(event));
		return applied.outcome;
	}

	/** Origin side: records what a target did with a task, and moves the saga on. */
	async completeTask(taskId: string, attempt: number, outcome: TaskOutcome, delivery?: DeliveryNote): Promise<TaskView | undefined> {
		const view = this.write(() => {
			const now = Date.now();
			const task = this.outbox.getTask(taskId);
			if (task !== undefined && delivery !== undefined) {
				this.ops.span(task.traceId, delivery.receivedAt, "queue", "queue.delivered", `${task.kind} to ${task.room}, attempt ${attempt}, queue try ${delivery.queueAttempts}`);
			}
			return this.outbox.complete(taskId, attempt, outcome, now);
		});
		await this.afterOutboxWrite();
		return view;
	}

	/** Origin side: an operator's retry, skip or cancel, with its audit entry. */
	async taskAction(taskId: string, action: ManualAction, reason: string, actor: string): Promise<ActionReply> {
		const now = Date.now();
		const reply = this.write((): ActionReply => {
			const result = this.outbox.act(taskId, action, now);
			if (!result.ok) return { ok: false, error: { code: result.code, message: result.message } };
			if (!result.repeated) {
				this.ops.audit({ at: now, actor, taskId, action, reason, from: result.from, to: result.to, traceId: result.task.traceId }, now);
			}
			return { ok: true, task: result.task, repeated: result.repeated };
		});
		if (reply.ok && !reply.repeated) await this.afterOutboxWrite();
		return reply;
	}

	async spans(traceId: string): Promise<Span[]> {
		return this.ops.spans(traceId);
	}

	async alerts(limit: number): Promise<AlertView[]> {
		return this.ops.listAlerts(limit);
	}

	/** Origin side: the dead-letter queue gave up on a task. */
	async deadLetterTask(taskId: string, error: string): Promise<TaskView | undefined> {
		const view = this.write(() => this.outbox.deadLetter(taskId, error, Date.now()));
		await this.afterOutboxWrite();
		return view;
	}

	/** Origin side: the truth about a task, for a consumer that is unsure whether to act. */
	async taskStatus(taskId: string): Promise<TaskView | undefined> {
		return this.outbox.getTask(taskId);
	}

	async saga(sagaId: string): Promise<(SagaView & { text: string }) | undefined> {
		const saga = this.outbox.getSaga(sagaId);
		if (saga === undefined) return undefined;
		return { ...saga, text: this.log.findMessage(saga.msgId)?.event.text ?? "" };
	}
}
