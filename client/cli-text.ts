/**
 * @module
 * The terminal client's words: how it reads a typed line (message or command) and how it shows
 * room events. Pure functions (the clock and the lookups are passed in), so each rule has a unit
 * test; `cli.ts` only wires them to the library and the terminal. Every value from the network
 * goes through `safe`, so nothing anyone in the room sends can act on the terminal.
 */
import type { MessageEditedEvent, MessageEvent, ReactionCount, ReactionEvent, RetractEvent, SearchPage, UserRef } from "../src/protocol.ts";
import { isGuestId } from "../src/protocol.ts";
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
