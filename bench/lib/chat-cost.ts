/**
 * Rows written per v1.3 chat action (issue 17), on Parley, counted by the server's own storage
 * meters (`GET /v1/admin/meter`: every SQLite cursor's `rowsWritten`, and every alarm set or
 * deleted) around one action at a time, sent over a real socket or HTTP as a client would.
 *
 * Room actions (messages, replies, mentions, edits, reactions, read markers, typing, retracts,
 * search) are read from the room's meter alone: they write nowhere else once the author is
 * known to the author directory, which the warm-up takes care of. Edits of cross-posted
 * originals are read from every object (origin, copies' rooms, ops index and author directory
 * shards), alarms included, like the cross-posts of cost.ts. Rows of periodic metrics flushes
 * (`metricsRows`) are left out everywhere: they are a cost per flush interval, not per action.
 */
import { BenchSocket, socketUrl, stampedText } from "./client.ts";
import { averageSamples, type CounterAccess, type MeterReading, meterDelta, readMeters, SAGA_SETTLE_MS, SETTLE_MS } from "./cost.ts";
import { freshRoom, TEXT_BYTES, type Target } from "./loadgen.ts";
import { round, sleep } from "./stats.ts";

/** The chat actions the probe prices, each measured on its own in a warm room. */
export const CHAT_ACTIONS = [
	"plain",
	"reply",
	"mention",
	"edit",
	"editIndexed",
	"editRepeat",
	"reactionAdded",
	"reactionRemoved",
	"reactionDuplicate",
	"readMoves",
	"readStays",
	"typing",
	"typingDropped",
	"retract",
	"retractIndexed",
	"searchAgain",
] as const;
export type ChatAction = (typeof CHAT_ACTIONS)[number];

/** What each action is, as the report and docs/cost.md name it. */
export const CHAT_ACTION_LABELS: Record<ChatAction, string> = {
	plain: "plain message, search index on, mentions on",
	reply: "reply (`replyTo`)",
	mention: "message with an `@` mention",
	edit: "edit of a message search has not indexed",
	editIndexed: "edit of a message search has indexed",
	editRepeat: "repeated edit (same client id)",
	reactionAdded: "reaction added",
	reactionRemoved: "reaction removed",
	reactionDuplicate: "reaction already there (`duplicate`, new client id)",
	readMoves: "read marker that moves",
	readStays: "read marker that does not move (repeat, lower seq)",
	typing: "typing frame passed on",
	typingDropped: "typing frame dropped (within 3 s of the last)",
	retract: "retract of a message search has not indexed",
	retractIndexed: "retract of a message search has indexed",
	searchAgain: "search with nothing to catch up on (each page)",
};

/** What the room's meter counted for one kind of action, over its samples. */
export interface ActionRows {
	samples: number;
	/** Mean rows written per action (SQL rows; index entries included; alarms apart). */
	rows: number;
	/** The most any one sample wrote. */
	maxRows: number;
	/** Mean alarms set or deleted per action. */
	alarms: number;
}

/** The first search's catch-up: every live message not indexed yet, in one call. */
export interface SearchCatchUp {
	messages: number;
	rows: number;
	/** `rows / messages`. */
	rowsPerMessage: number;
}

/** An edit of an original cross-posted to `targets` rooms, in every object, alarms included. */
export interface CrossPostEditRows {
	targets: number;
	samples: number;
	rows: number;
	perObject: Record<string, number>;
	/** Rows of the metrics flushes that fell in a sample (not in `rows`). */
	metricsFlushRows: number;
}

/**
 * The first message in a new room, its author's first there, in every object, alarms included:
 * the room learns the author (`room_users`), the author directory the room.
 */
export interface FirstMessageRows {
	rows: number;
	perObject: Record<string, number>;
}

export interface ChatCost {
	actions: Record<ChatAction, ActionRows>;
	/** Absent when an object restarted during the sample. */
	firstMessage?: FirstMessageRows;
	searchCatchUp: SearchCatchUp;
	editOfCrossPost: CrossPostEditRows[];
	/** Why the cross-posted edits are missing, when they are. */
	editOfCrossPostError?: string;
}

/** The cross-post sizes whose edits the probe prices. */
export const CROSS_POST_EDIT_SIZES = [1, 3] as const;

/** Samples per room action; typing has one of each (the room passes on one per user per 3 s). */
const SAMPLES = 3;
/** Messages in the room when it is first searched: the catch-up indexes them all. */
const CATCH_UP_MESSAGES = 100;

type Frame = { type?: unknown; id?: unknown; [key: string]: unknown };

interface Waiter {
	accept: (frame: Frame) => boolean;
	id: string | undefined;
	resolve: (frame: Frame) => void;
	reject: (error: Error) => void;
}

/**
 * A socket whose frames are parsed and handed to whoever waits for them; an `error` frame
 * carrying the id a waiter sent fails that waiter. The probe's traffic is small: parsing
 * every frame costs nothing worth measuring.
 */
class ChatSocket {
	private waiters: Waiter[] = [];
	private readonly socket: BenchSocket;

	private constructor(socket: BenchSocket) {
		this.socket = socket;
		socket.onFrame = (raw) => {
			let frame: Frame;
			try {
				frame = JSON.parse(raw.toString("utf8")) as Frame;
			} catch {
				return;
			}
			for (const waiter of [...this.waiters]) {
				if (frame.type === "error" && waiter.id !== undefined && frame.id === waiter.id) {
					this.drop(waiter);
					waiter.reject(new Error(`${String(frame.code)}: ${String(frame.message)} (frame ${waiter.id})`));
				} else if (waiter.accept(frame)) {
					this.drop(waiter);
					waiter.resolve(frame);
				}
			}
		};
	}

	static async open(target: Target, room: string, guest: string): Promise<ChatSocket> {
		return new ChatSocket(await BenchSocket.open(socketUrl(target.wsUrl, room, guest)));
	}

	private drop(waiter: Waiter): void {
		this.waiters = this.waiters.filter((w) => w !== waiter);
	}

	/** The next frame `accept` takes, within `timeoutMs`. */
	next(accept: (frame: Frame) => boolean, what: string, id?: string, timeoutMs = 10_000): Promise<Frame> {
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.drop(waiter);
				reject(new Error(`timed out waiting for ${what}`));
			}, timeoutMs);
			const waiter: Waiter = {
				accept,
				id,
				resolve: (frame) => {
					clearTimeout(timer);
					resolve(frame);
				},
				reject: (error) => {
					clearTimeout(timer);
					reject(error);
				},
			};
			this.waiters.push(waiter);
		});
	}

	send(frame: Record<string, unknown>): void {
		this.socket.send(JSON.stringify(frame));
	}

	/** Sends a frame with a client `id` and resolves with its ack. */
	async acked(frame: Record<string, unknown> & { id: string }): Promise<Frame> {
		const ack = this.next((f) => f.type === "ack" && f.id === frame.id, `the ack of ${frame.id}`, frame.id);
		this.send(frame);
		return await ack;
	}

	close(): void {
		this.socket.close();
	}
}

function stringField(frame: Frame, key: string): string {
	const value = frame[key];
	if (typeof value !== "string") throw new Error(`frame ${String(frame.type)} has no string \`${key}\``);
	return value;
}

/** The `n` of a stamped text (`~tag~sentAt~n~…`, see stampedText) with this tag, else undefined. */
function stampNumber(text: unknown, tag: string): number | undefined {
	if (typeof text !== "string") return undefined;
	const [, textTag, , n] = text.split("~", 4);
	return textTag === tag && n !== undefined ? Number(n) : undefined;
}

function numberField(frame: Frame, key: string): number {
	const value = frame[key];
	if (typeof value !== "number") throw new Error(`frame ${String(frame.type)} has no number \`${key}\``);
	return value;
}

interface Sample {
	rows: number;
	alarms: number;
}

function summary(samples: Sample[]): ActionRows {
	return {
		samples: samples.length,
		rows: round(samples.reduce((n, s) => n + s.rows, 0) / samples.length),
		maxRows: Math.max(...samples.map((s) => s.rows)),
		alarms: round(samples.reduce((n, s) => n + s.alarms, 0) / samples.length),
	};
}

/**
 * What the room's meter counted while `work` ran and for `SETTLE_MS` after it (writes after
 * an answer, if any, count). A room that restarted meanwhile (its meter started over) makes
 * the figure meaningless: that fails the probe rather than report it.
 */
async function roomRows(counters: CounterAccess, room: string, work: () => Promise<unknown>): Promise<Sample> {
	const read = async (): Promise<MeterReading> => {
		const reading = (await readMeters(counters.httpUrl, counters.token, [room]))[`room:${room}`];
		if (reading === undefined) throw new Error(`no meter for room ${room}`);
		return reading;
	};
	const before = await read();
	await work();
	await sleep(SETTLE_MS);
	const after = await read();
	if (after.incarnation !== before.incarnation) throw new Error(`room ${room} restarted during a measurement`);
	return {
		rows: after.rowsWritten - before.rowsWritten - ((after.metricsRows ?? 0) - (before.metricsRows ?? 0)),
		alarms: after.alarmWrites - before.alarmWrites,
	};
}

async function http(counters: CounterAccess, path: string, init?: RequestInit): Promise<unknown> {
	const response = await fetch(`${counters.httpUrl}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
	if (!response.ok) throw new Error(`${init?.method ?? "GET"} ${path}: ${response.status} ${await response.text()}`);
	return await response.json();
}

/**
 * Prices every chat action in one fresh room: a warm-up (the author's first messages register
 * them), `CATCH_UP_MESSAGES` messages and the first search (its catch-up), then each action
 * `SAMPLES` times with search on, then the edits of cross-posted originals in rooms of their own.
 */
export async function chatCost(target: Target, counters: CounterAccess): Promise<ChatCost> {
	const room = freshRoom("costc");
	const guest = "coster";
	const author = await ChatSocket.open(target, room, guest);
	const watcher = await ChatSocket.open(target, room, "watcher");
	let n = 0;
	const post = async (extra: Record<string, unknown> = {}, text = stampedText("cc", n, TEXT_BYTES)): Promise<Frame> =>
		await author.acked({ type: "send", id: `cc-${n++}`, text, ...extra });
	const samples = async (count: number, one: (i: number) => Promise<Sample>): Promise<ActionRows> => {
		const taken: Sample[] = [];
		for (let i = 0; i < count; i++) taken.push(await one(i));
		return summary(taken);
	};
	const search = (): Promise<unknown> => http(counters, `/v1/rooms/${room}/search?q=cc&limit=5&guest=${guest}`);
	try {
		// The author's first message here: the room learns the author, the author directory the room.
		const indexed: string[] = [];
		const everywhere = (): Promise<Record<string, MeterReading>> => readMeters(counters.httpUrl, counters.token, [room]);
		const beforeFirst = await everywhere();
		indexed.push(stringField(await post(), "msgId"));
		await sleep(SAGA_SETTLE_MS);
		const first = meterDelta(beforeFirst, await everywhere(), room);
		// Then the history the first search catches up on; its first messages stay indexed.
		while (indexed.length < CATCH_UP_MESSAGES) indexed.push(stringField(await post(), "msgId"));
		await sleep(SAGA_SETTLE_MS);
		const catchUp = await roomRows(counters, room, search);
		const actions: Partial<Record<ChatAction, ActionRows>> = {};
		actions.searchAgain = await samples(SAMPLES, () => roomRows(counters, room, search));

		// From here on the index is on and caught up: what a busy, searched room pays per action.
		const fresh: string[] = [];
		actions.plain = await samples(SAMPLES * 2, () =>
			roomRows(counters, room, async () => fresh.push(stringField(await post(), "msgId"))),
		);
		actions.reply = await samples(SAMPLES, (i) =>
			roomRows(counters, room, async () => fresh.push(stringField(await post({ replyTo: fresh[i] }), "msgId"))),
		);
		actions.mention = await samples(SAMPLES, () =>
			roomRows(counters, room, async () =>
				fresh.push(stringField(await post({}, `@${guest} ${stampedText("cc", n, TEXT_BYTES)}`), "msgId")),
			),
		);

		const edit = (msgId: string, id: string): Record<string, unknown> & { id: string } => ({
			type: "edit",
			id,
			msgId,
			text: stampedText("ce", n, TEXT_BYTES),
		});
		actions.edit = await samples(SAMPLES, (i) => roomRows(counters, room, () => author.acked(edit(fresh[i] as string, `ce-${i}`))));
		actions.editIndexed = await samples(SAMPLES, (i) =>
			roomRows(counters, room, () => author.acked(edit(indexed[i] as string, `cei-${i}`))),
		);
		actions.editRepeat = await samples(SAMPLES, (i) =>
			roomRows(counters, room, async () => {
				const ack = await author.acked(edit(indexed[i] as string, `cei-${i}`));
				if (ack.duplicate !== true) throw new Error("a repeated edit was not answered as a duplicate");
			}),
		);

		const react = (i: number, id: string, remove = false): Record<string, unknown> & { id: string } => ({
			type: "react",
			id,
			msgId: fresh[i],
			emoji: "👍",
			...(remove ? { remove: true } : {}),
		});
		actions.reactionAdded = await samples(SAMPLES, (i) => roomRows(counters, room, () => author.acked(react(i, `cr-${i}`))));
		actions.reactionDuplicate = await samples(SAMPLES, (i) =>
			roomRows(counters, room, async () => {
				const ack = await author.acked(react(i, `crd-${i}`));
				if (ack.duplicate !== true) throw new Error("a reaction already there was not answered as a duplicate");
			}),
		);
		actions.reactionRemoved = await samples(SAMPLES, (i) => roomRows(counters, room, () => author.acked(react(i, `crr-${i}`, true))));

		actions.readMoves = await samples(SAMPLES, async () => {
			// A new message first, so that each marker moves; the first covers the whole history.
			const seq = numberField(await post(), "seq");
			return await roomRows(counters, room, async () => {
				const receipt = author.next(
					(f) => f.type === "receipt" && f.seq === seq && (f.user as { id?: unknown } | undefined)?.id === `guest:${guest}`,
					"the read receipt",
				);
				author.send({ type: "read", seq });
				await receipt;
			});
		});
		const markRead = (seq: number): Promise<unknown> =>
			http(counters, `/v1/rooms/${room}/read?guest=${guest}`, {
				method: "PUT",
				headers: { "content-type": "application/json" },
				body: JSON.stringify({ seq }),
			});
		actions.readStays = await samples(SAMPLES, async (i) => {
			const seq = numberField(await post(), "seq");
			await markRead(seq);
			// The same marker again, or one behind it: neither moves it.
			return await roomRows(counters, room, () => markRead(i % 2 === 0 ? seq : seq - 1));
		});

		actions.typing = await samples(1, () =>
			roomRows(counters, room, async () => {
				const passed = watcher.next(
					(f) => f.type === "typing" && (f.user as { id?: unknown } | undefined)?.id === `guest:${guest}`,
					"the typing frame",
				);
				author.send({ type: "typing" });
				await passed;
			}),
		);
		// Within the 3 s after the one passed on: dropped by the throttle, answered by nothing.
		actions.typingDropped = await samples(1, () => roomRows(counters, room, async () => author.send({ type: "typing" })));

		const remove = (msgId: string, id: string) => async (): Promise<void> => {
			const deleted = author.next((f) => f.type === "deleted" && f.msgId === msgId, `the deleted frame of ${msgId}`, id);
			author.send({ type: "delete", id, msgId });
			await deleted;
		};
		actions.retract = await samples(SAMPLES, (i) => roomRows(counters, room, remove(fresh[SAMPLES + i] as string, `cd-${i}`)));
		actions.retractIndexed = await samples(SAMPLES, (i) =>
			roomRows(counters, room, remove(indexed[SAMPLES + i] as string, `cdi-${i}`)),
		);

		const result: ChatCost = {
			actions: actions as Record<ChatAction, ActionRows>,
			searchCatchUp: {
				messages: CATCH_UP_MESSAGES,
				rows: catchUp.rows,
				rowsPerMessage: round(catchUp.rows / CATCH_UP_MESSAGES),
			},
			editOfCrossPost: [],
			...(first === undefined
				? {}
				: {
						firstMessage: {
							rows: Object.values(first.perObject).reduce((a, b) => a + b, 0),
							// The room is the "origin" of meterDelta's kinds: here it is just the room.
							perObject: Object.fromEntries(
								Object.entries(first.perObject).map(([kind, n]) => [kind === "origin" ? "room" : kind, n]),
							),
						},
					}),
		};
		const missing = CHAT_ACTIONS.filter((action) => result.actions[action] === undefined);
		if (missing.length > 0) throw new Error(`not measured: ${missing.join(", ")}`);
		try {
			for (const size of CROSS_POST_EDIT_SIZES) result.editOfCrossPost.push(await crossPostEditRows(target, counters, size, 3));
		} catch (error) {
			result.editOfCrossPostError = error instanceof Error ? error.message : String(error);
		}
		return result;
	} finally {
		author.close();
		watcher.close();
	}
}

/**
 * Rows one edit of an original cross-posted to `targets` rooms writes in every object: the
 * edit at the origin, an edit task per copy (attempted straight away when the copy is there),
 * each copy's edit in its room and the tasks in the ops index, from the edit until every copy
 * shows it and what it set off has settled. Each sample edits a cross-post of its own, sent
 * and settled before the meters are read; a sample during which an object restarted is taken again.
 */
export async function crossPostEditRows(
	target: Target,
	counters: CounterAccess,
	targets: number,
	samples: number,
): Promise<CrossPostEditRows> {
	const origin = freshRoom("coste");
	const rooms = Array.from({ length: targets }, (_, i) => `${origin}-t${i}`);
	const author = await ChatSocket.open(target, origin, "coster");
	const watchers: ChatSocket[] = [];
	try {
		for (const room of rooms) watchers.push(await ChatSocket.open(target, room, "watcher"));
		await author.acked({ type: "send", id: "cew", text: stampedText("cew", 0, TEXT_BYTES) });
		await sleep(SAGA_SETTLE_MS);
		const totals: Record<string, number>[] = [];
		const flushes: number[] = [];
		for (let n = 1; totals.length < samples && n <= samples * 3; n++) {
			const copies = watchers.map((w) =>
				w.next((f) => f.type === "message" && stampNumber(f.text, "cx") === n, "the cross-posted copy"),
			);
			const sagaDone = author.next((f) => f.type === "saga" && f.state === "succeeded", "the saga's succeeded frame");
			const posted = await author.acked({ type: "send", id: `cx-${n}`, text: stampedText("cx", n, TEXT_BYTES), crossPost: rooms });
			await Promise.all([sagaDone, ...copies]);
			await sleep(SAGA_SETTLE_MS);
			const before = await readMeters(counters.httpUrl, counters.token, [origin, ...rooms]);
			const edited = watchers.map((w) =>
				w.next((f) => f.type === "message.edited" && stampNumber(f.text, "cxe") === n, "the copy's edit"),
			);
			await author.acked({
				type: "edit",
				id: `cxe-${n}`,
				msgId: stringField(posted, "msgId"),
				text: stampedText("cxe", n, TEXT_BYTES),
			});
			await Promise.all(edited);
			await sleep(SAGA_SETTLE_MS);
			const delta = meterDelta(before, await readMeters(counters.httpUrl, counters.token, [origin, ...rooms]), origin);
			if (delta === undefined) continue;
			totals.push(delta.perObject);
			flushes.push(delta.flushRows);
		}
		return averageSamples(targets, totals, flushes);
	} finally {
		author.close();
		for (const w of watchers) w.close();
	}
}

/** The `cost` scenario's metric for one figure of one action: `rowsEdit`, `maxRowsPlain`, `alarmsTyping`, … */
export function chatMetricName(figure: "rows" | "maxRows" | "alarms", action: ChatAction): string {
	return `${figure}${action.charAt(0).toUpperCase()}${action.slice(1)}`;
}

/** The figures as flat metrics of the `cost` scenario (see chatMetricName). */
export function chatMetrics(chat: ChatCost | undefined): Record<string, number> {
	if (chat === undefined) return {};
	const metrics: Record<string, number> = {};
	for (const action of CHAT_ACTIONS) {
		const figures = chat.actions[action];
		metrics[chatMetricName("rows", action)] = figures.rows;
		metrics[chatMetricName("maxRows", action)] = figures.maxRows;
		metrics[chatMetricName("alarms", action)] = figures.alarms;
	}
	if (chat.firstMessage !== undefined) metrics.rowsFirstMessage = chat.firstMessage.rows;
	metrics.alarmsChat = CHAT_ACTIONS.reduce((sum, action) => sum + chat.actions[action].alarms, 0);
	metrics.rowsSearchCatchUpPerMessage = chat.searchCatchUp.rowsPerMessage;
	for (const edit of chat.editOfCrossPost) metrics[`rowsEditOfCrossPost${edit.targets}`] = edit.rows;
	return metrics;
}
