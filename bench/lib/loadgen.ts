/**
 * The scenarios. Each one opens its own fresh room(s), so no scenario sees another's history,
 * and each is bounded in time: a warmup, a measured window, and a short drain.
 *
 * Flow control is the same for every server: a flat-out sender keeps at most `window`
 * messages unaccepted, where "accepted" is Parley's `ack` (sent after commit) or, for the
 * baselines that have no acks, the sender's own copy of the broadcast. Without a window a
 * sender only measures how fast it can fill socket buffers.
 */
import { BenchSocket, MARK, openMany, readStamp, sendFrame, socketUrl, stampedText } from "./client.ts";
import { treeRssBytes } from "./proc.ts";
import { nowMs, round, Samples, sleep, type LatencySummary } from "./stats.ts";

export interface Target {
	wsUrl: string;
	/** Does the server ack sends? (Parley only.) */
	acks: boolean;
	/** Server processes, for memory. */
	pids(): number[];
}

export interface Timing {
	warmupMs: number;
	measureMs: number;
}

export type Progress = (line: string) => void;

const RUN_TAG = Date.now().toString(36);
let roomCounter = 0;

/** A room id no earlier scenario or run has used (rooms persist across scenarios). */
export function freshRoom(prefix: string): string {
	return `${prefix}-${RUN_TAG}-${++roomCounter}`;
}

/** The message size used by every throughput and latency scenario (text bytes). */
export const TEXT_BYTES = 128;
/** Unaccepted messages a flat-out sender may have outstanding. */
export const SEND_WINDOW = 100;
const CONNECT_CONCURRENCY = 50;

class WindowedSender {
	sent = 0;
	accepted = 0;
	errors = 0;
	private inFlight = 0;
	private running = false;
	private readonly ownEcho: Buffer;
	private readonly socket: BenchSocket;
	private readonly tag: string;
	private readonly acks: boolean;
	private readonly window: number;

	constructor(socket: BenchSocket, tag: string, acks: boolean, window: number) {
		this.socket = socket;
		this.tag = tag;
		this.acks = acks;
		this.window = window;
		this.ownEcho = Buffer.from(`"text":"~${tag}~`);
		socket.onFrame = (frame) => this.onFrame(frame);
	}

	start(): void {
		this.running = true;
		this.pump();
	}

	stop(): void {
		this.running = false;
	}

	private onFrame(frame: Buffer): void {
		if (this.acks ? frame.indexOf(MARK.ack) >= 0 : frame.indexOf(MARK.message) >= 0 && frame.indexOf(this.ownEcho) >= 0) {
			this.accepted++;
			this.inFlight--;
			this.pump();
		} else if (frame.indexOf(MARK.error) >= 0) {
			// A refused send (e.g. rate_limited) still frees its slot, or the window would stall.
			this.errors++;
			this.inFlight--;
			this.pump();
		}
	}

	private pump(): void {
		while (this.running && this.inFlight < this.window && !this.socket.closed) {
			const n = this.sent++;
			this.inFlight++;
			this.socket.send(sendFrame(`${this.tag}-${n}`, stampedText(this.tag, n, TEXT_BYTES)));
		}
	}
}

/** Counts `message` frames; optionally samples send-to-receive latency. */
class Receiver {
	frames = 0;
	readonly latency = new Samples();
	private window: [number, number] = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];

	constructor(socket: BenchSocket, sampleLatency: boolean) {
		socket.onFrame = (frame) => {
			if (frame.indexOf(MARK.message) < 0) return;
			this.frames++;
			if (!sampleLatency) return;
			const stamp = readStamp(frame);
			if (stamp !== undefined && stamp.sentAt >= this.window[0] && stamp.sentAt < this.window[1]) {
				this.latency.add(nowMs() - stamp.sentAt);
			}
		};
	}

	/** Only messages sent inside [from, to) are sampled, so warmup and drain are excluded. */
	sampleBetween(from: number, to: number): void {
		this.window = [from, to];
	}
}

function closeAll(sockets: BenchSocket[]): void {
	for (const socket of sockets) socket.close();
}

/** Runs `tick` every second during `ms`, for progress lines. */
async function timed(ms: number, tick: (elapsedMs: number) => void): Promise<void> {
	const start = Date.now();
	const timer = setInterval(() => tick(Date.now() - start), 1000);
	await sleep(ms);
	clearInterval(timer);
}

function latencyFields(summary: LatencySummary | undefined): Record<string, number> {
	if (summary === undefined) return {};
	return { p50Ms: round(summary.p50), p90Ms: round(summary.p90), p99Ms: round(summary.p99), maxMs: round(summary.max) };
}

export interface FlatOutResult {
	ingestPerSec: number;
	deliveriesPerSec: number;
	/** Deliveries / (ingest x receivers): 1 when every receiver got every accepted message. */
	fanoutEfficiency: number;
	errors: number;
	/** Latency seen by one receiver while saturated: context only, not the latency scenario. */
	loadedP50Ms?: number;
	loadedP99Ms?: number;
}

/** `senders` senders push flat out (windowed) to a room with `receivers` other sockets. */
export async function flatOut(
	target: Target,
	senders: number,
	receivers: number,
	timing: Timing,
	progress: Progress,
): Promise<FlatOutResult> {
	const room = freshRoom(`flat${senders}x${receivers}`);
	const receiverSockets = await openMany(
		Array.from({ length: receivers }, (_, i) => socketUrl(target.wsUrl, room, `r${i}`)),
		CONNECT_CONCURRENCY,
	);
	let senderSockets: BenchSocket[] = [];
	try {
		senderSockets = await openMany(
			Array.from({ length: senders }, (_, i) => socketUrl(target.wsUrl, room, `s${i}`)),
			CONNECT_CONCURRENCY,
		);
		const recv = receiverSockets.map((socket, i) => new Receiver(socket, i === 0));
		const send = senderSockets.map((socket, i) => new WindowedSender(socket, `s${i}`, target.acks, SEND_WINDOW));
		const totals = (): { accepted: number; frames: number; errors: number } => ({
			accepted: send.reduce((sum, s) => sum + s.accepted, 0),
			frames: recv.reduce((sum, r) => sum + r.frames, 0),
			errors: send.reduce((sum, s) => sum + s.errors, 0),
		});
		for (const sender of send) sender.start();
		await timed(timing.warmupMs, (ms) => progress(`warmup ${(ms / 1000).toFixed(0)}s`));
		const t0 = nowMs();
		const start = totals();
		recv[0]?.sampleBetween(t0, t0 + timing.measureMs);
		let last = start;
		let lastAt = t0;
		await timed(timing.measureMs, (ms) => {
			const current = totals();
			const dt = (nowMs() - lastAt) / 1000;
			progress(
				`measure ${(ms / 1000).toFixed(0)}/${(timing.measureMs / 1000).toFixed(0)}s ` +
					`in ${Math.round((current.accepted - last.accepted) / dt)}/s ` +
					`out ${Math.round((current.frames - last.frames) / dt)}/s`,
			);
			last = current;
			lastAt = nowMs();
		});
		const end = totals();
		const seconds = (nowMs() - t0) / 1000;
		for (const sender of send) sender.stop();
		const ingest = (end.accepted - start.accepted) / seconds;
		const deliveries = (end.frames - start.frames) / seconds;
		const loaded = recv[0]?.latency.summary();
		return {
			ingestPerSec: Math.round(ingest),
			deliveriesPerSec: Math.round(deliveries),
			fanoutEfficiency: ingest > 0 ? round(deliveries / (ingest * receivers)) : 0,
			errors: end.errors - start.errors,
			...(loaded === undefined ? {} : { loadedP50Ms: round(loaded.p50), loadedP99Ms: round(loaded.p99) }),
		};
	} finally {
		closeAll(senderSockets);
		closeAll(receiverSockets);
		await sleep(300);
	}
}

export interface FixedRateResult {
	ratePerSec: number;
	achievedPerSec: number;
	p50Ms?: number;
	p90Ms?: number;
	p99Ms?: number;
	maxMs?: number;
	/** Expected deliveries in the window that never arrived within the drain. */
	missing: number;
	/** The sender stopped because the server fell more than 5 s of traffic behind. */
	saturated: boolean;
}

/** One sender at a fixed rate (open loop) to `receivers` sockets: send-to-receive latency. */
export async function fixedRate(
	target: Target,
	ratePerSec: number,
	receivers: number,
	timing: Timing,
	progress: Progress,
): Promise<FixedRateResult> {
	const room = freshRoom("rate");
	const sockets = await openMany(
		Array.from({ length: receivers + 1 }, (_, i) => socketUrl(target.wsUrl, room, i === 0 ? "sender" : `r${i}`)),
		CONNECT_CONCURRENCY,
	);
	try {
		const [senderSocket, ...receiverSockets] = sockets as [BenchSocket, ...BenchSocket[]];
		const recv = receiverSockets.map((socket) => new Receiver(socket, true));
		let sent = 0;
		let sentInWindow = 0;
		let saturated = false;
		const begin = nowMs();
		const t0 = begin + timing.warmupMs;
		const t1 = t0 + timing.measureMs;
		for (const receiver of recv) receiver.sampleBetween(t0, t1);
		// Open loop: every millisecond send whatever the schedule says is due, so a slow server
		// shows up as latency instead of silently lowering the offered rate.
		const pacer = setInterval(() => {
			const now = nowMs();
			if (now >= t1 || saturated) return;
			const due = Math.floor(((now - begin) / 1000) * ratePerSec);
			const slowest = Math.min(...recv.map((r) => r.frames));
			if (sent - slowest > ratePerSec * 5) {
				saturated = true;
				return;
			}
			while (sent < due) {
				const n = sent++;
				if (now >= t0) sentInWindow++;
				senderSocket.send(sendFrame(`L-${n}`, stampedText("L", n, TEXT_BYTES)));
			}
		}, 1);
		await timed(timing.warmupMs + timing.measureMs, (ms) =>
			progress(`${ms < timing.warmupMs ? "warmup" : "measure"} ${(ms / 1000).toFixed(0)}s sent ${sent}`),
		);
		clearInterval(pacer);
		// Drain: wait for the stragglers of the window, at most 5 s.
		const expected = sentInWindow * recv.length;
		const received = (): number => recv.reduce((sum, r) => sum + r.latency.count, 0);
		const drainUntil = Date.now() + 5000;
		while (received() < expected && Date.now() < drainUntil) await sleep(50);
		const all = new Samples();
		// Per-receiver samples share one clock (one process), so they merge as they are.
		for (const receiver of recv) all.merge(receiver.latency);
		return {
			ratePerSec,
			achievedPerSec: Math.round(sentInWindow / (timing.measureMs / 1000)),
			...latencyFields(all.summary()),
			missing: Math.max(0, expected - received()),
			saturated,
		};
	} finally {
		closeAll(sockets);
		await sleep(300);
	}
}

export interface IdleMemoryResult {
	sockets: number;
	socketsPerRoom: number;
	rssBeforeMb: number;
	rssAfterMb: number;
	kbPerSocket: number;
	connectSeconds: number;
}

async function stableRss(pids: number[]): Promise<number> {
	// Median of three reads, 300 ms apart: RSS moves while the runtime settles.
	const reads: number[] = [];
	for (let i = 0; i < 3; i++) {
		reads.push(treeRssBytes(pids));
		await sleep(300);
	}
	reads.sort((a, b) => a - b);
	return reads[1] ?? 0;
}

/**
 * Opens `count` idle sockets, `perRoom` to a room (each a distinct guest, as real users would
 * be), and reports the server's RSS growth per socket. One socket per room is opened first and
 * counted in the "before" figure, so room (DO instance) startup is not billed to sockets.
 */
export async function idleMemory(target: Target, count: number, perRoom: number, progress: Progress): Promise<IdleMemoryResult> {
	const rooms = Array.from({ length: Math.ceil(count / perRoom) }, () => freshRoom("idle"));
	const pids = target.pids();
	if (pids.length === 0) throw new Error("no server process to measure");
	const warmers = await openMany(
		rooms.map((room) => socketUrl(target.wsUrl, room, "warm")),
		CONNECT_CONCURRENCY,
	);
	let sockets: BenchSocket[] = [];
	try {
		await sleep(1000);
		const before = await stableRss(pids);
		const urls = Array.from({ length: count }, (_, i) => socketUrl(target.wsUrl, rooms[Math.floor(i / perRoom)] as string, `u${i}`));
		const started = Date.now();
		const ticker = setInterval(() => progress(`opening ${count} idle sockets`), 1000);
		try {
			sockets = await openMany(urls, CONNECT_CONCURRENCY, 60_000);
		} finally {
			clearInterval(ticker);
		}
		const connectSeconds = (Date.now() - started) / 1000;
		progress(`${count} idle sockets open; settling`);
		await sleep(2000);
		const after = await stableRss(pids);
		return {
			sockets: count,
			socketsPerRoom: perRoom,
			rssBeforeMb: round(before / 2 ** 20),
			rssAfterMb: round(after / 2 ** 20),
			kbPerSocket: round((after - before) / 1024 / count),
			connectSeconds: round(connectSeconds),
		};
	} finally {
		closeAll(sockets);
		closeAll(warmers);
		await sleep(1000);
	}
}

export interface SagaResult {
	ratePerSec: number;
	targets: number;
	sent: number;
	completed: number;
	sagasPerSec: number;
	p50Ms?: number;
	p90Ms?: number;
	p99Ms?: number;
	maxMs?: number;
	errors: number;
}

/**
 * Cross-posts from one room to `targets` rooms at a fixed rate. Latency is commit (the ack,
 * which Parley sends only after the event and its outbox rows are committed) to the last
 * copy seen by a socket in a target room. Copies are matched by their stamped text.
 */
export async function crossPost(
	target: Target,
	ratePerSec: number,
	targets: number,
	timing: Timing,
	progress: Progress,
): Promise<SagaResult> {
	const origin = freshRoom("saga");
	const targetRooms = Array.from({ length: targets }, (_, i) => `${origin}-t${i}`);
	const sockets = await openMany(
		[socketUrl(target.wsUrl, origin, "author"), ...targetRooms.map((room) => socketUrl(target.wsUrl, room, "watcher"))],
		CONNECT_CONCURRENCY,
	);
	try {
		const [author, ...watchers] = sockets as [BenchSocket, ...BenchSocket[]];
		const ackAt = new Map<number, number>();
		const copies = new Map<number, number[]>();
		const latency = new Samples();
		let errors = 0;
		let completed = 0;
		const begin = nowMs();
		const t0 = begin + timing.warmupMs;
		const t1 = t0 + timing.measureMs;
		const sentAt = new Map<number, number>();
		const settle = (n: number): void => {
			const ack = ackAt.get(n);
			const seen = copies.get(n);
			if (ack === undefined || seen === undefined || seen.length < targets) return;
			const at = sentAt.get(n) ?? 0;
			if (at >= t0 && at < t1) {
				completed++;
				// A copy could in principle beat the ack to the client; that is latency 0, not negative.
				latency.add(Math.max(0, Math.max(...seen) - ack));
			}
			copies.delete(n);
		};
		author.onFrame = (frame) => {
			if (frame.indexOf(MARK.ack) >= 0) {
				const ack = JSON.parse(frame.toString()) as { id?: string };
				const n = Number(ack.id?.split("-")[1]);
				ackAt.set(n, nowMs());
				settle(n);
			} else if (frame.indexOf(MARK.error) >= 0) {
				errors++;
			}
		};
		for (const watcher of watchers) {
			watcher.onFrame = (frame) => {
				if (frame.indexOf(MARK.message) < 0) return;
				const stamp = readStamp(frame);
				if (stamp === undefined || stamp.tag !== "X") return;
				const seen = copies.get(stamp.n) ?? [];
				seen.push(nowMs());
				copies.set(stamp.n, seen);
				settle(stamp.n);
			};
		}
		let sent = 0;
		const pacer = setInterval(() => {
			const now = nowMs();
			if (now >= t1) return;
			const due = Math.floor(((now - begin) / 1000) * ratePerSec);
			while (sent < due) {
				const n = sent++;
				sentAt.set(n, now);
				author.send(sendFrame(`X-${n}`, stampedText("X", n, TEXT_BYTES), targetRooms));
			}
		}, 5);
		await timed(timing.warmupMs + timing.measureMs, (ms) =>
			progress(`${ms < timing.warmupMs ? "warmup" : "measure"} ${(ms / 1000).toFixed(0)}s sent ${sent} sagas`),
		);
		clearInterval(pacer);
		const inWindow = [...sentAt.values()].filter((at) => at >= t0 && at < t1).length;
		const drainUntil = Date.now() + 10_000;
		while (completed < inWindow && Date.now() < drainUntil) {
			progress(`draining: ${completed}/${inWindow} sagas complete`);
			await sleep(250);
		}
		return {
			ratePerSec,
			targets,
			sent: inWindow,
			completed,
			sagasPerSec: round(completed / (timing.measureMs / 1000)),
			...latencyFields(latency.summary()),
			errors,
		};
	} finally {
		closeAll(sockets);
		await sleep(300);
	}
}

/** Fails fast, with a readable reason, when a server cannot do the basics. */
export async function smokeTest(target: Target): Promise<void> {
	const room = freshRoom("smoke");
	const socket = await BenchSocket.open(socketUrl(target.wsUrl, room, "smoke"), 10_000);
	try {
		const accepted = new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error("no ack/echo for a send within 5 s")), 5000);
			socket.onFrame = (frame) => {
				const ok = target.acks ? frame.indexOf(MARK.ack) >= 0 : frame.indexOf(MARK.message) >= 0;
				if (ok || frame.indexOf(MARK.error) >= 0) {
					clearTimeout(timer);
					if (ok) resolve();
					else reject(new Error(`send refused: ${frame.toString().slice(0, 200)}`));
				}
			};
		});
		socket.send(sendFrame("smoke-0", stampedText("smoke", 0, TEXT_BYTES)));
		await accepted;
	} finally {
		socket.close();
	}
}
