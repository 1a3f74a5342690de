/**
 * @module
 * Who is typing (v1.3), as a view shows it: each user for TYPING_EXPIRY_MS after the last
 * `typing` frame heard from them. Pure (the caller passes the time), so a view only needs a
 * timer while someone is typing: until `nextExpiry()`.
 */
import type { UserRef } from "../src/protocol.ts";
import { TYPING_EXPIRY_MS } from "../src/protocol.ts";

export class TypingUsers {
	readonly #expiryMs: number;
	/** userId -> who and until when; in the order they started typing. */
	readonly #users = new Map<string, { user: UserRef; until: number }>();

	constructor(expiryMs = TYPING_EXPIRY_MS) {
		this.#expiryMs = expiryMs;
	}

	/** A `typing` frame from `user` at `nowMs`; returns whether the list of typers changed. */
	heard(user: UserRef, nowMs: number): boolean {
		const known = this.#users.get(user.id);
		this.#users.set(user.id, { user, until: nowMs + this.#expiryMs });
		return known === undefined || known.user.name !== user.name;
	}

	/** `user` stopped typing (their message arrived); returns whether they were listed. */
	stopped(userId: string): boolean {
		return this.#users.delete(userId);
	}

	/** Drops everyone whose time is up; returns whether anyone was dropped. */
	expire(nowMs: number): boolean {
		let changed = false;
		for (const [id, entry] of this.#users) {
			if (entry.until <= nowMs) {
				this.#users.delete(id);
				changed = true;
			}
		}
		return changed;
	}

	/** Who is typing (as of the last `expire`), in the order they started. */
	list(): UserRef[] {
		return [...this.#users.values()].map((entry) => entry.user);
	}

	/** When the next one expires; undefined when nobody is typing. */
	nextExpiry(): number | undefined {
		let next: number | undefined;
		for (const { until } of this.#users.values()) next = next === undefined ? until : Math.min(next, until);
		return next;
	}
}
