/**
 * @module
 * Who is typing, as the chat page shows it: a `typing` frame shows its sender for
 * TYPING_EXPIRY_MS unless repeated, and a message from them ends it at once. Pure; the page
 * keeps the map and re-renders when `nextExpiry` comes.
 */
import type { UserRef } from "../src/protocol.ts";
import { TYPING_EXPIRY_MS } from "../src/protocol.ts";

/** Who typed, and until when (epoch ms) they count as typing. */
export type Typists = ReadonlyMap<string, { user: UserRef; until: number }>;

/** A `typing` frame from `user` at `now`. */
export function noteTyping(typists: Typists, user: UserRef, now: number, expiryMs = TYPING_EXPIRY_MS): Typists {
	const next = new Map(typists);
	next.set(user.id, { user, until: now + expiryMs });
	return next;
}

/** `userId` sent a message (or left): no longer typing. */
export function stopTyping(typists: Typists, userId: string): Typists {
	if (!typists.has(userId)) return typists;
	const next = new Map(typists);
	next.delete(userId);
	return next;
}

/** Those typing at `now`, not the reader, by name. */
export function activeTypists(typists: Typists, now: number, me: string | undefined): UserRef[] {
	return [...typists.values()]
		.filter((entry) => entry.until > now && entry.user.id !== me)
		.map((entry) => entry.user)
		.sort((a, b) => a.name.localeCompare(b.name));
}

/** When the line next changes by itself (someone's time runs out), if anyone is typing. */
export function nextExpiry(typists: Typists, now: number): number | undefined {
	let next: number | undefined;
	for (const { until } of typists.values()) if (until > now && (next === undefined || until < next)) next = until;
	return next;
}
