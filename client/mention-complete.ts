/**
 * @module
 * `@` autocomplete in the chat page's composer, pure: what is being typed after an `@`, which
 * users the room has seen match it, and the text once one is picked.
 */
import type { UserRef } from "../src/protocol.ts";

/** A user the page has seen in the room (author, online, typing, reacting), and when last. */
export interface SeenUser extends UserRef {
	lastSeen: number;
}

/** What the partial after an `@` is made of while typing (a name's first word). */
const TOKEN_CHAR = /[\p{L}\p{N}_.-]/u;
/** What may come before the `@` of a mention: nothing, white space or an opening bracket. */
const BEFORE_AT = /[\s([{"']/;

/** The `@partial` just before the caret: where its `@` is and what follows it (maybe ""). */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | undefined {
	let i = caret;
	while (i > 0 && TOKEN_CHAR.test(text.charAt(i - 1))) i--;
	if (i === 0 || text.charAt(i - 1) !== "@") return undefined;
	const start = i - 1;
	if (start > 0 && !BEFORE_AT.test(text.charAt(start - 1))) return undefined;
	const query = text.slice(i, caret);
	if (query.length > 64) return undefined;
	return { start, query };
}

/**
 * Users to offer for `query`: names starting with it first, then names containing it; within
 * each, the most recently seen first. Never the reader. Names may hold spaces: the server
 * matches `@Ann Lee` whole (src/mentions.ts).
 */
export function matchMentions(users: Iterable<SeenUser>, query: string, me: string | undefined, limit = 5): UserRef[] {
	const q = query.toLowerCase();
	const ranked: Array<{ user: SeenUser; rank: number }> = [];
	for (const user of users) {
		if (user.id === me || user.name.trim() === "") continue;
		const name = user.name.toLowerCase();
		const rank = name.startsWith(q) ? 0 : name.includes(q) ? 1 : -1;
		if (rank >= 0) ranked.push({ user, rank });
	}
	ranked.sort((a, b) => a.rank - b.rank || b.user.lastSeen - a.user.lastSeen || a.user.name.localeCompare(b.user.name));
	return ranked.slice(0, limit).map(({ user }) => ({ id: user.id, name: user.name }));
}

/** The text with `@query` (from `start` to `caret`) replaced by `@name `, and where the caret goes. */
export function completeMention(text: string, start: number, caret: number, name: string): { text: string; caret: number } {
	const after = text.slice(caret);
	const inserted = `@${name}${after.startsWith(" ") ? "" : " "}`;
	return { text: `${text.slice(0, start)}${inserted}${after}`, caret: start + inserted.length + (after.startsWith(" ") ? 1 : 0) };
}
