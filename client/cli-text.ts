/**
 * @module
 * The terminal client's words: how it reads a typed line (message or command) and how it shows
 * room events. Pure functions (the clock and the lookups are passed in), so each rule has a unit
 * test; `cli.ts` only wires them to the library and the terminal. Every value from the network
 * goes through `safe`, so nothing anyone in the room sends can act on the terminal.
 */
import type { Mention } from "../src/inbox-protocol.ts";
import type { MessageEditedEvent, MessageEvent, ReactionCount, ReactionEvent, RetractEvent, SearchPage, UserRef } from "../src/protocol.ts";
import { isGuestId } from "../src/protocol.ts";
import { badgeText, labelIn, type InboxView } from "./inbox-state.ts";
import { preview, safe } from "./terminal-text.ts";

/** Every command, as `/help` lists it (and docs/client.md repeats it). */
export const COMMANDS: ReadonlyArray<readonly [string, string]> = [
	["/edit [<n>|<msgId>] <text>", "change one of your messages; without a reference, your last one"],
	["/reply <n>|<msgId> <text>", "answer a message (shown with a quote of it)"],
	["/react <n>|<msgId> <emoji>", "add an emoji (or a :name:) to a message"],
	["/unreact <n>|<msgId> <emoji>", "take your emoji off a message"],
	["/delete <n>|<msgId>", "retract one of your messages"],
	["/search <words>", "find messages in the room, newest first"],
	["/history [n]", "show the n (default 20) events before the oldest one shown"],
	["/rooms", "list your rooms and DMs with their unread and mention counts"],
	["/dm <user>", "open (or start) the direct-message room with a user id, and switch to it"],
	["/mentions [more]", "show the messages that mention you, newest first; `more` loads older ones"],
	["/help", "list the commands"],
	["/quit", "wait for unsent messages to be acked, then exit (also on end of input)"],
];

/** `/help`'s text: one command a line, then how to send a line that starts with `/`. */
export function helpText(): string {
	const width = Math.max(...COMMANDS.map(([usage]) => usage.length));
	const lines = COMMANDS.map(([usage, what]) => `  ${usage.padEnd(width)}  ${what}`);
	return [
		"commands (<n> is the #number shown before a message):",
		...lines,
		"  //text  send a line starting with / (one / is removed)",
	].join("\n");
}

/** Which message a command is about: the `#<n>` shown on its line, or its msgId. */
export type MessageRef = { seq: number } | { msgId: string };

export type Command =
	| { kind: "empty" }
	| { kind: "send"; text: string }
	| { kind: "quit" }
	| { kind: "help" }
	| { kind: "history"; count: number }
	| { kind: "delete"; ref: MessageRef }
	| { kind: "edit"; ref: MessageRef | undefined; text: string }
	| { kind: "reply"; ref: MessageRef; text: string }
	| { kind: "react"; ref: MessageRef; emoji: string; remove: boolean }
	| { kind: "search"; q: string }
	| { kind: "rooms" }
	| { kind: "dm"; user: string }
	| { kind: "mentions"; more: boolean }
	| { kind: "usage"; message: string }
	| { kind: "unknown"; name: string };

export const DEFAULT_HISTORY = 20;

const SEQ_REF = /^#?([1-9][0-9]{0,14})$/;

/** `12` or `#12` as a seq; anything else as a msgId. */
function refOf(token: string): MessageRef {
	const seq = SEQ_REF.exec(token)?.[1];
	return seq === undefined ? { msgId: token } : { seq: Number(seq) };
}

/** The first word and the rest (the rest keeps its inner spacing). */
function split(rest: string): [string, string] {
	const match = /^(\S+)\s*([\s\S]*)$/.exec(rest);
	return match === null ? ["", ""] : [match[1] ?? "", match[2] ?? ""];
}

/**
 * Reads one typed line. `isMsgId` says whether a word is the msgId of a message shown, so that
 * `/edit <msgId> text` and `/edit some text` can both be told apart; a leading `12` or `#12`
 * is always a reference.
 */
export function parseLine(line: string, isMsgId: (word: string) => boolean = () => false): Command {
	const trimmed = line.trim();
	if (trimmed === "") return { kind: "empty" };
	if (trimmed.startsWith("//")) return { kind: "send", text: line.replace("//", "/") };
	if (!trimmed.startsWith("/")) return { kind: "send", text: line };
	const [name, rest] = split(trimmed);
	switch (name) {
		case "/quit":
		case "/exit":
			return { kind: "quit" };
		case "/help":
		case "/?":
			return { kind: "help" };
		case "/history": {
			const count = rest === "" ? DEFAULT_HISTORY : Number(rest);
			if (!Number.isInteger(count) || count < 1 || count > 500) return { kind: "usage", message: "usage: /history [n], n = 1..500" };
			return { kind: "history", count };
		}
		case "/delete": {
			const [target, extra] = split(rest);
			if (target === "" || extra !== "") return { kind: "usage", message: "usage: /delete <n>|<msgId>" };
			return { kind: "delete", ref: refOf(target) };
		}
		case "/edit": {
			const [first, after] = split(rest);
			if (first === "") return { kind: "usage", message: "usage: /edit [<n>|<msgId>] <text>" };
			const isRef = SEQ_REF.test(first) || isMsgId(first);
			if (isRef && after === "") return { kind: "usage", message: "usage: /edit [<n>|<msgId>] <text> (the new text is missing)" };
			return isRef ? { kind: "edit", ref: refOf(first), text: after } : { kind: "edit", ref: undefined, text: rest };
		}
		case "/reply": {
			const [target, text] = split(rest);
			if (target === "" || text === "") return { kind: "usage", message: "usage: /reply <n>|<msgId> <text>" };
			return { kind: "reply", ref: refOf(target), text };
		}
		case "/react":
		case "/unreact": {
			const [target, emoji] = split(rest);
			if (target === "" || emoji === "" || /\s/.test(emoji)) return { kind: "usage", message: `usage: ${name} <n>|<msgId> <emoji>` };
			return { kind: "react", ref: refOf(target), emoji, remove: name === "/unreact" };
		}
		case "/search":
			if (rest === "") return { kind: "usage", message: "usage: /search <words>" };
			return { kind: "search", q: rest };
		case "/rooms":
			if (rest !== "") return { kind: "usage", message: "usage: /rooms" };
			return { kind: "rooms" };
		case "/dm": {
			const [user, extra] = split(rest);
			if (user === "" || extra !== "") return { kind: "usage", message: "usage: /dm <user id>" };
			return { kind: "dm", user };
		}
		case "/mentions":
			if (rest !== "" && rest !== "more") return { kind: "usage", message: "usage: /mentions [more]" };
			return { kind: "mentions", more: rest === "more" };
		default:
			return { kind: "unknown", name };
	}
}

// ---------------------------------------------------------------------------------------
// Showing events
// ---------------------------------------------------------------------------------------

const pad = (n: number): string => String(n).padStart(2, "0");

/** When, in local time: `14:03` today, `2026-11-30 14:03` on another day. */
export function formatTime(ts: number, now: number = Date.now()): string {
	const at = new Date(ts);
	const today = new Date(now);
	const time = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
	const sameDay = at.getFullYear() === today.getFullYear() && at.getMonth() === today.getMonth() && at.getDate() === today.getDate();
	return sameDay ? time : `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${time}`;
}

/** A name as shown: guests are marked, since anyone can take a guest's name. */
export function shownName(user: UserRef): string {
	return isGuestId(user.id) ? `${user.name} (guest)` : user.name;
}

/** What the client knows about a message shown earlier, to name it in later lines. */
export interface ShownMessage {
	seq: number;
	author: UserRef;
}

function reactionsText(reactions: readonly ReactionCount[] | undefined): string {
	if (reactions === undefined || reactions.length === 0) return "";
	return ` {${reactions.map((r) => safe`${r.emoji}${r.count > 1 ? ` ${r.count}` : ""}${r.mine ? "*" : ""}`).join(", ")}}`;
}

/** `#<seq> <time> <name>: <text> [<msgId>]`, with the quote of a reply, `(edited)` and reaction counts. */
export function formatMessage(message: MessageEvent, now?: number): string {
	const head = safe`#${message.seq} ${formatTime(message.ts, now)} ${shownName(message.author)}`;
	if (message.retractedBy !== undefined) return `${head}${safe`: (removed) [${message.msgId}]`}`;
	const origin = message.from === undefined ? "" : safe` (from #${message.from.room})`;
	const quote = message.replyTo;
	const reply =
		quote === undefined
			? ""
			: quote.removed === true
				? " (reply to a removed message)"
				: safe` (reply to ${shownName(quote.author)}: "${preview(quote.excerpt, 40)}")`;
	const edited = message.editSeq === undefined ? "" : " (edited)";
	// One event per line: newlines show as ⏎, control characters as visible escapes.
	return `${head}${origin}${reply}${safe`: ${message.text}`}${edited}${reactionsText(message.reactions)}${safe` [${message.msgId}]`}`;
}

export function formatRetract(retract: RetractEvent, now?: number): string {
	return safe`#${retract.seq} ${formatTime(retract.ts, now)} (removed ${retract.msgId}: ${retract.reason})`;
}

/** `#<seq> <time> <name> edited #<n>: <text>`; by msgId when the message was not shown. */
export function formatEdit(edit: MessageEditedEvent, target: ShownMessage | undefined, now?: number): string {
	const head = safe`#${edit.seq} ${formatTime(edit.ts, now)}`;
	const what = target === undefined ? safe`edited [${edit.msgId}]` : safe`${shownName(target.author)} edited #${target.seq}`;
	return `${head} ${what}${safe`: ${edit.text}`}`;
}

/** `#<seq> <time> <name> reacted <emoji> to #<n>` (or `removed <emoji> from`). */
export function formatReaction(reaction: ReactionEvent, target: ShownMessage | undefined, now?: number): string {
	const on = target === undefined ? safe`[${reaction.msgId}]` : safe`#${target.seq}`;
	const verb = reaction.type === "reaction.added" ? "reacted" : "removed";
	const link = reaction.type === "reaction.added" ? "to" : "from";
	return `${safe`#${reaction.seq} ${formatTime(reaction.ts, now)} ${shownName(reaction.user)}`} ${verb} ${safe`${reaction.emoji}`} ${link} ${on}`;
}

/** The lines of a search page: a header, the results (newest first), a footer. */
export function formatSearch(page: SearchPage, now?: number): string[] {
	if (page.results.length === 0) return [safe`--- no messages match "${page.q}" ---`];
	return [
		safe`--- ${page.results.length} message(s) matching "${page.q}", newest first ---`,
		...page.results.map((message) => formatMessage(message, now)),
		page.before === undefined ? "--- end of search ---" : safe`--- more, older than #${page.before}, not shown ---`,
	];
}

// ---------------------------------------------------------------------------------------
// Showing the inbox (v1.4)
// ---------------------------------------------------------------------------------------

/** `3 unread, 1 mention`, or `no unread` for a room with nothing new. */
function countsText(unread: number, mentions: number): string {
	const parts: string[] = [];
	if (unread > 0) parts.push(`${badgeText(unread)} unread`);
	if (mentions > 0) parts.push(`${badgeText(mentions)} mention${mentions === 1 ? "" : "s"}`);
	return parts.length === 0 ? "no unread" : parts.join(", ");
}

/**
 * The lines of `/rooms`: a header with the totals, one line per room in the server's order
 * (`* ` marks the room this terminal is in; a DM is shown by the other user's name, then its
 * id, which `/dm` also takes), a footer.
 */
export function formatRooms(view: InboxView, current: string | undefined, now?: number): string[] {
	if (view.rooms.length === 0) return ["--- no rooms yet: post in one, or /dm someone ---"];
	const lines = view.rooms.map((room) => {
		const mark = room.room === current ? "* " : "  ";
		const name = room.kind === "dm" ? safe`${labelIn(view, room.room)} (${room.room})` : safe`#${room.room}`;
		const last =
			room.last === null
				? ""
				: safe` — ${formatTime(room.last.ts, now)} ${shownName(room.last.author)}: ${preview(room.last.excerpt, 50)}`;
		const stale = room.stale === true ? " (counts may be out of date)" : "";
		return `${mark}${name}: ${countsText(room.unread, room.mentions)}${stale}${last}`;
	});
	return [`--- ${view.rooms.length} room(s): ${countsText(view.unreadTotal, view.mentionTotal)} ---`, ...lines, "--- end of rooms ---"];
}

/** One mention: `<time> #room <name>: <excerpt> [msgId]` (a DM by the other user's name). */
export function formatMention(mention: Mention, view: InboxView, now?: number): string {
	const edited = mention.editedAt === undefined ? "" : " (edited)";
	return `${safe`${formatTime(mention.ts, now)} ${labelIn(view, mention.room)} ${shownName(mention.author)}: ${mention.excerpt}`}${edited}${safe` [${mention.msgId}]`}`;
}

/** The lines of `/mentions`: a header, the mentions (newest first), a footer saying whether older ones exist. */
export function formatMentions(view: InboxView, now?: number): string[] {
	if (view.mentions.length === 0) return ["--- no mentions ---"];
	return [
		`--- ${view.mentions.length} mention(s), newest first ---`,
		...view.mentions.map((mention) => formatMention(mention, view, now)),
		view.before === undefined ? "--- end of mentions ---" : "--- older ones: /mentions more ---",
	];
}
