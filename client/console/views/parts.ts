/**
 * @module
 * Pieces every panel uses: state badges, times, ids, task labels, field lists, and the one
 * header all details (saga, moderation, trace) share.
 */
import { codePointLength } from "../../../src/protocol.ts";
import { byId, type Child, h } from "../../dom.ts";
import { fmtAgo, fmtTime, isNum, shortId, str } from "../format.ts";
import { parseTaskId } from "../task-ids.ts";
import { kindClass, REASON_MAX, stateClass } from "../vocab.ts";

export function badge(state: string | null | undefined): HTMLSpanElement {
	const text = typeof state === "string" && state !== "" ? state : "unknown";
	return h("span", { class: `badge st-${stateClass(text)}`, dataset: { state: text } }, text);
}

export function timeCell(ms: number | null | undefined): HTMLTimeElement {
	const iso = isNum(ms) ? new Date(ms).toISOString() : null;
	return h("time", { datetime: iso, title: iso }, fmtTime(ms));
}

/**
 * "12 s ago", kept current: the page's ticker (main.ts) rewrites every `data-rel-at` element, so
 * a view that is not redrawn (nothing changed) does not show a stale age.
 */
export function relTime(ms: number | null | undefined): HTMLSpanElement {
	return h("span", { class: "muted rel-time", dataset: isNum(ms) ? { relAt: String(ms) } : {} }, fmtAgo(ms));
}

/** Rewrites every relative time on the page for `now`. */
export function tickRelativeTimes(now: number = Date.now()): void {
	for (const el of document.querySelectorAll<HTMLElement>("[data-rel-at]")) {
		const at = Number(el.dataset.relAt);
		if (Number.isFinite(at)) el.textContent = fmtAgo(at, now);
	}
}

export function idCell(id: string | null | undefined): HTMLSpanElement {
	return h("span", { class: "mono", title: id ?? null }, shortId(id));
}

export function kindTag(kind: string): HTMLSpanElement {
	return h("span", { class: kindClass(kind) }, str(kind));
}

export function mono(text: unknown, extra = ""): HTMLSpanElement {
	return h("span", { class: extra === "" ? "mono" : `mono ${extra}` }, str(text));
}

/** A task id as "retract → room" (its kind and target), with the full id on hover. */
export function taskLabel(taskId: string): HTMLSpanElement {
	const parts = parseTaskId(taskId);
	if (parts === undefined) return idCell(taskId);
	return h("span", { class: "task-label", title: taskId }, kindTag(parts.kind), " → ", mono(parts.room));
}

/** One term of a `<dl class="fields">`. */
export function field(label: string, ...value: Child[]): Child[] {
	return [h("dt", null, label), h("dd", null, ...value)];
}

/** The Created and Updated terms, each with its age. */
export function dateFields(record: { createdAt: number; updatedAt: number }): Child[] {
	return [
		field("Created", timeCell(record.createdAt), " ", relTime(record.createdAt)),
		field("Updated", timeCell(record.updatedAt), " ", relTime(record.updatedAt)),
	];
}

export interface DetailHead {
	/** "Saga", "Moderation", "Trace", or a whole title (while loading, on failure). */
	title: string;
	/** The record's id after the title, in mono (with an element id for the tests and links). */
	id?: { text: string; elementId?: string };
	/** The record's state as a badge, in a span with this element id. */
	state?: { value: string; elementId: string };
	/** Anything after the state: "loading…", the live-follow note. */
	note?: Child;
	refresh?: () => void;
	close?: () => void;
}

/** The header of the detail pane: title, id, state, note, then Refresh and Close on the right. */
export function detailHead(head: DetailHead): HTMLDivElement {
	const buttons = head.refresh !== undefined || head.close !== undefined;
	return h(
		"div",
		{ class: "detail-head" },
		h(
			"h2",
			null,
			head.title,
			head.id === undefined ? null : [" ", h("span", { class: "mono", id: head.id.elementId ?? null }, str(head.id.text))],
		),
		head.state === undefined ? null : h("span", { id: head.state.elementId }, badge(head.state.value)),
		head.note,
		buttons ? h("span", { class: "spacer" }) : null,
		head.refresh === undefined ? null : h("button", { type: "button", class: "ghost small", onclick: head.refresh }, "Refresh"),
		head.close === undefined ? null : h("button", { type: "button", class: "ghost small", onclick: head.close }, "Close"),
	);
}

/** The Trace heading and the box a trace is drawn into (see views/trace.ts). */
export function traceSection(traceId: string | null): [HTMLHeadingElement, HTMLDivElement] {
	return [
		h("h3", null, "Trace", traceId === null ? null : [" ", h("span", { class: "muted h3-note" }, str(traceId))]),
		h("div", { id: "trace", class: "trace" }, h("span", { class: "muted" }, "loading…")),
	];
}

/** Keeps a reason's "n / 500" counter current as the operator types (code points, trimmed, as the server counts). */
export function wireReasonCount(inputId: string, countId: string): void {
	const input = byId(inputId, HTMLTextAreaElement);
	input.addEventListener("input", () => showReasonCount(inputId, countId));
}

export function showReasonCount(inputId: string, countId: string): void {
	const n = codePointLength(byId(inputId, HTMLTextAreaElement).value.trim());
	const count = byId(countId);
	count.textContent = `${n} / ${REASON_MAX}`;
	count.classList.toggle("over", n > REASON_MAX);
}
