/**
 * Rows and requests per v1.4 inbox action (issue 18), on Parley, counted by the server's own
 * meters (`GET /v1/admin/meter?rooms=…&inboxes=…`: every SQLite cursor's `rowsWritten`, every
 * alarm set or deleted, and the Durable Object RPCs each object made and served), in every
 * object the action reaches: the rooms, the users' inboxes, every ops index shard and every
 * author directory shard.
 *
 * Priced: a mention of one and of three users who posted in the room, until the message's inbox
 * run has settled (the admin saga view shows every step finished); the unmention when that
 * message is deleted; creating a DM and a message in it; an inbox read for a user in 1, 5 and
 * 20 rooms (its cache cold, warm, and with the author directory due); and a plain message in
 * a room where 200 users have posted and 50 watch it from an open inbox socket (its pushes are
 * RPCs, not rows). Requests are the meters' counts, not a formula. Metrics flushes are left out,
 * as everywhere in the cost probe.
 */
import WebSocket from "ws";
import { stampedText } from "./client.ts";
import { type CounterAccess, type MeterReading, objectKind, readMeters, SAGA_SETTLE_MS, SETTLE_MS } from "./cost.ts";
import { freshRoom, TEXT_BYTES, type Target } from "./loadgen.ts";
import { round, sleep } from "./stats.ts";

/** A user token for `sub` (display name = id), signed with the server's secret. */
export type MintToken = (sub: string) => string;

/** What one kind of action cost, over its samples, in every object metered. */
export interface InboxActionCost {
	samples: number;
	/** Mean rows written per action in all objects, alarms included (an alarm is billed as a row). */
	rows: number;
	maxRows: number;
	/** Mean alarms set or deleted per action (in `rows` too). */
	alarms: number;
	/** Mean rows (alarms included) per kind of object: origin, targets, inboxes, index, authors. */
	perObject: Record<string, number>;
	/** Mean RPCs per action as the objects counted them (`out:<method>` made, `in:<method>` served), summed. */
	calls: Record<string, number>;
	/**
	 * Mean Durable Object requests per action the meters saw: every RPC an object made to another
	 * (`out:*`) plus the calls into an inbox its callers do not count (see COUNTED_WHERE_SERVED).
	 * Not seen: alarm invocations (`alarms` has them) and a room's shipments to the ops index.
	 */
	requests: number;
}

/** `GET /v1/me/inbox` for a user in `rooms` rooms. */
export interface InboxReadCost {
	rooms: number;
	/** The summary cache (2 s) expired, the author directory not due (read less than 10 s ago). */
	cold: InboxActionCost;
	/** Again within the cache window: no room is asked. */
	cached: InboxActionCost;
	/** The cache expired and the author directory due (10 s since the last read of it). */
	due: InboxActionCost;
}

/** A plain message in a room with many members, some of them watching it from an inbox socket. */
export interface BusyRoomCost {
	/** Users who have posted in the room. */
	members: number;
	/** Inboxes the room counted watching it (`in:watchInbox`), of those with a socket open. */
	watchers: number;
	sockets: number;
	message: InboxActionCost;
	/** Mean `roomChanged` pushes the room made per message (RPCs, no rows). */
	pushesPerMessage: number;
}

export interface InboxCost {
	/** A message mentioning 1 and 3 users, until its inbox run has settled. */
	mentions: Array<{ users: number } & InboxActionCost>;
	/** The delete of such a message, until its unmentions have settled. */
	unmentions: Array<{ users: number } & InboxActionCost>;
	/** `POST /v1/dms`, once per pair: both inboxes. */
	dmCreate: InboxActionCost;
	/** A message in a DM room, sent over the room socket (as the chat page sends it). */
	dmMessage: InboxActionCost;
	/** The same over HTTP: each call checks membership with the caller's inbox (`isMember`). */
	dmMessageHttp: InboxActionCost;
	reads: InboxReadCost[];
	busyRoom?: BusyRoomCost;
	busyRoomError?: string;
}

/** The mention sizes priced (users mentioned in one message). */
export const MENTION_SIZES = [1, 3] as const;
/** The inbox sizes whose reads are priced (rooms joined). */
export const READ_SIZES = [1, 5, 20] as const;
/** The busy room: users who posted there, and how many of them have an inbox socket open. */
export const BUSY_MEMBERS = 200;
export const BUSY_WATCHERS = 50;

const MENTION_SAMPLES = 2;
const DM_SAMPLES = 3;
const BUSY_SAMPLES = 3;
/** The inbox's summary cache and author-directory period (objects/inbox.ts), plus a margin. */
const SUMMARY_CACHE_WAIT_MS = 2_300;
const POSTED_READ_WAIT_MS = 10_300;
/**
 * Calls counted where they are served, because their callers (the Worker, a room's outbox or
 * the queue consumer delivering tasks, the author directory) do not count them: a request each.
 * Every other RPC is counted once, by the object that made it (`out:*`).
 */
const COUNTED_WHERE_SERVED = new Set(["in:page", "in:isMember", "in:addDm", "in:applyTasks", "in:postedIn", "in:alarm"]);

interface Sample {
	rows: number;
	alarms: number;
	perObject: Record<string, number>;
	calls: Record<string, number>;
}

/** What the objects counted between two readings; undefined when one restarted meanwhile. */
function delta(before: Record<string, MeterReading>, after: Record<string, MeterReading>, origin: string): Sample | undefined {
	const sample: Sample = { rows: 0, alarms: 0, perObject: {}, calls: {} };
	for (const [key, end] of Object.entries(after)) {
		const start = before[key];
		if (start === undefined || start.incarnation !== end.incarnation) return undefined;
		const flush = (end.metricsRows ?? 0) - (start.metricsRows ?? 0);
		const alarms = end.alarmWrites - start.alarmWrites;
		const rows = end.rowsWritten - start.rowsWritten - flush + alarms;
		const kind = objectKind(key, origin);
		sample.perObject[kind] = (sample.perObject[kind] ?? 0) + rows;
		sample.rows += rows;
		sample.alarms += alarms;
		for (const [call, n] of Object.entries(end.calls ?? {})) {
			const made = n - (start.calls?.[call] ?? 0);
			if (made !== 0) sample.calls[call] = (sample.calls[call] ?? 0) + made;
		}
	}
	return sample;
}

function requestsOf(calls: Record<string, number>): number {
	return Object.entries(calls)
		.filter(([call]) => call.startsWith("out:") || COUNTED_WHERE_SERVED.has(call))
		.reduce((n, [, count]) => n + count, 0);
}

function summary(samples: readonly Sample[]): InboxActionCost {
	if (samples.length === 0) throw new Error("every sample saw an object restart");
	const mean = (values: readonly number[]): number => round(values.reduce((a, b) => a + b, 0) / samples.length);
	const perObject: Record<string, number> = {};
	const calls: Record<string, number> = {};
	for (const sample of samples) {
		for (const [kind, n] of Object.entries(sample.perObject)) perObject[kind] = (perObject[kind] ?? 0) + n;
		for (const [call, n] of Object.entries(sample.calls)) calls[call] = (calls[call] ?? 0) + n;
	}
	for (const kind of Object.keys(perObject)) perObject[kind] = round((perObject[kind] ?? 0) / samples.length);
	for (const call of Object.keys(calls)) calls[call] = round((calls[call] ?? 0) / samples.length);
	return {
		samples: samples.length,
		rows: mean(samples.map((s) => s.rows)),
		maxRows: Math.max(...samples.map((s) => s.rows)),
		alarms: mean(samples.map((s) => s.alarms)),
		perObject,
		calls,
		requests: round(requestsOf(calls)),
	};
}

/** An inbox socket (`GET /v1/me/ws`), open once `inbox.synced` came; counts the `unread` frames per room. */
class InboxSocket {
	readonly unread = new Map<string, number>();
	private readonly ws: WebSocket;
	private constructor(ws: WebSocket) {
		this.ws = ws;
		ws.on("message", (data) => {
			const frame = JSON.parse(String(data)) as { type?: string; room?: string; lastSeq?: number };
			if (frame.type === "unread" && frame.room !== undefined && typeof frame.lastSeq === "number")
				this.unread.set(frame.room, Math.max(this.unread.get(frame.room) ?? 0, frame.lastSeq));
		});
	}

	static async open(target: Target, token: string): Promise<InboxSocket> {
		const ws = new WebSocket(`${target.wsUrl}/v1/me/ws?token=${token}`, { perMessageDeflate: false, handshakeTimeout: 10_000 });
		const socket = new InboxSocket(ws);
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error("no inbox.synced within 10 s")), 10_000);
			ws.once("error", (error) => reject(error));
			ws.on("message", (data) => {
				if (String(data).includes('"type":"inbox.synced"')) {
					clearTimeout(timer);
					ws.on("error", () => undefined);
					resolve();
				}
			});
		});
		return socket;
	}

	close(): void {
		this.ws.close();
	}
}

/** A room socket opened with a user's token; resolves each `send` with its ack. */
class RoomSocket {
	private readonly waiting = new Map<string, (frame: Record<string, unknown>) => void>();
	private readonly ws: WebSocket;
	private constructor(ws: WebSocket) {
		this.ws = ws;
		ws.on("message", (data) => {
			const frame = JSON.parse(String(data)) as Record<string, unknown>;
			const id = typeof frame.id === "string" ? frame.id : undefined;
			if (id !== undefined && (frame.type === "ack" || frame.type === "error")) this.waiting.get(id)?.(frame);
		});
	}

	static async open(target: Target, room: string, token: string): Promise<RoomSocket> {
		const ws = new WebSocket(`${target.wsUrl}/v1/rooms/${room}/ws?token=${token}`, {
			perMessageDeflate: false,
			handshakeTimeout: 10_000,
		});
		const socket = new RoomSocket(ws);
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`no synced frame from ${room} within 10 s`)), 10_000);
			ws.once("error", (error) => reject(error));
			ws.on("message", (data) => {
				if (String(data).includes('"type":"synced"')) {
					clearTimeout(timer);
					ws.on("error", () => undefined);
					resolve();
				}
			});
		});
		return socket;
	}

	send(id: string, text: string): Promise<Record<string, unknown>> {
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`no ack for ${id} within 10 s`)), 10_000);
			this.waiting.set(id, (frame) => {
				clearTimeout(timer);
				this.waiting.delete(id);
				if (frame.type === "error") reject(new Error(`${String(frame.code)}: ${String(frame.message)}`));
				else resolve(frame);
			});
			this.ws.send(JSON.stringify({ type: "send", id, text }));
		});
	}

	close(): void {
		this.ws.close();
	}
}

/**
 * Prices the v1.4 actions on a fresh Parley (its Worker signs with `mint`'s secret). Bounded:
 * about 40 s, most of it settle time around the samples and the author directory's 10 s.
 */
export async function inboxCost(target: Target, counters: CounterAccess, mint: MintToken): Promise<InboxCost> {
	const tag = Math.random().toString(36).slice(2, 8);
	const user = (kind: string, i = 0): string => `u${tag}${kind}${i}`;
	const tokens = new Map<string, string>();
	const tokenOf = (id: string): string => {
		let token = tokens.get(id);
		if (token === undefined) {
			token = mint(id);
			tokens.set(id, token);
		}
		return token;
	};
	const http = async <T>(path: string, as: string, init: { method?: string; body?: unknown } = {}): Promise<T> => {
		const response = await fetch(`${counters.httpUrl}${path}`, {
			method: init.method ?? "GET",
			headers: {
				authorization: `Bearer ${as === "admin" ? counters.token : tokenOf(as)}`,
				...(init.body === undefined ? {} : { "content-type": "application/json" }),
			},
			...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
			signal: AbortSignal.timeout(30_000),
		});
		if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${await response.text()}`);
		return (await response.json()) as T;
	};
	let n = 0;
	const post = (room: string, as: string, prefix = ""): Promise<{ seq: number; msgId: string }> =>
		http(`/v1/rooms/${room}/messages`, as, {
			method: "POST",
			body: { id: `ib-${n}`, text: `${prefix}${stampedText("ib", n++, TEXT_BYTES)}` },
		});
	/** What every object metered counted while `work` ran and until `settle` resolved; a sample with a restart is taken again. */
	const measure = async (
		origin: string,
		rooms: readonly string[],
		inboxes: readonly string[],
		work: () => Promise<unknown>,
		settle: () => Promise<unknown> = () => sleep(SETTLE_MS),
	): Promise<Sample | undefined> => {
		const before = await readMeters(counters.httpUrl, counters.token, rooms, inboxes);
		await work();
		await settle();
		return delta(before, await readMeters(counters.httpUrl, counters.token, rooms, inboxes), origin);
	};
	const samples = async (count: number, one: (i: number) => Promise<Sample | undefined>): Promise<InboxActionCost> => {
		const taken: Sample[] = [];
		for (let i = 0; taken.length < count && i < count * 3; i++) {
			const sample = await one(i);
			if (sample !== undefined) taken.push(sample);
		}
		return summary(taken);
	};
	/** Waits until the message's inbox run (`<room>~n<seq, 15 digits>`, src/saga/ids.ts) has `steps` finished steps. */
	const settled = async (room: string, seq: number, steps: number): Promise<void> => {
		const runId = `${room}~n${String(seq).padStart(15, "0")}`;
		const deadline = Date.now() + 15_000;
		for (;;) {
			const saga = await http<{ steps: Array<{ state: string }> }>(`/v1/admin/sagas/${encodeURIComponent(runId)}`, "admin");
			const done = saga.steps.filter((step) => step.state !== "pending" && step.state !== "processing").length;
			if (saga.steps.length >= steps && done === saga.steps.length) break;
			if (Date.now() > deadline) throw new Error(`inbox run ${runId}: ${done} of ${steps} steps finished after 15 s`);
			await sleep(50);
		}
		// The run's shipment to the ops index and its check alarm come after the last step.
		await sleep(SAGA_SETTLE_MS);
	};

	// Setup: readers who posted in 1, 5 and 20 rooms, a mention room, a DM pair.
	const readRooms = Array.from({ length: Math.max(...READ_SIZES) }, () => freshRoom("costi"));
	const readers = READ_SIZES.map((size) => ({ size, id: user("r", size), rooms: readRooms.slice(0, size) }));
	const mentionRoom = freshRoom("costm");
	const author = user("a");
	const mentioned = Array.from({ length: Math.max(...MENTION_SIZES) }, (_, i) => user("m", i));
	for (const reader of readers) for (const room of reader.rooms) await post(room, reader.id);
	for (const id of [author, ...mentioned]) await post(mentionRoom, id);
	await sleep(SAGA_SETTLE_MS);

	// Inbox reads, first pass: the first read learns the posted rooms from the author directory.
	const read = (reader: (typeof readers)[number]) => (): Promise<Sample | undefined> =>
		measure(readRooms[0] ?? "", reader.rooms, [reader.id], () => http("/v1/me/inbox", reader.id));
	const firstReadAt = new Map<string, number>();
	for (const reader of readers) {
		await http("/v1/me/inbox", reader.id);
		firstReadAt.set(reader.id, Date.now());
	}
	await sleep(SUMMARY_CACHE_WAIT_MS);
	const cold = new Map<string, InboxActionCost>();
	const cached = new Map<string, InboxActionCost>();
	for (const reader of readers) {
		cold.set(reader.id, await samples(1, read(reader)));
		cached.set(reader.id, await samples(1, read(reader)));
	}

	// Mentions: a warm-up mention of everyone first (each inbox's first task), then the samples.
	const everyone = `${mentioned.map((id) => `@${id}`).join(" ")} `;
	const warm = await post(mentionRoom, author, everyone);
	await settled(mentionRoom, warm.seq, mentioned.length);
	const mentions: InboxCost["mentions"] = [];
	const unmentions: InboxCost["unmentions"] = [];
	for (const size of MENTION_SIZES) {
		const who = mentioned.slice(0, size);
		const posted: Array<{ seq: number; msgId: string }> = [];
		const cost = await samples(MENTION_SAMPLES, () => {
			let message: { seq: number; msgId: string } | undefined;
			return measure(
				mentionRoom,
				[mentionRoom],
				who,
				async () => {
					message = await post(mentionRoom, author, `${who.map((id) => `@${id}`).join(" ")} `);
					posted.push(message);
				},
				() => settled(mentionRoom, message?.seq ?? 0, size),
			);
		});
		mentions.push({ users: size, ...cost });
		const retract = await samples(MENTION_SAMPLES, (i) => {
			const message = posted[i];
			if (message === undefined) throw new Error("no mentioning message left to delete");
			return measure(
				mentionRoom,
				[mentionRoom],
				who,
				() => http(`/v1/rooms/${mentionRoom}/messages/${message.msgId}`, author, { method: "DELETE" }),
				() => settled(mentionRoom, message.seq, 2 * size),
			);
		});
		unmentions.push({ users: size, ...retract });
	}

	// DMs: both inboxes exist (each user has read theirs); the DM's creation, then messages in it.
	const [dmA, dmB] = [user("d", 0), user("d", 1)];
	for (const id of [dmA, dmB]) await http("/v1/me/inbox", id);
	let dmRoom = "";
	const dmCreateSample = await measure("", [], [dmA, dmB], async () => {
		dmRoom = (await http<{ room: string }>("/v1/dms", dmA, { method: "POST", body: { with: dmB } })).room;
	});
	if (dmCreateSample === undefined) throw new Error("an inbox restarted while the DM was created");
	const dmCreate = summary([dmCreateSample]);
	// Each member's first post in it registers them with the room and the author directory, once.
	await post(dmRoom, dmA);
	await post(dmRoom, dmB);
	await sleep(SAGA_SETTLE_MS);
	const dmSocket = await RoomSocket.open(target, dmRoom, tokenOf(dmA));
	let dmMessage: InboxActionCost;
	try {
		dmMessage = await samples(DM_SAMPLES, (i) =>
			measure(dmRoom, [dmRoom], [dmA, dmB], () => dmSocket.send(`dm-${i}`, stampedText("dm", i, TEXT_BYTES))),
		);
	} finally {
		dmSocket.close();
	}
	const dmMessageHttp = await samples(DM_SAMPLES, () => measure(dmRoom, [dmRoom], [dmA, dmB], () => post(dmRoom, dmA)));

	// Inbox reads, second pass: the cache expired and the author directory due again.
	const due = new Map<string, InboxActionCost>();
	for (const reader of readers) {
		const wait = (firstReadAt.get(reader.id) ?? 0) + POSTED_READ_WAIT_MS - Date.now();
		if (wait > 0) await sleep(wait);
		due.set(reader.id, await samples(1, read(reader)));
	}
	const reads: InboxReadCost[] = readers.map((reader) => {
		const [c, w, d] = [cold.get(reader.id), cached.get(reader.id), due.get(reader.id)];
		if (c === undefined || w === undefined || d === undefined) throw new Error(`reads of ${reader.id} missing`);
		return { rooms: reader.size, cold: c, cached: w, due: d };
	});

	const result: InboxCost = { mentions, unmentions, dmCreate, dmMessage, dmMessageHttp, reads };
	try {
		result.busyRoom = await busyRoomCost(target, counters, user, tokenOf, post, measure, samples);
	} catch (error) {
		result.busyRoomError = error instanceof Error ? error.message : String(error);
	}
	return result;
}

/**
 * A plain message in a room where BUSY_MEMBERS users have posted and BUSY_WATCHERS of them have
 * an inbox socket open: the room writes what it writes for any message, and pushes each
 * watching inbox its summary by RPC (`roomChanged`), which writes nothing there.
 */
async function busyRoomCost(
	target: Target,
	counters: CounterAccess,
	user: (kind: string, i?: number) => string,
	tokenOf: (id: string) => string,
	post: (room: string, as: string) => Promise<{ seq: number; msgId: string }>,
	measure: (
		origin: string,
		rooms: readonly string[],
		inboxes: readonly string[],
		work: () => Promise<unknown>,
		settle?: () => Promise<unknown>,
	) => Promise<Sample | undefined>,
	samples: (count: number, one: (i: number) => Promise<Sample | undefined>) => Promise<InboxActionCost>,
): Promise<BusyRoomCost> {
	const room = freshRoom("costb");
	const members = Array.from({ length: BUSY_MEMBERS }, (_, i) => user("b", i));
	// Eight at a time: the room takes them in order anyway; the first posts' registrations follow.
	for (let i = 0; i < members.length; i += 8) await Promise.all(members.slice(i, i + 8).map((id) => post(room, id)));
	await sleep(SAGA_SETTLE_MS);
	const watching = members.slice(0, BUSY_WATCHERS);
	const watchedBefore = (await readMeters(counters.httpUrl, counters.token, [room]))[`room:${room}`]?.calls?.["in:watchInbox"] ?? 0;
	const sockets: InboxSocket[] = [];
	try {
		for (let i = 0; i < watching.length; i += 10)
			sockets.push(...(await Promise.all(watching.slice(i, i + 10).map((id) => InboxSocket.open(target, tokenOf(id))))));
		// Each socket's inbox asks its rooms to push it changes (Room.watchInbox), in the background.
		let watchers = 0;
		for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
			const calls = (await readMeters(counters.httpUrl, counters.token, [room]))[`room:${room}`]?.calls ?? {};
			watchers = (calls["in:watchInbox"] ?? 0) - watchedBefore;
			if (watchers >= watching.length) break;
		}
		const speaker = members[BUSY_MEMBERS - 1] ?? "";
		const message = await samples(BUSY_SAMPLES, () => {
			let seq = 0;
			return measure(
				room,
				[room],
				watching,
				async () => {
					seq = (await post(room, speaker)).seq;
				},
				async () => {
					// Until every open socket heard the new count (or 5 s), then the usual settle.
					const deadline = Date.now() + 5_000;
					while (Date.now() < deadline && sockets.some((s) => (s.unread.get(room) ?? 0) < seq)) await sleep(25);
					await sleep(SETTLE_MS);
				},
			);
		});
		return {
			members: BUSY_MEMBERS,
			watchers,
			sockets: sockets.length,
			message,
			pushesPerMessage: message.calls["out:roomChanged"] ?? 0,
		};
	} finally {
		for (const socket of sockets) socket.close();
	}
}

/** The figures as flat metrics of the `cost` scenario. */
export function inboxMetrics(inbox: InboxCost | undefined): Record<string, number> {
	if (inbox === undefined) return {};
	const metrics: Record<string, number> = {};
	for (const m of inbox.mentions) metrics[`rowsMention${m.users}`] = m.rows;
	for (const m of inbox.unmentions) metrics[`rowsUnmention${m.users}`] = m.rows;
	metrics.rowsDmCreate = inbox.dmCreate.rows;
	metrics.rowsDmMessage = inbox.dmMessage.rows;
	metrics.maxRowsDmMessage = inbox.dmMessage.maxRows;
	metrics.alarmsDmMessage = inbox.dmMessage.alarms;
	for (const r of inbox.reads) {
		metrics[`rowsInboxRead${r.rooms}`] = Math.max(r.cold.rows, r.cached.rows, r.due.rows);
		metrics[`requestsInboxRead${r.rooms}`] = r.cold.requests;
		metrics[`requestsInboxReadCached${r.rooms}`] = r.cached.requests;
		metrics[`requestsInboxReadDue${r.rooms}`] = r.due.requests;
	}
	if (inbox.busyRoom !== undefined) {
		metrics.maxRowsBusyRoomMessage = inbox.busyRoom.message.maxRows;
		metrics.alarmsBusyRoomMessage = inbox.busyRoom.message.alarms;
		metrics.pushesBusyRoomMessage = inbox.busyRoom.pushesPerMessage;
	}
	return metrics;
}

/** One line per figure, for the bench's progress output. */
export function inboxSummaryLines(inbox: InboxCost): string[] {
	const objects = (cost: InboxActionCost): string =>
		Object.entries(cost.perObject)
			.filter(([, n]) => n !== 0)
			.map(([kind, n]) => `${kind} ${n}`)
			.join(", ");
	const lines = [
		...inbox.mentions.map(
			(m) =>
				`mention of ${m.users} user${m.users === 1 ? "" : "s"}: ${m.rows} rows (${objects(m)}), ${m.alarms} alarms, ${m.requests} requests`,
		),
		...inbox.unmentions.map(
			(m) => `delete of a message mentioning ${m.users}: ${m.rows} rows (${objects(m)}), ${m.alarms} alarms, ${m.requests} requests`,
		),
		`DM created: ${inbox.dmCreate.rows} rows (${objects(inbox.dmCreate)}), ${inbox.dmCreate.requests} requests`,
		`DM message (socket): ${inbox.dmMessage.rows} rows (at most ${inbox.dmMessage.maxRows}), ${inbox.dmMessage.alarms} alarms, ${inbox.dmMessage.requests} requests; over HTTP ${inbox.dmMessageHttp.rows} rows, ${inbox.dmMessageHttp.requests} requests`,
		...inbox.reads.map(
			(r) =>
				`inbox read, ${r.rooms} room${r.rooms === 1 ? "" : "s"}: ${r.cold.requests} requests (cache expired), ${r.cached.requests} (cached), ${r.due.requests} (directory due); rows ${r.cold.rows}/${r.cached.rows}/${r.due.rows}`,
		),
	];
	const busy = inbox.busyRoom;
	if (busy !== undefined)
		lines.push(
			`plain message, ${busy.members} members, ${busy.watchers} watching: ${busy.message.rows} rows (at most ${busy.message.maxRows}), ${busy.message.alarms} alarms, ${busy.pushesPerMessage} push RPCs`,
		);
	else lines.push(`busy room not measured: ${inbox.busyRoomError ?? "?"}`);
	return lines;
}
