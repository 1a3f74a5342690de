/**
 * @module
 * Operator compensations (bulk retracts): their list, and the detail of one with its progress,
 * its moderate tasks (one per room), its audit entries and its trace.
 */
import type { CompensationProgress } from "../../../src/ops/compensation.ts";
import { api } from "../api.ts";
import { h } from "../../dom.ts";
import { fmtAgo, str } from "../format.ts";
import { CMP_POLL_MS } from "../poll.ts";
import { selectorParts } from "../selector.ts";
import { app } from "../state.ts";
import { COMPENSATION_STATES } from "../vocab.ts";
import type { AuditEntry, CompensationDetail, CompensationPage, CompensationSummary } from "../wire.ts";
import { AUDIT_COLUMNS, auditCells, auditData } from "./audit.ts";
import { closeDetail, detailBody, openCompensation, reloadDetail } from "./detail.ts";
import { type ListView, listView, pageQuery } from "./list.ts";
import { badge, dateFields, detailHead, field, idCell, mono, timeCell, traceSection } from "./parts.ts";
import { stepsTable } from "./steps.ts";

export const compensationsList: ListView = listView<CompensationSummary>({
	name: "Compensations",
	noun: "compensations",
	filterLabel: "State",
	states: COMPENSATION_STATES,
	serverFilters: true,
	roomFilter: false,
	kindFilter: false,
	columns: ["Created", "State", "Actor", "Reason", "Rooms", "Compensation", "Updated"],
	async fetch(q) {
		const page = await api<CompensationPage>(`/v1/admin/compensations${pageQuery(q)}`);
		return { items: page.compensations, cursor: page.cursor };
	},
	cells: (cmp) => [
		timeCell(cmp.createdAt),
		badge(cmp.state),
		h("strong", { class: "actor" }, str(cmp.actor)),
		h("span", { class: "reason", title: cmp.reason ?? null }, str(cmp.reason)),
		h("span", { class: "rooms mono" }, cmp.rooms.length > 0 ? cmp.rooms.join(", ") : "—"),
		idCell(cmp.id),
		h("span", { class: "muted" }, fmtAgo(cmp.updatedAt)),
	],
	rowTitle: (cmp) => cmp.id,
	data: (cmp) => ({ cmpId: cmp.id, state: str(cmp.state), actor: str(cmp.actor) }),
	selected: (cmp) => cmp.id === app.ui.cmp,
	open: (cmp) => openCompensation(cmp.id, ""),
});

/** One bar: `value` of `total`, with the counts as text and as data attributes. */
function progressRow(key: string, label: string, value: number, total: number, note: string | null): HTMLDivElement {
	return h(
		"div",
		{ class: `progress-row${total > 0 && value >= total ? " complete" : ""}`, id: `cmp-progress-${key}`, dataset: { done: value, total } },
		h("span", { class: "progress-label" }, label),
		h("progress", { max: Math.max(total, 1), value: total > 0 ? Math.min(value, total) : 0, "aria-label": `${label}: ${value} of ${total}` }),
		h("span", { class: "progress-count mono" }, `${value} / ${total}`),
		note === null ? null : h("span", { class: "muted tiny progress-note" }, note),
	);
}

function progressBlock({ matched, done, failed }: CompensationProgress): HTMLDivElement {
	return h(
		"div",
		{ class: "progress-block", id: "cmp-progress" },
		progressRow("messages", "Messages retracted", done.messages + done.alreadyGone, matched.messages, done.alreadyGone > 0 ? `${done.alreadyGone} already gone` : null),
		progressRow("rooms", "Rooms finished", done.rooms, matched.rooms, null),
		// Copies are retracted by their origin rooms' sagas, several to a saga: counts, not a ratio.
		h(
			"div",
			{ class: "progress-row copies-row", id: "cmp-progress-copies", dataset: { copies: matched.copies, sagas: done.sagasCompensated } },
			h("span", { class: "progress-label" }, "Cross-posted copies"),
			h("span", { class: "progress-text" }, `${matched.copies} matched · retracted by their origin rooms' sagas: ${done.sagasCompensated} saga(s) compensated so far`),
		),
		failed.rooms > 0
			? h("p", { class: "inline-error", id: "cmp-failed" }, `${failed.rooms} room task(s) failed: read the last error below, fix the cause and retry the task.`)
			: null,
	);
}

/** The compensation's audit entries; undefined while only the creation's answer is known. */
function auditTable(entries: readonly AuditEntry[] | undefined): HTMLElement {
	if (entries === undefined) return h("p", { class: "muted", id: "cmp-audit" }, "loading…");
	const tbody = h(
		"tbody",
		null,
		entries.map((entry) => h("tr", { dataset: auditData(entry) }, auditCells(entry).map((cell) => h("td", null, cell)))),
	);
	if (entries.length === 0) tbody.appendChild(h("tr", { class: "empty-row" }, h("td", { colspan: AUDIT_COLUMNS.length }, "No audit entries.")));
	return h(
		"div",
		{ class: "table-wrap" },
		h("table", { class: "grid", id: "cmp-audit" }, h("thead", null, h("tr", null, AUDIT_COLUMNS.map((c) => h("th", { scope: "col" }, c)))), tbody),
	);
}

export function renderCompensation(view: CompensationDetail): void {
	const finished = view.state === "done";
	detailBody().append(
		detailHead({
			title: "Compensation",
			id: { text: view.id, elementId: "cmp-id" },
			state: { value: view.state, elementId: "cmp-state" },
			note: h(
				"span",
				{ id: "cmp-live", class: `muted tiny cmp-live${finished ? "" : " polling"}`, dataset: { polling: String(!finished) } },
				finished ? "finished" : `following live (every ${CMP_POLL_MS / 1000} s)`,
			),
			refresh: reloadDetail,
			close: closeDetail,
		}),
		h(
			"dl",
			{ class: "fields" },
			field("Actor", h("strong", { class: "actor", id: "cmp-actor" }, str(view.actor))),
			field("Reason", h("span", { id: "cmp-reason-text", class: "cmp-reason-text" }, str(view.reason))),
			selectorParts(view.selector).map(([label, text]) => field(`Selector: ${label}`, h("span", { class: "mono", dataset: { selector: label } }, text))),
			field("Trace id", mono(view.traceId)),
			dateFields(view),
		),
		h("h3", null, "Progress"),
		progressBlock(view.progress),
		h("h3", null, "Tasks ", h("span", { class: "muted h3-note" }, "one moderate task per room")),
		stepsTable(view.tasks),
		h("h3", null, "Audit"),
		auditTable(view.audit),
		...traceSection(view.traceId),
	);
}
