/**
 * @module
 * Operator moderations (bulk retracts): their list, and the detail of one with its progress,
 * its moderate tasks (one per room), its audit entries and its trace.
 */
import type { ModerationProgress } from "../../../src/ops/moderation.ts";
import { api } from "../api.ts";
import { h } from "../../dom.ts";
import { fmtAgo, str } from "../format.ts";
import { MOD_POLL_MS } from "../poll.ts";
import { selectorParts } from "../selector.ts";
import { app } from "../state.ts";
import { MODERATION_STATES } from "../vocab.ts";
import type { AuditEntry, ModerationDetail, ModerationPage, ModerationSummary } from "../wire.ts";
import { AUDIT_COLUMNS, auditCells, auditData } from "./audit.ts";
import { closeDetail, detailBody, openModeration, reloadDetail } from "./detail.ts";
import { type ListView, listView, pageQuery } from "./list.ts";
import { badge, dateFields, detailHead, field, idCell, mono, timeCell, traceSection } from "./parts.ts";
import { stepsTable } from "./steps.ts";

export const moderationsList: ListView = listView<ModerationSummary>({
	name: "Moderations",
	noun: "moderations",
	filterLabel: "State",
	states: MODERATION_STATES,
	serverFilters: true,
	roomFilter: false,
	kindFilter: false,
	columns: ["Created", "State", "Actor", "Reason", "Rooms", "Moderation", "Updated"],
	async fetch(q) {
		const page = await api<ModerationPage>(`/v1/admin/moderations${pageQuery(q)}`);
		return { items: page.moderations, cursor: page.cursor };
	},
	cells: (mod) => [
		timeCell(mod.createdAt),
		badge(mod.state),
		h("strong", { class: "actor" }, str(mod.actor)),
		h("span", { class: "reason", title: mod.reason ?? null }, str(mod.reason)),
		h("span", { class: "rooms mono" }, mod.rooms.length > 0 ? mod.rooms.join(", ") : "—"),
		idCell(mod.id),
		h("span", { class: "muted" }, fmtAgo(mod.updatedAt)),
	],
	rowTitle: (mod) => mod.id,
	data: (mod) => ({ modId: mod.id, state: str(mod.state), actor: str(mod.actor) }),
	selected: (mod) => mod.id === app.ui.mod,
	open: (mod) => openModeration(mod.id, ""),
});

/** One bar: `value` of `total`, with the counts as text and as data attributes. */
function progressRow(key: string, label: string, value: number, total: number, note: string | null): HTMLDivElement {
	return h(
		"div",
		{
			class: `progress-row${total > 0 && value >= total ? " complete" : ""}`,
			id: `mod-progress-${key}`,
			dataset: { done: value, total },
		},
		h("span", { class: "progress-label" }, label),
		h("progress", {
			max: Math.max(total, 1),
			value: total > 0 ? Math.min(value, total) : 0,
			"aria-label": `${label}: ${value} of ${total}`,
		}),
		h("span", { class: "progress-count mono" }, `${value} / ${total}`),
		note === null ? null : h("span", { class: "muted tiny progress-note" }, note),
	);
}

function progressBlock({ matched, done, failed }: ModerationProgress): HTMLDivElement {
	return h(
		"div",
		{ class: "progress-block", id: "mod-progress" },
		progressRow(
			"messages",
			"Messages retracted",
			done.messages + done.alreadyGone,
			matched.messages,
			done.alreadyGone > 0 ? `${done.alreadyGone} already gone` : null,
		),
		progressRow("rooms", "Rooms finished", done.rooms, matched.rooms, null),
		// Copies are retracted by their origin rooms' sagas, several to a saga: counts, not a ratio.
		h(
			"div",
			{
				class: "progress-row copies-row",
				id: "mod-progress-copies",
				dataset: { copies: matched.copies, sagas: done.sagasCompensated },
			},
			h("span", { class: "progress-label" }, "Cross-posted copies"),
			h(
				"span",
				{ class: "progress-text" },
				`${matched.copies} matched · retracted by their origin rooms' sagas: ${done.sagasCompensated} saga(s) compensated so far`,
			),
		),
		failed.rooms > 0
			? h(
					"p",
					{ class: "inline-error", id: "mod-failed" },
					`${failed.rooms} room task(s) failed: read the last error below, fix the cause and retry the task.`,
				)
			: null,
	);
}

/** The moderation's audit entries; undefined while only the creation's answer is known. */
function auditTable(entries: readonly AuditEntry[] | undefined): HTMLElement {
	if (entries === undefined) return h("p", { class: "muted", id: "mod-audit" }, "loading…");
	const tbody = h(
		"tbody",
		null,
		entries.map((entry) =>
			h(
				"tr",
				{ dataset: auditData(entry) },
				auditCells(entry).map((cell) => h("td", null, cell)),
			),
		),
	);
	if (entries.length === 0)
		tbody.appendChild(h("tr", { class: "empty-row" }, h("td", { colspan: AUDIT_COLUMNS.length }, "No audit entries.")));
	return h(
		"div",
		{ class: "table-wrap" },
		h(
			"table",
			{ class: "grid", id: "mod-audit" },
			h(
				"thead",
				null,
				h(
					"tr",
					null,
					AUDIT_COLUMNS.map((c) => h("th", { scope: "col" }, c)),
				),
			),
			tbody,
		),
	);
}

export function renderModeration(view: ModerationDetail): void {
	const finished = view.state === "done";
	detailBody().append(
		detailHead({
			title: "Moderation",
			id: { text: view.id, elementId: "mod-id" },
			state: { value: view.state, elementId: "mod-state" },
			note: h(
				"span",
				{ id: "mod-live", class: `muted tiny mod-live${finished ? "" : " polling"}`, dataset: { polling: String(!finished) } },
				finished ? "finished" : `following live (every ${MOD_POLL_MS / 1000} s)`,
			),
			refresh: reloadDetail,
			close: closeDetail,
		}),
		h(
			"dl",
			{ class: "fields" },
			field("Actor", h("strong", { class: "actor", id: "mod-actor" }, str(view.actor))),
			field("Reason", h("span", { id: "mod-reason-text", class: "mod-reason-text" }, str(view.reason))),
			selectorParts(view.selector).map(([label, text]) =>
				field(`Selector: ${label}`, h("span", { class: "mono", dataset: { selector: label } }, text)),
			),
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
