/**
 * @module
 * A user's inbox: one Durable Object per user id (`env.INBOX.getByName(userId)`), with its own
 * SQLite (migrations/inbox). It holds the user's rooms (joined explicitly, on a first post, or
 * as a DM) and a mention register per message that mentioned them, fed by the rooms' outbox
 * tasks through `applyTasks` (the barrier: repeats, reorders and late arrivals converge, see
 * src/inbox-rules.ts). Unread counts are never stored here: an inbox read asks each joined room
 * for its summary (bounded fan-out, a short cache), and while a socket is open the rooms push
 * summaries (`roomChanged`), so a busy room writes nothing for its members' badges.
 * docs/inbox.md has the design and its cost.
 */
import { DurableObject } from "cloudflare:workers";
import { INBOX_MIGRATIONS } from "../migrations/index.ts";
import { canAccessRoom, type Identity } from "../src/auth.ts";
import { configFor } from "../src/config.ts";
import { errorResponse, fail, ok, type Result } from "../src/errors.ts";
import {
	INBOX_FANOUT,
	type InboxChangeFrame,
	type InboxPage,
	type InboxPayload,
	type InboxRoom,
	type InboxServerFrame,
	isDmRoom,
	type JoinResult,
	MAX_INBOX_ROOMS,
	MENTIONS_PAGE_DEFAULT,
	type MentionsPage,
	type RoomSummary,
	SUMMARY_CACHE_MS,
	type UnreadFrame,
} from "../src/inbox-protocol.ts";
import {
	compareRooms,
	decideJoin,
	decideLeave,
	decideMention,
	encodeMentionCursor,
	excerptOf,
	type MentionsQuery,
	mentionCount,
} from "../src/inbox-rules.ts";
import { seqOfMessageId, type UserRef } from "../src/protocol.ts";
import { shardName, shardOf } from "../src/ops/shard.ts";
import { applyInOrder } from "../src/saga/batches.ts";
import { withTimeout } from "../src/saga/errors.ts";
import { isModeratePayload, type TaskMessage, type TaskOutcome } from "../src/saga/types.ts";
import { refusal } from "./barrier.ts";
import { InboxStore, type MentionRow, mentionFrame, mentionOf, type RoomRow, roomFrame } from "./inbox-store.ts";
import { applyMigrations } from "./migrate.ts";
import { IDENTITY_HEADER, RESERVED_CLOSE_CODES, SINCE_HEADER } from "./room.ts";
import { CLOSE, closeQuietly, identityOf, readSocketIdentity, type SocketIdentity, sendIfOpen, socketIdentity } from "./socket-state.ts";
import { type MeterReading, meteredSql, StorageMeter } from "./storage-meter.ts";

/** While sockets are open, the inbox renews its rooms' watch this often (a room keeps one ~120 s). */
export const WATCH_RENEW_MS = 60_000;
/** How long an inbox read waits for one room's summary before serving the last one as stale. */
export const SUMMARY_TIMEOUT_MS = 2_000;

const NAME_KEY = "name";
/** How often one incarnation reads the author directory for rooms a first post joined. */
const POSTED_READ_MS = 10_000;

/** A room's summary as last heard, from a read or a push. */
interface CachedSummary {
	summary: RoomSummary;
	at: number;
}

/** A durable change made in a transaction: pushed to the sockets once it has committed. */
interface Changes {
	frames: InboxChangeFrame[];
	/** Rooms that entered the inbox, which open sockets want watched. */
	joined: string[];
}

function isInboxPayload(payload: TaskMessage["payload"]): payload is InboxPayload {
	return !isModeratePayload(payload) && typeof (payload as Partial<InboxPayload>).version === "number";
}

export class Inbox extends DurableObject<Env> {
	private readonly store: InboxStore;
	/** Rows this inbox has written (an instance field, so no RPC surface). */
	readonly storageMeter = new StorageMeter();
	/** Room summaries as last heard, in memory only: a cache, rebuilt by the next read. */
	private readonly summaries = new Map<string, CachedSummary>();
	/** When this incarnation last read the author directory (see learnPostedRooms). */
	private postedReadAt = 0;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		applyMigrations(ctx.storage, INBOX_MIGRATIONS);
		this.store = new InboxStore(meteredSql(ctx.storage.sql, this.storageMeter));
		// Heartbeats are answered by the runtime without waking a hibernated inbox.
		ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
	}

	/**
	 * Rows this inbox has written since it started, and the RPCs it made and served (see
	 * objects/storage-meter.ts): what the bench reads to price mentions, DMs and inbox reads.
	 */
	async meterReading(): Promise<MeterReading> {
		return this.storageMeter.reading();
	}

	/** The user id: inboxes are only ever addressed by name. */
	private get userId(): string {
		return this.ctx.id.name ?? "";
	}

	private get user(): UserRef {
		return { id: this.userId, name: this.store.getMeta(NAME_KEY) ?? this.userId };
	}

	/** Runs `work` in one transaction with the next change seqs; pushes its frames once it committed. */
	private change<T>(work: (next: () => number, changes: Changes) => T): T {
		const changes: Changes = { frames: [], joined: [] };
		let last = this.store.lastChange;
		const result = this.ctx.storage.transactionSync(() => work(() => ++last, changes));
		this.store.lastChange = last;
		this.push(changes.frames);
		if (changes.joined.length > 0 && this.openSockets().length > 0) this.ctx.waitUntil(this.watch(changes.joined));
		return result;
	}

	// -------------------------------------------------------------------------------------
	// Tasks from rooms: the barrier
	// -------------------------------------------------------------------------------------

	/**
	 * Applies a batch of `mention` and `unmention` tasks, in order, in one transaction,
	 * with Room.applyTasks's contract: an injected fault (`faults[i]`) is refused `fault`, and the
	 * first task that does not go through defers the rest. Every applied task answers `ok` with
	 * what it did. `spans` is accepted for the same call shape; the inbox keeps no span rows (the
	 * origin's task rows hold each attempt's spans).
	 */
	async applyTasks(tasks: TaskMessage[], faults: boolean[], _spans = true): Promise<TaskOutcome[]> {
		this.storageMeter.countCall("in", "applyTasks");
		return this.change((next, changes) => applyInOrder(tasks, faults, (task) => this.applyTask(task, next, changes)));
	}

	private applyTask(task: TaskMessage, next: () => number, changes: Changes): TaskOutcome {
		const payload = task.payload;
		if (task.kind !== "mention" && task.kind !== "unmention") {
			return refusal("bad_request", `a ${task.kind} task goes to a room, not an inbox`);
		}
		if (!isInboxPayload(payload)) return refusal("bad_request", `a ${task.kind} task needs a version`);
		const room = task.origin.id;
		const done = (detail: string): TaskOutcome => ({ status: "ok", seq: null, msgId: payload.msgId || null, detail });

		const seq = seqOfMessageId(payload.msgId);
		if (seq === undefined) return refusal("bad_request", `a ${task.kind} task needs a message id`);
		if (payload.author.id === this.userId) return done("not delivered: a self-mention");
		// A DM's messages reach only its two members, whose inboxes hold its row.
		if (isDmRoom(room) && this.store.room(room)?.kind !== "dm") return done("not delivered: no access to the room");
		const entry = this.store.mention(room, payload.msgId);
		const change =
			task.kind === "mention"
				? { kind: "mention" as const, version: payload.version }
				: { kind: "unmention" as const, version: payload.version, gone: payload.gone === true };
		const decision = decideMention(entry, change);
		if (decision.action === "noop") return done(decision.reason);
		const live = decision.state === "live";
		const row: MentionRow = {
			room,
			msgId: payload.msgId,
			seq,
			author: payload.author,
			// A removed mention keeps no text: it may be a deleted message's.
			excerpt: live ? excerptOf(payload.text) : "",
			ts: entry === undefined || live ? payload.ts : entry.ts,
			editedAt: live ? (payload.editedAt ?? null) : (entry?.editedAt ?? null),
			state: decision.state,
			version: payload.version,
			changeSeq: next(),
		};
		this.store.putMention(row);
		changes.frames.push(mentionFrame(row));
		if (entry === undefined)
			return done(live ? "mention delivered" : `tombstone recorded (${decision.state}): the mention has not arrived`);
		return done(live ? `mention updated to version ${payload.version}` : `mention ${decision.state} at version ${payload.version}`);
	}

	// -------------------------------------------------------------------------------------
	// Implicit joins: the rooms the user has posted in, from the author directory
	// -------------------------------------------------------------------------------------

	/**
	 * The author directory registered the user's first posts in these rooms (its push, best
	 * effort; `page` also reads the directory): each joins the inbox unless it was there or left.
	 */
	async postedIn(entries: Array<{ room: string; at: number }>, name?: string): Promise<void> {
		this.storageMeter.countCall("in", "postedIn");
		// The name the user posted under, until they read their inbox themselves (a DM names them by it).
		if (name !== undefined && this.store.getMeta(NAME_KEY) === undefined) this.noteName(name);
		this.applyPosted(entries);
	}

	private applyPosted(entries: Array<{ room: string; at: number }>): void {
		this.change((next, changes) => {
			for (const { room, at } of entries) this.applyJoin(room, at, next, changes);
		});
	}

	/**
	 * Reads the rooms the user has posted in from their author directory shard, at most every
	 * POSTED_READ_MS per incarnation, and joins those the inbox lacks. A directory that cannot be
	 * reached leaves the inbox as it is (the next read tries again).
	 */
	private async learnPostedRooms(): Promise<void> {
		const now = Date.now();
		if (now - this.postedReadAt < POSTED_READ_MS) return;
		this.postedReadAt = now;
		const shard = shardName(shardOf(this.userId, configFor(this.env).opsIndexShards));
		try {
			this.storageMeter.countCall("out", "roomsSince");
			const posted = await withTimeout(
				"author directory",
				SUMMARY_TIMEOUT_MS,
				this.env.AUTHORS.getByName(shard).roomsSince(this.userId),
			);
			const missing = posted.filter(({ room }) => this.store.room(room) === undefined);
			if (missing.length > 0) this.applyPosted(missing);
		} catch {
			this.postedReadAt = 0;
		}
	}

	/** A first post's implicit join: only a room the inbox never had (an explicit leave stands). */
	private applyJoin(room: string, now: number, next: () => number, changes: Changes): string {
		const row = this.store.room(room);
		if (decideJoin(row === undefined ? undefined : { left: row.leftAt !== null }, "implicit") === "noop") {
			return row?.leftAt === null ? "already in the inbox" : "left explicitly: not joined again";
		}
		// A DM's membership is made by POST /v1/dms only, never by a task: its row is the access check.
		if (isDmRoom(room)) return "not joined: a DM room enters an inbox through POST /v1/dms";
		if (this.store.joinedCount() >= MAX_INBOX_ROOMS) return `not joined: the inbox holds ${MAX_INBOX_ROOMS} rooms`;
		const joined: RoomRow = { room, kind: "room", joinedAt: now, leftAt: null, changeSeq: next() };
		this.store.putRoom(joined);
		changes.frames.push(roomFrame(joined));
		changes.joined.push(room);
		return "joined";
	}

	// -------------------------------------------------------------------------------------
	// Rooms: joins, leaves, DMs, access
	// -------------------------------------------------------------------------------------

	/** Whether this user is a member of the DM room (its row is here, joined or left). */
	async isMember(room: string): Promise<boolean> {
		this.storageMeter.countCall("in", "isMember");
		return this.store.room(room)?.kind === "dm";
	}

	/** `POST /v1/rooms/{room}/join` (the route has checked access): joins, or rejoins a left room. */
	async join(room: string): Promise<Result<JoinResult>> {
		const now = Date.now();
		return this.change((next, changes) => {
			const row = this.store.room(room);
			const decision = decideJoin(row === undefined ? undefined : { left: row.leftAt !== null }, "explicit");
			if (decision === "noop") return ok({ room, joined: true });
			if (this.store.joinedCount() >= MAX_INBOX_ROOMS) return fail("too_large", `an inbox holds at most ${MAX_INBOX_ROOMS} rooms`);
			const joined: RoomRow =
				row === undefined
					? { room, kind: "room", joinedAt: now, leftAt: null, changeSeq: next() }
					: { ...row, joinedAt: now, leftAt: null, changeSeq: next() };
			this.store.putRoom(joined);
			changes.frames.push(roomFrame(joined));
			changes.joined.push(room);
			return ok({ room, joined: true });
		});
	}

	/** `DELETE /v1/rooms/{room}/join`: the room leaves the inbox (a DM stays open to its members). */
	async leave(room: string): Promise<JoinResult> {
		const now = Date.now();
		return this.change((next, changes) => {
			const row = this.store.room(room);
			if (row === undefined || decideLeave({ left: row.leftAt !== null }) === "noop") return { room, joined: false };
			const left: RoomRow = { ...row, leftAt: now, changeSeq: next() };
			this.store.putRoom(left);
			changes.frames.push(roomFrame(left));
			this.summaries.delete(room);
			return { room, joined: false };
		});
	}

	/**
	 * Puts the pair's DM room in this inbox (idempotent; a left DM is joined again). Answers
	 * whether it was new, and this inbox's user as last seen, for the other member's answer.
	 * `ownName` is the user's name when they are the one asking.
	 */
	async addDm(room: string, peer: UserRef, ownName?: string): Promise<Result<{ created: boolean; user: UserRef }>> {
		this.storageMeter.countCall("in", "addDm");
		const now = Date.now();
		return this.change((next, changes) => {
			if (ownName !== undefined) this.noteName(ownName);
			const row = this.store.room(room);
			if (row !== undefined && row.leftAt === null) return ok({ created: false, user: this.user });
			if (this.store.joinedCount() >= MAX_INBOX_ROOMS) return fail("too_large", `an inbox holds at most ${MAX_INBOX_ROOMS} rooms`);
			const joined: RoomRow = { room, kind: "dm", peer, joinedAt: row?.joinedAt ?? now, leftAt: null, changeSeq: next() };
			this.store.putRoom(joined);
			changes.frames.push(roomFrame(joined));
			changes.joined.push(room);
			return ok({ created: row === undefined, user: this.user });
		});
	}

	/** Remembers the user's display name (shown to DM peers); writes only when it changed. */
	private noteName(name: string): void {
		this.store.setMeta(NAME_KEY, name);
	}

	// -------------------------------------------------------------------------------------
	// Reads
	// -------------------------------------------------------------------------------------

	/** Whether the caller's token may see this room here: DMs always (membership is this inbox's). */
	private visible(identity: Pick<Identity, "rooms">, room: string): boolean {
		return isDmRoom(room) || canAccessRoom({ id: this.userId, name: "", admin: false, guest: false, rooms: identity.rooms }, room);
	}

	/** `GET /v1/me/inbox`. */
	async page(identity: Identity): Promise<InboxPage> {
		this.storageMeter.countCall("in", "page");
		this.noteName(identity.name);
		await this.learnPostedRooms();
		const rows = this.store.joinedRooms().filter((row) => this.visible(identity, row.room));
		const summaries = await this.summariesOf(rows.map((row) => row.room));
		const live = this.store.liveSeqsByRoom();
		const rooms: InboxRoom[] = rows.map((row) => {
			const known = summaries.get(row.room);
			const summary = known?.summary;
			const readSeq = summary?.readSeq ?? 0;
			const room: InboxRoom = {
				room: row.room,
				kind: row.kind,
				...(row.peer === undefined ? {} : { with: row.peer }),
				joinedAt: row.joinedAt,
				lastSeq: summary?.lastSeq ?? 0,
				readSeq,
				unread: summary?.unread ?? 0,
				mentions: mentionCount(live.get(row.room) ?? [], readSeq),
				last: summary?.last ?? null,
			};
			if (known?.stale === true) room.stale = true;
			return room;
		});
		rooms.sort(compareRooms);
		const mentions = this.mentionsPage(identity, { limit: MENTIONS_PAGE_DEFAULT });
		return {
			user: { id: identity.id, name: identity.name },
			seq: this.store.lastChange,
			rooms,
			unreadTotal: rooms.reduce((n, room) => n + room.unread, 0),
			mentionTotal: rooms.reduce((n, room) => n + room.mentions, 0),
			...mentions,
		};
	}

	/** `GET /v1/me/mentions`: live mentions, newest first, of rooms the caller's token may see. */
	async mentions(identity: Identity, query: MentionsQuery): Promise<MentionsPage> {
		return this.mentionsPage(identity, query);
	}

	private mentionsPage(identity: Identity, query: MentionsQuery): MentionsPage {
		const limit = query.limit;
		const found: MentionRow[] = [];
		for (const row of this.store.liveMentions(query.before)) {
			if (!this.visible(identity, row.room)) continue;
			found.push(row);
			if (found.length > limit) break;
		}
		const page = found.slice(0, limit);
		const last = page.at(-1);
		const result: MentionsPage = { mentions: page.map(mentionOf) };
		if (found.length > limit && last !== undefined) result.before = encodeMentionCursor(last);
		return result;
	}

	/**
	 * Each room's summary for this user: from the cache when younger than SUMMARY_CACHE_MS, else
	 * asked with at most INBOX_FANOUT calls in flight, each with a timeout; a room that fails or
	 * times out is served from the last summary heard, marked stale.
	 */
	private async summariesOf(rooms: string[]): Promise<Map<string, { summary?: RoomSummary; stale?: true }>> {
		const now = Date.now();
		const result = new Map<string, { summary?: RoomSummary; stale?: true }>();
		const ask: string[] = [];
		for (const room of rooms) {
			const cached = this.summaries.get(room);
			if (cached !== undefined && now - cached.at < SUMMARY_CACHE_MS) result.set(room, { summary: cached.summary });
			else ask.push(room);
		}
		await this.fanOut(ask, async (room) => {
			try {
				this.storageMeter.countCall("out", "inboxSummary");
				const summary = await withTimeout(
					`summary of ${room}`,
					SUMMARY_TIMEOUT_MS,
					this.env.ROOM.getByName(room).inboxSummary(this.userId) as Promise<RoomSummary>,
				);
				this.summaries.set(room, { summary, at: Date.now() });
				result.set(room, { summary });
			} catch (error) {
				console.warn(
					JSON.stringify({ level: "warn", msg: "inbox.summary_failed", inbox: this.userId, room, error: String(error) }),
				);
				const last = this.summaries.get(room)?.summary;
				result.set(room, last === undefined ? { stale: true } : { summary: last, stale: true });
			}
		});
		return result;
	}

	/** Runs `work` over the items with at most INBOX_FANOUT in flight. */
	private async fanOut(items: readonly string[], work: (item: string) => Promise<void>): Promise<void> {
		let next = 0;
		const worker = async (): Promise<void> => {
			while (next < items.length) {
				const item = items[next++];
				if (item !== undefined) await work(item);
			}
		};
		await Promise.all(Array.from({ length: Math.min(INBOX_FANOUT, items.length) }, worker));
	}

	// -------------------------------------------------------------------------------------
	// Pushes from rooms, and the socket
	// -------------------------------------------------------------------------------------

	/**
	 * A watched room's summary after a change (called by the room): updates the cache and sends
	 * an `unread` frame to the open sockets. Writes nothing.
	 */
	async roomChanged(summary: RoomSummary): Promise<void> {
		this.storageMeter.countCall("in", "roomChanged");
		const row = this.store.room(summary.room);
		if (row === undefined || row.leftAt !== null) return;
		this.summaries.set(summary.room, { summary, at: Date.now() });
		const frame: UnreadFrame = {
			type: "unread",
			room: summary.room,
			lastSeq: summary.lastSeq,
			readSeq: summary.readSeq,
			unread: summary.unread,
			mentions: mentionCount(this.store.liveSeqs(summary.room), summary.readSeq),
			last: summary.last,
		};
		this.send([frame]);
	}

	/** Asks rooms to push this inbox their changes (Room.watchInbox) for the next couple of minutes. */
	private async watch(rooms: readonly string[]): Promise<void> {
		await this.fanOut(rooms, async (room) => {
			try {
				this.storageMeter.countCall("out", "watchInbox");
				await withTimeout(`watch of ${room}`, SUMMARY_TIMEOUT_MS, this.env.ROOM.getByName(room).watchInbox(this.userId));
			} catch (error) {
				console.warn(JSON.stringify({ level: "warn", msg: "inbox.watch_failed", inbox: this.userId, room, error: String(error) }));
			}
		});
	}

	private async watchAll(): Promise<void> {
		await this.watch(this.store.joinedRooms().map((row) => row.room));
	}

	/** Keeps the rooms' watch alive while sockets are open; with none open, no alarm is set again. */
	override async alarm(): Promise<void> {
		this.storageMeter.countCall("in", "alarm");
		// An expired socket keeps no watch alive: it is closed here if nothing was sent on it since.
		const live = this.openSockets().filter((ws) => {
			const who = readSocketIdentity(ws);
			return who !== undefined && who.closing !== true && !this.expired(ws, who);
		});
		if (live.length === 0) return;
		await this.watchAll();
		await this.armAlarm();
	}

	private async armAlarm(): Promise<void> {
		if ((await this.ctx.storage.getAlarm()) !== null) return;
		await this.ctx.storage.setAlarm(Date.now() + WATCH_RENEW_MS);
		this.storageMeter.alarmWrites++;
	}

	/** The socket upgrade, forwarded by the Worker (src/upgrade.ts) with the identity it checked. */
	override async fetch(request: Request): Promise<Response> {
		const identityHeader = request.headers.get(IDENTITY_HEADER);
		if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket" || identityHeader === null) {
			return errorResponse({ code: "bad_request", message: "expected a WebSocket upgrade" });
		}
		const identity = JSON.parse(identityHeader) as Identity;
		const sinceHeader = request.headers.get(SINCE_HEADER);
		const since = sinceHeader === null ? undefined : Number(sinceHeader);
		const limit = configFor(this.env).maxSocketsPerUser;
		if (this.openSockets().length >= limit) {
			return errorResponse({ code: "rate_limited", message: `at most ${limit} inbox sockets per user`, retryAfterMs: 5000 });
		}
		const { 0: client, 1: server } = new WebSocketPair();
		this.ctx.acceptWebSocket(server);
		const who = socketIdentity(identity);
		server.serializeAttachment(who);
		this.noteName(identity.name);
		const last = this.store.lastChange;
		server.send(JSON.stringify({ type: "inbox.welcome", user: who.user, seq: last } satisfies InboxServerFrame));
		// Without `since` the client reads GET /v1/me/inbox for the state and follows on from its `seq`.
		if (since !== undefined) {
			for (const frame of this.store.changesAfter(since)) {
				if (this.visibleFrame(who, frame)) server.send(JSON.stringify(frame));
			}
		}
		// The row with the latest change seq is always among those replayed, so the replay ends there.
		server.send(JSON.stringify({ type: "inbox.synced", through: last } satisfies InboxServerFrame));
		this.ctx.waitUntil(this.watchAll());
		await this.armAlarm();
		return new Response(null, { status: 101, webSocket: client });
	}

	override webSocketMessage(ws: WebSocket): void {
		// "ping" is answered by the runtime (setWebSocketAutoResponse); nothing else is a frame here.
		const who = readSocketIdentity(ws);
		if (who === undefined || who.closing === true) return;
		if (this.expired(ws, who)) return;
		sendIfOpen(
			ws,
			JSON.stringify({
				type: "error",
				code: "bad_request",
				message: 'the inbox socket takes no frames but "ping"',
			} satisfies InboxServerFrame),
		);
	}

	override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
		if (!RESERVED_CLOSE_CODES.has(code)) closeQuietly(ws, code, reason);
	}

	private openSockets(): WebSocket[] {
		return this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
	}

	/** A socket lives no longer than its token: checked whenever something would be sent on it. */
	private expired(ws: WebSocket, who: SocketIdentity): boolean {
		if (who.exp === undefined || Date.now() < who.exp * 1000) return false;
		ws.serializeAttachment({ ...who, closing: true });
		closeQuietly(ws, CLOSE.tokenExpired, "token expired");
		return true;
	}

	private visibleFrame(who: SocketIdentity, frame: InboxServerFrame): boolean {
		const room = frame.type === "mention" ? frame.mention.room : "room" in frame ? frame.room : undefined;
		return room === undefined || this.visible(identityOf(who), room);
	}

	private push(frames: readonly InboxChangeFrame[]): void {
		if (frames.length > 0) this.send(frames);
	}

	private send(frames: readonly InboxServerFrame[]): void {
		for (const ws of this.openSockets()) {
			const who = readSocketIdentity(ws);
			if (who === undefined || who.closing === true || this.expired(ws, who)) continue;
			for (const frame of frames) if (this.visibleFrame(who, frame)) sendIfOpen(ws, JSON.stringify(frame));
		}
	}
}
