/**
 * @module
 * `@` mentions (v1.3): which of the users a room knows a message's text names. Pure, so the
 * rules are tested on their own (test/unit/mentions.test.ts); the room supplies the users
 * (objects/room-users.ts) and stores the result on the event.
 *
 * Rules: a mention is `@` at the start of the text or after a character that is not a letter,
 * digit or `_` (so `a@b.c` is no mention), followed by a user's id or name, compared without
 * case, and ending at the end of the text or before a character that is not a letter, digit or
 * `_`. Names may hold spaces (`@Ann Lee`), so at one `@` the longest id or name that fits wins.
 * At most MAX_MENTIONS distinct users are kept, in the order first mentioned.
 */
import { MAX_MENTIONS, type UserRef } from "./protocol.ts";

const WORD = /[\p{L}\p{N}_]/u;

/** One `@` mention in a text: `text.slice(start, end)` is the `@` and the handle. */
export interface MentionSpan {
	start: number;
	end: number;
	userId: string;
}

/** The users a room knows, arranged for matching (build once, match many texts). */
export class MentionIndex {
	/** By the lower-cased first code point of a handle: [handle (lower case), user id], longest first. */
	private readonly byFirst = new Map<string, Array<[string, string]>>();

	constructor(users: Iterable<UserRef>) {
		for (const user of users) {
			for (const handle of new Set([user.id, user.name])) this.add(handle, user.id);
		}
		for (const list of this.byFirst.values()) list.sort((a, b) => b[0].length - a[0].length);
	}

	private add(handle: string, userId: string): void {
		const lower = handle.toLowerCase();
		const first = String.fromCodePoint(lower.codePointAt(0) ?? 0);
		if (lower === "" || lower.trim() !== lower) return;
		const list = this.byFirst.get(first) ?? [];
		list.push([lower, userId]);
		this.byFirst.set(first, list);
	}

	/**
	 * Every mention in `text`, in order, where it stands (UTF-16 offsets of the `@` and past the
	 * handle): what a client highlights. Repeats are kept; there is no cap.
	 */
	spans(text: string): MentionSpan[] {
		const found: MentionSpan[] = [];
		if (!text.includes("@")) return found;
		const lower = text.toLowerCase();
		// Lower-casing may change a string's length (rare letters): then positions are not shared.
		const haystack = lower.length === text.length ? lower : text;
		let at = haystack.indexOf("@");
		while (at !== -1) {
			const before = at === 0 ? "" : haystack[at - 1];
			const next = haystack.codePointAt(at + 1);
			const list =
				next === undefined || (before !== "" && WORD.test(before ?? "")) ? undefined : this.byFirst.get(String.fromCodePoint(next));
			const hit = list?.find(
				([handle]) => haystack.startsWith(handle, at + 1) && !WORD.test(haystack.charAt(at + 1 + handle.length)),
			);
			if (hit !== undefined) found.push({ start: at, end: at + 1 + hit[0].length, userId: hit[1] });
			at = haystack.indexOf("@", at + 1 + (hit?.[0].length ?? 0));
		}
		return found;
	}

	/** The ids of the users `text` mentions (see the module's rules), at most MAX_MENTIONS; empty when none. */
	match(text: string): string[] {
		const found: string[] = [];
		for (const { userId } of this.spans(text)) {
			if (found.length === MAX_MENTIONS) break;
			if (!found.includes(userId)) found.push(userId);
		}
		return found;
	}
}

/** The ids `text` mentions among `users` (a one-off MentionIndex). */
export function parseMentions(text: string, users: Iterable<UserRef>): string[] {
	return new MentionIndex(users).match(text);
}
