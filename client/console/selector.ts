/**
 * @module
 * The new-moderation form's selector: built from the raw inputs, and described in words.
 * Pure. The server's parser (src/ops/moderation.ts) judges the selector; this only refuses
 * what cannot even be sent (an unreadable date), so the server's message is the one shown.
 */
import type { Selector } from "../../src/ops/moderation.ts";
import { fmtFull, isNum, pad, str } from "./format.ts";

/** The form's fields as typed. */
export interface SelectorInput {
	author: string;
	room: string;
	/** `datetime-local` values, local time; empty = unbounded on that side. */
	from: string;
	to: string;
	/** Comma, space or newline separated. */
	msgIds: string;
}

/** A selector with `key`, its canonical JSON, to tell whether a preview still matches the form. */
export type BuiltSelector = { ok: true; selector: Selector; key: string } | { ok: false; error: string };

/** `YYYY-MM-DDTHH:MM:SS` in local time, as a datetime-local input takes it. */
export function toLocalInput(ms: number): string {
	const d = new Date(ms);
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * A datetime-local value as Unix ms (local time): undefined when empty, null when unreadable.
 * The end of a range includes its whole second, so "to 10:15:30" covers a message posted at
 * 10:15:30.600.
 */
export function fromLocalInput(value: string, end: boolean): number | undefined | null {
	if (value === "") return undefined;
	const ms = new Date(value).getTime();
	if (!Number.isFinite(ms)) return null;
	return end && !/\.\d+$/.test(value) ? ms + 999 : ms;
}

export function buildSelector(input: SelectorInput): BuiltSelector {
	const from = fromLocalInput(input.from, false);
	const to = fromLocalInput(input.to, true);
	if (from === null || to === null) return { ok: false, error: "The time range is not a valid date and time." };
	const selector: Selector = {};
	const author = input.author.trim();
	const room = input.room.trim();
	const ids = [...new Set(input.msgIds.split(/[\s,]+/).filter((id) => id !== ""))];
	if (author !== "") selector.author = author;
	if (room !== "") selector.room = room;
	if (from !== undefined) selector.from = from;
	if (to !== undefined) selector.to = to;
	if (ids.length > 0) selector.msgIds = ids;
	return { ok: true, selector, key: JSON.stringify(selector) };
}

/** A selector as [label, text] pairs, in a fixed order; absent parts are left out. */
export function selectorParts(selector: Selector): Array<[label: string, text: string]> {
	const parts: Array<[string, string]> = [];
	if (selector.author !== undefined) parts.push(["author", str(selector.author)]);
	if (selector.room !== undefined) parts.push(["room", str(selector.room)]);
	if (selector.from !== undefined || selector.to !== undefined) {
		parts.push([
			"time",
			`${isNum(selector.from) ? fmtFull(selector.from) : "any time"} → ${isNum(selector.to) ? fmtFull(selector.to) : "now and later"}`,
		]);
	}
	if (selector.msgIds !== undefined) parts.push(["message ids", selector.msgIds.map(str).join(", ")]);
	return parts;
}

export function selectorText(selector: Selector): string {
	const parts = selectorParts(selector);
	return parts.length === 0 ? "—" : parts.map(([label, text]) => `${label}: ${text}`).join(" · ");
}
