/**
 * Cross-posting under load (Parley only): fixed-rate cross-posts from one or more origin rooms
 * to their own 3 target rooms each, stepped up until the server no longer keeps up, and plain
 * ingest in a room that cross-posts at the same time.
 *
 * A step at a rate is sustained when, for the cross-posts sent in its measured window, commit
 * (the ack) → last copy stays under 2 s at p99, every one of them completes, and the backlog
 * (sent but not complete) does not grow over the window. The saturation rate is the highest
 * step sustained below the first one that is not.
 */
import { type BenchSocket, MARK, openMany, readStamp, sendFrame, socketUrl, stampedText } from "./client.ts";
import { freshRoom, type Progress, SEND_WINDOW, type Target, TEXT_BYTES, type Timing } from "./loadgen.ts";
import { nowMs, round, Samples, sleep } from "./stats.ts";

/** A step is sustained only under this p99 (commit → last copy). */
export const SATURATION_P99_MS = 2000;
/** Longest a step may take to drain its window's cross-posts after sending stops. */
const DRAIN_MS = 3000;

export interface LoadStep {
	/** Cross-posts per second offered, summed over the origins. */
	ratePerSec: number;
	origins: number;
	sent: number;
	completed: number;
	p50Ms?: number;
	p99Ms?: number;
	/** Sent but not complete at the window's start and end: a growing backlog means the server falls behind. */
	backlogStart: number;
	backlogEnd: number;
	errors: number;
	sustained: boolean;
}

interface Origin {
	author: BenchSocket;
	watchers: BenchSocket[];
	targets: string[];
}

/**
 * Cross-posts at `ratePerSec` in all, spread over `origins` rooms, each to its own `targets`
 * rooms (a socket watching each), for one step: warm-up, measured window, drain.
 */
export async function crossPostStep(
	target: Target,
	origins: number,
	targets: number,
	ratePerSec: number,
	timing: Timing,
	progress: Progress,
): Promise<LoadStep> {
	const rooms = Array.from({ length: origins }, () => {
		const origin = freshRoom("sat");
		return { origin, targets: Array.from({ length: targets }, (_, i) => `${origin}-t${i}`) };
	});
	const urls = rooms.flatMap(({ origin, targets: t }) => [
		socketUrl(target.wsUrl, origin, "author"),
		...t.map((room) => socketUrl(target.wsUrl, room, "watcher")),
	]);
	const sockets = await openMany(urls, 40);
	const per = targets + 1;
	const open: Origin[] = rooms.map((r, i) => ({
		author: sockets[i * per] as BenchSocket,
		watchers: sockets.slice(i * per + 1, (i + 1) * per),
		targets: r.targets,
	}));
	try {
		const ackAt = new Map<string, number>();
		const seen = new Map<string, number[]>();
		const sentAt = new Map<string, number>();
		const latency = new Samples();
		let completed = 0;
		let errors = 0;
		const begin = nowMs();
		const t0 = begin + timing.warmupMs;
		const t1 = t0 + timing.measureMs;
		const done = new Set<string>();
		const settle = (key: string): void => {
			const ack = ackAt.get(key);
			const copies = seen.get(key);
			if (ack === undefined || copies === undefined || copies.length < targets || done.has(key)) return;
			done.add(key);
			seen.delete(key);
			const at = sentAt.get(key) ?? 0;
			if (at >= t0 && at < t1) {
				completed++;
				latency.add(Math.max(0, Math.max(...copies) - ack));
			}
		};
		open.forEach((o, oi) => {
			o.author.onFrame = (frame) => {
				if (frame.indexOf(MARK.ack) >= 0) {
					const ack = JSON.parse(frame.toString()) as { id?: string };
					const key = `${oi}:${ack.id?.split("-")[1] ?? ""}`;
					ackAt.set(key, nowMs());
					settle(key);
				} else if (frame.indexOf(MARK.error) >= 0) errors++;
			};
			for (const watcher of o.watchers) {
				watcher.onFrame = (frame) => {
					if (frame.indexOf(MARK.message) < 0) return;
					const stamp = readStamp(frame);
					if (stamp === undefined || stamp.tag !== `S${oi}`) return;
					const key = `${oi}:${stamp.n}`;
					const copies = seen.get(key) ?? [];
					copies.push(nowMs());
					seen.set(key, copies);
					settle(key);
				};
			}
		});
		const sentBy = open.map(() => 0);
		const backlog = (): number => sentAt.size - done.size;
		let backlogStart = 0;
		let measuring = false;
		const pacer = setInterval(() => {
			const now = nowMs();
			if (!measuring && now >= t0) {
				measuring = true;
				backlogStart = backlog();
			}
			if (now >= t1) return;
			const due = Math.floor(((now - begin) / 1000) * (ratePerSec / origins));
			open.forEach((o, oi) => {
				while ((sentBy[oi] ?? 0) < due) {
					const n = sentBy[oi] ?? 0;
					sentBy[oi] = n + 1;
					sentAt.set(`${oi}:${n}`, now);
					o.author.send(sendFrame(`S${oi}-${n}`, stampedText(`S${oi}`, n, TEXT_BYTES), o.targets));
				}
			});
		}, 5);
		while (nowMs() < t1) {
			progress(`${ratePerSec}/s over ${origins} origin(s): ${nowMs() < t0 ? "warmup" : "measure"}, backlog ${backlog()}`);
			await sleep(Math.min(1000, Math.max(10, t1 - nowMs())));
		}
		clearInterval(pacer);
		const backlogEnd = backlog();
		const inWindow = [...sentAt.values()].filter((at) => at >= t0 && at < t1).length;
		const drainUntil = Date.now() + DRAIN_MS;
		while (completed < inWindow && Date.now() < drainUntil) await sleep(50);
		const summary = latency.summary();
		const p99 = summary === undefined ? undefined : round(summary.p99);
		const step: LoadStep = {
			ratePerSec,
			origins,
			sent: inWindow,
			completed,
			...(summary === undefined ? {} : { p50Ms: round(summary.p50), p99Ms: round(summary.p99) }),
			backlogStart,
			backlogEnd,
			errors,
			// Growing: more than a quarter second of offered load piled up over the window.
			sustained:
				inWindow > 0 &&
				completed === inWindow &&
				p99 !== undefined &&
				p99 < SATURATION_P99_MS &&
				backlogEnd - backlogStart <= ratePerSec / 4 &&
				errors === 0,
		};
		return step;
	} finally {
		for (const socket of sockets) socket.close();
		await sleep(300);
	}
}

export interface SaturationResult {
	origins: number;
	/** The highest rate sustained (cross-posts/s in all), 0 if none was. */
	sustainedPerSec: number;
	steps: LoadStep[];
}

/**
 * Steps the rate up (`rates`, ascending) until a step is not sustained, then once more at
 * the same rate (a step can fail on a machine hiccup); the answer is the last rate sustained.
 */
export async function findSaturation(
	target: Target,
	origins: number,
	rates: readonly number[],
	timing: Timing,
	progress: Progress,
): Promise<SaturationResult> {
	const steps: LoadStep[] = [];
	let sustainedPerSec = 0;
	for (const rate of rates) {
		let step = await crossPostStep(target, origins, 3, rate, timing, progress);
		steps.push(step);
		if (!step.sustained) {
			step = await crossPostStep(target, origins, 3, rate, timing, progress);
			steps.push(step);
		}
		if (!step.sustained) break;
		sustainedPerSec = rate;
	}
	return { origins, sustainedPerSec, steps };
}

export interface MixedIngest {
	/** The cross-posting room (for a reader of its meter). */
	room: string;
	/** Acked plain messages per second into the room while it also cross-posts. */
	ingestPerSec: number;
	crossPostsPerSec: number;
	crossPostsAcked: number;
}

/**
 * Plain ingest (one sender flat out, `SEND_WINDOW` unacked at most, 10 receivers) in a room
 * that at the same time cross-posts at `crossRate` per second to 3 rooms, from another socket.
 */
export async function ingestWhileCrossPosting(
	target: Target,
	crossRate: number,
	timing: Timing,
	progress: Progress,
	targetCount = 3,
): Promise<MixedIngest> {
	const room = freshRoom("mixed");
	const targets = Array.from({ length: targetCount }, (_, i) => `${room}-t${i}`);
	const sockets = await openMany(
		[
			socketUrl(target.wsUrl, room, "sender"),
			socketUrl(target.wsUrl, room, "poster"),
			...Array.from({ length: 10 }, (_, i) => socketUrl(target.wsUrl, room, `r${i}`)),
			...targets.map((t) => socketUrl(target.wsUrl, t, "watcher")),
		],
		40,
	);
	const [sender, poster] = sockets as [BenchSocket, BenchSocket];
	try {
		let accepted = 0;
		let inFlight = 0;
		let running = true;
		let sent = 0;
		let counting = false;
		const pump = (): void => {
			while (running && inFlight < SEND_WINDOW && !sender.closed) {
				inFlight++;
				const n = sent++;
				sender.send(sendFrame(`P-${n}`, stampedText("P", n, TEXT_BYTES)));
			}
		};
		sender.onFrame = (frame) => {
			if (frame.indexOf(MARK.ack) >= 0 || frame.indexOf(MARK.error) >= 0) {
				inFlight--;
				if (counting && frame.indexOf(MARK.ack) >= 0) accepted++;
				pump();
			}
		};
		let crossAcks = 0;
		poster.onFrame = (frame) => {
			if (counting && frame.indexOf(MARK.ack) >= 0) crossAcks++;
		};
		const begin = nowMs();
		let posted = 0;
		const pacer = setInterval(() => {
			const due = Math.floor(((nowMs() - begin) / 1000) * crossRate);
			while (posted < due) {
				const n = posted++;
				poster.send(sendFrame(`Q-${n}`, stampedText("Q", n, TEXT_BYTES), targets.length === 0 ? undefined : targets));
			}
		}, 5);
		pump();
		progress(`plain ingest while cross-posting ${crossRate}/s: warmup`);
		await sleep(timing.warmupMs);
		counting = true;
		progress(`plain ingest while cross-posting ${crossRate}/s: measure`);
		await sleep(timing.measureMs);
		counting = false;
		running = false;
		clearInterval(pacer);
		return {
			room,
			ingestPerSec: round(accepted / (timing.measureMs / 1000)),
			crossPostsPerSec: crossRate,
			crossPostsAcked: round(crossAcks / (timing.measureMs / 1000)),
		};
	} finally {
		for (const socket of sockets) socket.close();
		await sleep(300);
	}
}
