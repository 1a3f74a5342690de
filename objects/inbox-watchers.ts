/**
 * v1.4: the inboxes that watch a room. A user whose inbox socket is open wants to hear when
 * a room's counts move (a message arrived, they read), without the room writing a row per
 * member: the inbox asks the room to be told for a while (`watch`, renewed from the inbox's
 * alarm), and after each commit the room pushes its summary to each watching inbox, by RPC.
 *
 * In memory only: a room that is evicted forgets its watchers, and their next renewal brings
 * them back. No timers: a watch ends by its timestamp, found out at the next change. At most
 * one push per inbox is in flight; changes meanwhile make one more push, with the latest
 * summary, when it returns, so a busy room sends each inbox at most one push per round trip.
 */
import type { RoomSummary } from "../src/inbox-protocol.ts";

/** How long a watch lasts without renewal (the inbox renews every minute while a socket is open). */
export const WATCH_MS = 120_000;
/** At most this many inboxes watch one room; more are told no, and read counts when asked. */
export const MAX_WATCHERS = 1000;

interface Watch {
	until: number;
	inFlight: boolean;
	/** A change came while a push was in flight: push again when it returns. */
	dirty: boolean;
}

export interface WatcherHost {
	now: () => number;
	/** The room as this user's inbox sees it, now. */
	summary: (userId: string) => RoomSummary;
	/** Tells the user's inbox; a failure is dropped (the inbox reads counts when asked). */
	push: (userId: string, summary: RoomSummary) => Promise<void>;
	/** Keeps the object alive for a push that outlives the request that caused it. */
	waitUntil: (work: Promise<unknown>) => void;
}

export class InboxWatchers {
	private readonly host: WatcherHost;
	private readonly watches = new Map<string, Watch>();

	constructor(host: WatcherHost) {
		this.host = host;
	}

	/** Starts or renews a user's watch; false when the room has too many watchers already. */
	watch(userId: string): boolean {
		const until = this.host.now() + WATCH_MS;
		const known = this.watches.get(userId);
		if (known !== undefined) {
			known.until = until;
			return true;
		}
		this.expire();
		if (this.watches.size >= MAX_WATCHERS) return false;
		this.watches.set(userId, { until, inFlight: false, dirty: false });
		return true;
	}

	/** The room changed: for every watching inbox (or only this user's, if watching), push its summary. */
	changed(userId?: string): void {
		if (this.watches.size === 0) return;
		const now = this.host.now();
		const users = userId === undefined ? [...this.watches.keys()] : [userId];
		for (const user of users) {
			const watch = this.watches.get(user);
			if (watch === undefined) continue;
			if (watch.until <= now) this.watches.delete(user);
			else if (watch.inFlight) watch.dirty = true;
			else this.push(user, watch);
		}
	}

	/** Whether this user's inbox watches the room now. */
	watching(userId: string): boolean {
		const watch = this.watches.get(userId);
		return watch !== undefined && watch.until > this.host.now();
	}

	/** How many inboxes watch this room now (for tests and metrics). */
	get size(): number {
		this.expire();
		return this.watches.size;
	}

	private expire(): void {
		const now = this.host.now();
		for (const [user, watch] of this.watches) if (watch.until <= now) this.watches.delete(user);
	}

	private push(userId: string, watch: Watch): void {
		watch.inFlight = true;
		watch.dirty = false;
		const sent = this.host
			.push(userId, this.host.summary(userId))
			.catch(() => undefined)
			.finally(() => {
				watch.inFlight = false;
				if (watch.dirty && this.watches.get(userId) === watch) this.push(userId, watch);
			});
		this.host.waitUntil(sent);
	}
}
