/**
 * @module
 * How the chat page reads a message's text: inline code between backticks, clickable links
 * (http and https only), and `@name` mentions. Pure: it returns segments, and the page turns
 * each into a text node or an element it builds itself, so no text is ever parsed as HTML.
 */

import { MentionIndex } from "../src/mentions.ts";

/** One piece of a message, in order; joined, the `text` fields give back the original text. */
export type Segment =
	| { kind: "text"; text: string }
	| { kind: "code"; text: string /** What is shown: the text between the backticks. */; code: string }
	| { kind: "link"; text: string /** The normalised URL; always http: or https:. */; href: string }
	| { kind: "mention"; text: string; userId: string; me: boolean };

/** A user a message mentions, with the name its `@` token would carry. */
export interface MentionTarget {
	id: string;
	name: string;
}

export interface RichTextOptions {
	/** The users the message's `mentions` field names (as the server parsed them). */
	mentioned?: readonly MentionTarget[];
	/** The reader's user id: a mention of them is flagged `me`. */
	me?: string;
}

/** A run between single backticks on one line: `` `like this` ``. */
const CODE = /`([^`\n]+)`/g;
/**
 * A candidate link: a scheme of http or https, then anything up to white space or a character
 * that cannot be in a URL as written in prose. `javascript:`, `data:` and the rest never match.
 */
const URL_CANDIDATE = /\bhttps?:\/\/[^\s<>"`]+/gi;
/** Punctuation that ends a sentence, not a URL. */
const TRAILING = /[.,;:!?'"*]+$/;

/**
 * Splits a message into segments. Links are checked with the URL parser, and only http: and
 * https: with a host survive; trailing punctuation and an unbalanced closing bracket stay text.
 */
export function parseRichText(text: string, options: RichTextOptions = {}): Segment[] {
	const segments: Segment[] = [];
	let at = 0;
	for (const match of text.matchAll(CODE)) {
		if (match.index > at) segments.push(...parseProse(text.slice(at, match.index), options));
		segments.push({ kind: "code", text: match[0], code: match[1] ?? "" });
		at = match.index + match[0].length;
	}
	if (at < text.length) segments.push(...parseProse(text.slice(at), options));
	return merge(segments);
}

/** Links first, then mentions in what is left. */
function parseProse(text: string, options: RichTextOptions): Segment[] {
	const segments: Segment[] = [];
	let at = 0;
	for (const match of text.matchAll(URL_CANDIDATE)) {
		const raw = trimUrl(match[0]);
		const href = safeHref(raw);
		if (href === undefined) continue;
		if (match.index > at) segments.push(...parseMentions(text.slice(at, match.index), options));
		segments.push({ kind: "link", text: raw, href });
		at = match.index + raw.length;
	}
	if (at < text.length) segments.push(...parseMentions(text.slice(at), options));
	return segments;
}

/**
 * Marks `@handle` for each mentioned user, by the server's own matcher (src/mentions.ts), so
 * the page and the server agree on every boundary. Only users the server put in `mentions`
 * are matched, so the page never claims a mention the server did not make.
 */
function parseMentions(text: string, options: RichTextOptions): Segment[] {
	const mentioned = options.mentioned ?? [];
	if (mentioned.length === 0) return [{ kind: "text", text }];
	const segments: Segment[] = [];
	let at = 0;
	for (const { start, end, userId } of new MentionIndex(mentioned).spans(text)) {
		if (start > at) segments.push({ kind: "text", text: text.slice(at, start) });
		segments.push({ kind: "mention", text: text.slice(start, end), userId, me: userId === options.me });
		at = end;
	}
	if (at < text.length) segments.push({ kind: "text", text: text.slice(at) });
	return segments;
}

/** Drops what prose puts after a URL: a full stop, a comma, a closing bracket it did not open. */
export function trimUrl(raw: string): string {
	let url = raw;
	for (;;) {
		const before = url;
		url = url.replace(TRAILING, "");
		for (const [open, close] of [
			["(", ")"],
			["[", "]"],
		] as const) {
			if (url.endsWith(close) && count(url, close) > count(url, open)) url = url.slice(0, -1);
		}
		if (url === before) return url;
	}
}

const count = (text: string, char: string): number => text.split(char).length - 1;

/** The URL to put in `href`, or undefined unless it is a well-formed http(s) URL with a host. */
export function safeHref(raw: string): string | undefined {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return undefined;
	}
	if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
	if (url.hostname === "") return undefined;
	return url.href;
}

/** Adjacent text segments as one, so a mention that did not resolve leaves no seam. */
function merge(segments: Segment[]): Segment[] {
	const out: Segment[] = [];
	for (const segment of segments) {
		const last = out.at(-1);
		if (segment.kind === "text" && last?.kind === "text") last.text += segment.text;
		else if (segment.kind !== "text" || segment.text !== "") out.push({ ...segment });
	}
	return out;
}

/**
 * The name a user id's `@` token would carry when the page has not seen the user's name: a
 * guest's id is `guest:<name>`; for any other id there is none.
 */
export function nameFromUserId(userId: string): string | undefined {
	return userId.startsWith("guest:") ? userId.slice("guest:".length) : undefined;
}
