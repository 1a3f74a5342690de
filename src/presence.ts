/**
 * @module
 * Presence rules, as pure code: who is online, how joins and leaves are coalesced per short
 * window into one v1.2 `presence` frame, when a room stops listing users and only counts
 * them, what a welcome lists, and how the member list is paged. The room owns the sockets
 * and the timer; everything it decides about presence is decided here.
 */
import { type MembersQuery, ONLINE_SAMPLE, type PresenceMode, type PresenceUpdateFrame, type UserRef } from "./protocol.ts";

/** A window's shortest length: a burst of joins inside it costs one frame per socket. */
export const PRESENCE_WINDOW_MS = 250;
/**
 * Presence frames a room may send per second, all sockets together. A window stretches with
 * the number of sockets that get its frame, so a room's presence traffic stays flat however
 * big it is, and the frames sent grow with the joins, not with their square.
 */
export const PRESENCE_FRAMES_PER_SEC = 5_000;

export function presenceMode(online: number, listLimit: number): PresenceMode {
	return online <= listLimit ? "list" : "count";
}

/** How long a window lasts when its frame goes to `sockets` sockets. */
export function windowMs(sockets: number): number {
	return Math.max(PRESENCE_WINDOW_MS, Math.ceil((sockets * 1000) / PRESENCE_FRAMES_PER_SEC));
}

/** Whom the welcome lists: everyone up to the list limit, else a sample that starts with the joiner. */
export function welcomeList(users: Iterable<UserRef>, total: number, me: UserRef, listLimit: number): UserRef[] {
	const sample = total <= listLimit ? total : Math.min(ONLINE_SAMPLE, listLimit);
	const list: UserRef[] = total <= listLimit ? [] : [me];
	for (const user of users) {
		if (list.length >= sample) break;
		if (total > listLimit && user.id === me.id) continue;
		list.push(user);
	}
	return list;
}

/** One page of users sorted by id, after `cursor` (exclusive). */
export function pageSorted(sorted: readonly UserRef[], query: MembersQuery): { members: UserRef[]; cursor?: string } {
	let lo = 0;
	const after = query.cursor;
	if (after !== undefined) {
		let hi = sorted.length;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if ((sorted[mid]?.id ?? "") <= after) lo = mid + 1;
			else hi = mid;
		}
	}
	const members = sorted.slice(lo, lo + query.limit);
	const last = members.at(-1);
	return lo + query.limit < sorted.length && last !== undefined ? { members, cursor: last.id } : { members };
}

function byId(a: UserRef, b: UserRef): number {
	return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Who is online (distinct users, in the order they came), how many sockets each has, and the
 * changes since the last window. Counting sockets here, rather than listing a user's sockets
 * from the runtime on every join, keeps a join from touching the room's other sockets (each
 * socket the runtime hands back costs memory for as long as the room stays awake).
 */
export class Roster {
	readonly #users: Map<string, UserRef>;
	readonly #sockets = new Map<string, number>();
	/** Users whose presence changed in the current window, with the ref to report. */
	readonly #touched = new Map<string, UserRef>();
	readonly #listLimit: number;
	/** The mode of the last frame sent, so a return to `list` mode sends the whole list. */
	#reported: PresenceMode;
	/** A welcome since the last frame listed only a sample: the next list must be whole too. */
	#sampled = false;
	#sorted: UserRef[] | undefined;

	/** `online`: the user of every open socket (a user once per socket). */
	constructor(online: Iterable<UserRef>, listLimit: number) {
		this.#users = new Map();
		for (const user of online) {
			this.#users.set(user.id, user);
			this.#sockets.set(user.id, (this.#sockets.get(user.id) ?? 0) + 1);
		}
		this.#listLimit = listLimit;
		this.#reported = presenceMode(this.#users.size, listLimit);
	}

	get count(): number {
		return this.#users.size;
	}

	/** The mode the room is in now (v1 frames are sent only in `list` mode). */
	get mode(): PresenceMode {
		return presenceMode(this.#users.size, this.#listLimit);
	}

	/** Whether a window has changes to report. */
	get pending(): boolean {
		return this.#touched.size > 0;
	}

	has(userId: string): boolean {
		return this.#users.has(userId);
	}

	/** Open sockets of a user, as counted. */
	sockets(userId: string): number {
		return this.#sockets.get(userId) ?? 0;
	}

	/** A socket of `user` opened; true when it is their first (they joined). */
	connect(user: UserRef): boolean {
		const count = (this.#sockets.get(user.id) ?? 0) + 1;
		this.#sockets.set(user.id, count);
		if (count === 1) this.join(user);
		return count === 1;
	}

	/** A socket of `user` closed; true when it was their last (they left). */
	disconnect(user: UserRef): boolean {
		const count = Math.max(0, (this.#sockets.get(user.id) ?? 0) - 1);
		if (count > 0) {
			this.#sockets.set(user.id, count);
			return false;
		}
		this.#sockets.delete(user.id);
		this.leave(user);
		return true;
	}

	/** Sets a user's count from the runtime's own list, when the count may have drifted. */
	recount(user: UserRef, sockets: number): void {
		if (sockets > 0) {
			this.#sockets.set(user.id, sockets);
			if (!this.#users.has(user.id)) this.join(user);
		} else if (this.#sockets.delete(user.id)) this.leave(user);
	}

	join(user: UserRef): void {
		this.#users.set(user.id, user);
		this.#touched.set(user.id, user);
		this.#sorted = undefined;
	}

	/**
	 * A user's last socket left. Reported even when they were not listed: a room woken by that
	 * very close rebuilds its list from the sockets still open, so they are already missing.
	 */
	leave(user: UserRef): void {
		if (this.#users.delete(user.id)) this.#sorted = undefined;
		this.#touched.set(user.id, user);
	}

	/** The `online` list and total of a welcome for `me`. */
	welcome(me: UserRef): { online: UserRef[]; onlineTotal: number } {
		if (this.mode === "count") this.#sampled = true;
		return { online: welcomeList(this.#users.values(), this.#users.size, me, this.#listLimit), onlineTotal: this.#users.size };
	}

	/**
	 * Ends the window: its v1.2 frame, or undefined when nobody's presence changed. Every user
	 * touched is reported by where they ended up, even one who came and went within the
	 * window: a socket welcomed in between listed them and must hear that they left.
	 */
	flush(): PresenceUpdateFrame | undefined {
		if (this.#touched.size === 0) return undefined;
		const mode = this.mode;
		const count = this.#users.size;
		let frame: PresenceUpdateFrame;
		if (mode === "count") frame = { type: "presence", mode, count };
		else if (this.#reported === "count" || this.#sampled) frame = { type: "presence", mode, count, members: [...this.#users.values()] };
		else {
			const joined: UserRef[] = [];
			const left: UserRef[] = [];
			for (const [id, user] of this.#touched) (this.#users.has(id) ? joined : left).push(user);
			frame = { type: "presence", mode, count, joined, left };
		}
		this.#touched.clear();
		this.#reported = mode;
		this.#sampled = false;
		return frame;
	}

	/** A page of the member list, sorted by user id; the sort is kept until someone comes or goes. */
	page(query: MembersQuery): { members: UserRef[]; cursor?: string } {
		this.#sorted ??= [...this.#users.values()].sort(byId);
		return pageSorted(this.#sorted, query);
	}
}
