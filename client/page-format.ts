/**
 * @module
 * The chat page's layout rules, pure: which messages are grouped under one header, where the
 * date separators and the unread divider go, which message the "seen by" line follows, and
 * which message up-arrow edits. The page calls these over the messages it shows (in seq
 * order) and places elements where they say.
 */

/** The emoji the reaction picker offers; any other (one grapheme or `:name:`) still shows as a chip. */
export const QUICK_REACTIONS: readonly string[] = ["👍", "❤️", "😂", "🎉", "😮", "👀"];

/** What the layout needs to know of one message on screen. */
export interface MessageSummary {
	seq: number;
	authorId: string;
	ts: number;
	/** Retracted: shown as removed, never edited, never grouped into. */
	removed?: boolean;
	/** A reply starts its own group, so its quote sits under a name. */
	reply?: boolean;
}

/** Consecutive messages from one author within this window share one header. */
export const GROUP_WINDOW_MS = 5 * 60_000;

/** Where a message sits among its neighbours. */
export interface Placement {
	/** Set on the first message of a (local) day: the label of its separator. */
	day?: string;
	/** Under the previous message's header: same author, soon after, same day. */
	grouped: boolean;
	/** The unread divider goes just before this message. */
	firstUnread: boolean;
}

/** The calendar day of a timestamp in the reader's time zone, as `YYYY-MM-DD`. */
export function dayKey(ts: number): string {
	const date = new Date(ts);
	const pad = (n: number): string => String(n).padStart(2, "0");
	return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** "Today", "Yesterday", or the date (with the year only when it is not this year). */
export function dayLabel(ts: number, now: number, locale?: string): string {
	const key = dayKey(ts);
	if (key === dayKey(now)) return "Today";
	const yesterday = new Date(now);
	yesterday.setDate(yesterday.getDate() - 1);
	if (key === dayKey(yesterday.getTime())) return "Yesterday";
	const sameYear = new Date(ts).getFullYear() === new Date(now).getFullYear();
	return new Date(ts).toLocaleDateString(locale, {
		weekday: "long",
		month: "long",
		day: "numeric",
		...(sameYear ? {} : { year: "numeric" }),
	});
}

/**
 * The placement of every message, in the order given (seq order). `readSeq` is the reader's
 * marker when the room was opened (undefined or 0: no divider); the divider goes before the first
 * message after it written by someone else.
 */
export function layout(
	messages: readonly MessageSummary[],
	options: { now: number; me?: string; readSeq?: number; locale?: string },
): Placement[] {
	const firstUnread = firstUnreadSeq(messages, options.readSeq, options.me);
	let previous: MessageSummary | undefined;
	return messages.map((message) => {
		const newDay = previous === undefined || dayKey(previous.ts) !== dayKey(message.ts);
		const unread = message.seq === firstUnread;
		const grouped =
			previous !== undefined &&
			!newDay &&
			!unread &&
			message.reply !== true &&
			previous.removed !== true &&
			message.removed !== true &&
			previous.authorId === message.authorId &&
			message.ts - previous.ts >= 0 &&
			message.ts - previous.ts <= GROUP_WINDOW_MS;
		previous = message;
		const placement: Placement = { grouped, firstUnread: unread };
		if (newDay) placement.day = dayLabel(message.ts, options.now, options.locale);
		return placement;
	});
}

/**
 * The seq of the first message after `readSeq` that someone else wrote, if any is shown. A
 * reader who never read the room (marker 0) gets none: to a newcomer everything is new, and a
 * divider above all of it says nothing.
 */
export function firstUnreadSeq(
	messages: readonly MessageSummary[],
	readSeq: number | undefined,
	me: string | undefined,
): number | undefined {
	if (readSeq === undefined || readSeq === 0) return undefined;
	return messages.find((message) => message.seq > readSeq && message.authorId !== me && message.removed !== true)?.seq;
}

/**
 * The unread divider's label: "3 new messages", or "1000+ new messages" when the server's count
 * stopped at its cap (UNREAD_COUNT_MAX); just "New messages" when the count is not known.
 */
export function unreadLabel(unread: number | undefined, cap: number): string {
	if (unread === undefined || unread <= 0) return "New messages";
	const count = unread >= cap ? `${cap.toLocaleString("en-US")}+` : unread.toLocaleString("en-US");
	return `${count} new message${unread === 1 ? "" : "s"}`;
}

/** One other reader's marker. */
export interface ReaderMark {
	userId: string;
	name: string;
	seq: number;
}

/**
 * Where the "seen by" line goes: under the latest message that another reader's marker covers,
 * naming every reader (not the reader themself, not the message's author) whose marker covers
 * it. Undefined when nobody else has read anything shown.
 */
export function seenBy(
	messages: readonly MessageSummary[],
	readers: readonly ReaderMark[],
	me: string | undefined,
): { seq: number; names: string[] } | undefined {
	for (let i = messages.length - 1; i >= 0; i--) {
		const message = messages[i];
		if (message === undefined || message.removed === true) continue;
		const names = readers
			.filter((reader) => reader.userId !== me && reader.userId !== message.authorId && reader.seq >= message.seq)
			.map((reader) => reader.name)
			.sort((a, b) => a.localeCompare(b));
		if (names.length > 0) return { seq: message.seq, names };
	}
	return undefined;
}

/** "Seen by alice", "Seen by alice and bob", "Seen by alice, bob and 3 others". */
export function seenByText(names: readonly string[], shown = 3): string {
	return `Seen by ${listNames(names, shown)}`;
}

/** "alice is typing…", "alice and bob are typing…", "alice, bob and 2 others are typing…". */
export function typingText(names: readonly string[], shown = 2): string {
	if (names.length === 0) return "";
	return `${listNames(names, shown)} ${names.length === 1 ? "is" : "are"} typing…`;
}

/** Names as prose, at most `shown` of them before "and N others". */
export function listNames(names: readonly string[], shown: number): string {
	if (names.length <= shown) {
		if (names.length <= 1) return names[0] ?? "";
		return `${names.slice(0, -1).join(", ")} and ${names.at(-1) ?? ""}`;
	}
	const rest = names.length - shown;
	return `${names.slice(0, shown).join(", ")} and ${rest} ${rest === 1 ? "other" : "others"}`;
}

/** The message up-arrow in an empty composer edits: the reader's latest one still standing. */
export function lastEditable(messages: readonly MessageSummary[], me: string | undefined): number | undefined {
	if (me === undefined) return undefined;
	for (let i = messages.length - 1; i >= 0; i--) {
		const message = messages[i];
		if (message !== undefined && message.authorId === me && message.removed !== true) return message.seq;
	}
	return undefined;
}
