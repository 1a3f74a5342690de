/**
 * A chat room: one Durable Object per room id. SQLite holds the event log (and, with the
 * saga layer, the outbox); sockets are hibernatable and keep their state in attachments.
 * The Worker authenticates and authorizes before any call reaches the room, so the room
 * trusts the identity it is handed.
 */
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
import type { ModerationCounts, SagaView, TaskMessage, TaskOutcome } from "../src/saga/types.ts";
import { MAX_MESSAGES_PER_ROOM, type RoomPlan, type Selector } from "../src/ops/compensation.ts";
import { newSagaId } from "../src/saga/ids.ts";
import { newTraceId } from "../src/trace.ts";
import { Barrier } from "./barrier.ts";
import { EventLog, type StoredMessage } from "./event-log.ts";
import { applyMigrations } from "./migrate.ts";
import { OutboxObject } from "./outbox-object.ts";
import { OpsRecord } from "./ops-record.ts";
import { Outbox } from "./outbox.ts";
import { TaskEngine } from "./task-engine.ts";
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

export class Room extends OutboxObject {
	private readonly config: Config;
	private readonly log: EventLog;
	private readonly outbox: Outbox;
	private readonly barrier: Barrier;
	private readonly ops: OpsRecord;
	protected readonly engine: TaskEngine;
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
		this.engine = new TaskEngine({
			ctx,
			env: () => this.env,
			config: this.config,
			outbox: this.outbox,
			ops: this.ops,
			name: () => this.name,
			onRollback: () => this.log.resync(),
			onSagaReports: (reports) => {
				for (const report of reports) {
					const frame = JSON.stringify({ type: "saga", sagaId: report.sagaId, state: report.state, steps: report.steps } satisfies ServerFrame);
					for (const ws of this.openSockets(userTag(report.authorId))) sendIfOpen(ws, frame);
				}
			},
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
		let firstPost = false;
		const event = this.write(() => {
			this.log.pruneDedup(now);
			// An author's first message here registers the room in the author directory, so an
			// operator compensation by author can find it. Later messages cost nothing extra.
			firstPost = !this.log.hasAuthor(identity.id);
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
			if (sagaId !== null) {
				this.ops.span(traceId, receivedAt, "ingress", "message.received", `from ${identity.id}, cross-post to ${targets.join(", ")}`);
				this.ops.span(traceId, now, "room", "message.committed", `seq ${message.seq}, saga ${sagaId}`);
				this.outbox.startSaga(sagaId, message, targets, now);
			}
			return message;
		});
		this.broadcast(JSON.stringify(event));
		if (sagaId !== null || firstPost) await this.engine.afterWrite();
		return { ok: true, ...sendResult({ event, sagaId }, false) };
	}

	private write<T>(work: () => T): T {
		return this.engine.write(work);
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
		if (sagaId !== null) await this.engine.afterWrite();
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

	/** Target side: applies a deliver or retract through the barrier, exactly once. */
	async applyTask(task: TaskMessage, injectFault: boolean): Promise<TaskOutcome> {
		const now = Date.now();
		if (injectFault) {
			this.write(() => this.ops.span(task.traceId, now, "room", `${task.kind}.fault_injected`, `attempt ${task.attempt}`));
			return { status: "transient", code: "fault", message: "injected fault (FAULTS=on)" };
		}
		const applied = this.write(() => {
			const result = this.barrier.apply(task, this.policy, now, (ids, traceId, at) => this.moderate(ids, traceId, at));
			const detail = result.outcome.status === "ok" ? result.outcome.detail : `${result.outcome.code}: ${result.outcome.message}`;
			this.ops.span(task.traceId, now, "room", `${task.kind}.${result.outcome.status}`, `attempt ${task.attempt}: ${detail}`);
			return result;
		});
		for (const event of applied.events) this.broadcast(JSON.stringify(event));
		// A moderation may have started compensations of this room's own sagas.
		if (task.kind === "moderate") await this.engine.afterWrite();
		return applied.outcome;
	}

	/**
	 * Retracts messages for an operator compensation, inside the caller's transaction: each
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

	/** What an operator compensation with this selector would retract here (changes nothing). */
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
		const copies = kept.flatMap((m) => (m.sagaId === null ? [] : this.outbox.copyRooms(m.sagaId).map((room) => ({ room, sagaId: m.sagaId ?? "" }))));
		return { room: this.name, msgIds: kept.map((m) => m.msgId), copies, truncated };
	}

	/** The current states of some of this room's sagas (for a compensation's progress). */
	async sagaStates(sagaIds: string[]): Promise<Record<string, string>> {
		return Object.fromEntries(sagaIds.map((id) => [id, this.outbox.sagaState(id) ?? "unknown"]));
	}

	async saga(sagaId: string): Promise<(SagaView & { text: string }) | undefined> {
		const saga = this.outbox.getSaga(sagaId);
		if (saga === undefined) return undefined;
		return { ...saga, text: this.log.findMessage(saga.msgId)?.event.text ?? "" };
	}
}
