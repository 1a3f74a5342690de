/**
 * @module
 * The list pane (left): the tabs, the filters, and one table that shows whichever list is open
 * (sagas, tasks, alerts, audit log, moderations; each defined in its own module).
 */
import { messageOf, query } from "../api.ts";
import { byId, type Child, clear, h } from "../../dom.ts";
import { app, writeHash } from "../state.ts";
import type { View } from "../url-state.ts";
import { alertsList } from "./alerts.ts";
import { auditList } from "./audit.ts";
import { hideBanner } from "./banner.ts";
import { moderationsList } from "./moderations.ts";
import { updateAlertTestButton } from "./alert-test.ts";
import { updateNewButton } from "./new-moderation.ts";
import { updateRetryAllButton } from "./retry-all.ts";
import { sagasList } from "./sagas.ts";
import { handleError, signOutIfRefused } from "./signin.ts";
import { tasksList } from "./tasks.ts";

/** Server-filtered lists come in pages of this many; the logs are the latest LOG_LIMIT, filtered here. */
const PAGE_SIZE = 50;
export const LOG_LIMIT = 100;

/** The filters as the list asks for them (empty = any), and the page to fetch. */
export interface ListQuery {
	state: string;
	room: string;
	kind: string;
	cursor: string | null;
}

interface ListRow {
	cells: Child[];
	data: Record<string, string>;
	title: string | null;
	selected: boolean;
	open(): void;
}

/** One list as the pane needs it, whatever its records are. */
export interface ListView {
	/** Its name in banners ("Audit log"), and what the count calls its rows ("entries"). */
	name: string;
	noun: string;
	filterLabel: string;
	/** The values of the state filter. */
	states: readonly string[];
	/** True: the server filters and pages. False: the page filters the latest records. */
	serverFilters: boolean;
	roomFilter: boolean;
	kindFilter: boolean;
	columns: readonly string[];
	load(q: ListQuery): Promise<{ rows: ListRow[]; fetched: number; cursor: string | null }>;
}

/** A list of records of type T: how to fetch, filter, draw and open them. */
export interface ListSpec<T> extends Omit<ListView, "load"> {
	fetch(q: ListQuery): Promise<{ items: T[]; cursor: string | null }>;
	/** For lists the server does not filter. */
	matches?(item: T, q: ListQuery): boolean;
	cells(item: T): Child[];
	/** data-* attributes of the row (the tests and links find rows by them). */
	data(item: T): Record<string, string>;
	/** The row's tooltip. */
	rowTitle?(item: T): string;
	selected?(item: T): boolean;
	open(item: T): void;
}

export function listView<T>(spec: ListSpec<T>): ListView {
	const { fetch, matches, cells, data, rowTitle, selected, open, ...view } = spec;
	return {
		...view,
		async load(q) {
			const { items, cursor } = await fetch(q);
			const shown = matches === undefined ? items : items.filter((item) => matches(item, q));
			const rows = shown.map((item) => ({
				cells: cells(item),
				data: data(item),
				title: rowTitle?.(item) ?? null,
				selected: selected?.(item) ?? false,
				open: () => open(item),
			}));
			return { rows, fetched: items.length, cursor };
		},
	};
}

/** The query string of a server-filtered list. */
export function pageQuery(q: ListQuery): string {
	return query({ state: q.state, room: q.room, kind: q.kind, limit: PAGE_SIZE, cursor: q.cursor });
}

/** The query string of a log (the latest records, filtered in the page). */
export function logQuery(): string {
	return query({ limit: LOG_LIMIT });
}

function listOf(view: View): ListView {
	switch (view) {
		case "sagas":
			return sagasList;
		case "tasks":
			return tasksList;
		case "alerts":
			return alertsList;
		case "audit":
			return auditList;
		case "moderations":
			return moderationsList;
	}
}

/** Draws the tabs, the filters and the table head of the open list. */
export function renderTabs(): void {
	for (const tab of document.querySelectorAll(".tabs [data-view]")) {
		const active = tab.getAttribute("data-view") === app.ui.view;
		tab.setAttribute("aria-selected", String(active));
		tab.classList.toggle("active", active);
	}
	const list = listOf(app.ui.view);
	const select = byId("filter-state", HTMLSelectElement);
	clear(select);
	select.append(h("option", { value: "" }, "any"), ...list.states.map((state) => h("option", { value: state }, state)));
	// A state from a link that the list does not know still shows (the server answers for it).
	if (app.ui.state !== "" && !list.states.includes(app.ui.state)) select.appendChild(h("option", { value: app.ui.state }, app.ui.state));
	select.value = app.ui.state;
	byId("filter-state-label").textContent = list.filterLabel;
	byId("filter-room", HTMLInputElement).value = app.ui.room;
	byId("filter-kind-label").hidden = !list.kindFilter;
	byId("filter-room-label").hidden = !list.roomFilter;
	byId("filter-kind", HTMLSelectElement).value = list.kindFilter ? app.ui.kind : "";
	updateNewButton();
	updateRetryAllButton();
	updateAlertTestButton();
	const head = byId("list-head");
	clear(head);
	head.appendChild(
		h(
			"tr",
			null,
			list.columns.map((c) => h("th", { scope: "col" }, c)),
		),
	);
}

export function setView(view: View, filters: { state?: string; room?: string; kind?: string } = {}): void {
	// The previous list's error is about a list no longer shown: it goes with it.
	if (view !== app.ui.view) hideBanner(listOf(app.ui.view).name);
	Object.assign(app.ui, { view, state: filters.state ?? "", room: filters.room ?? "", kind: filters.kind ?? "" });
	writeHash();
	renderTabs();
	void loadList();
}

function rowElement(row: ListRow, body: HTMLElement): HTMLTableRowElement {
	const tr = h(
		"tr",
		{ tabindex: 0, class: row.selected ? "clickable selected" : "clickable", dataset: row.data, title: row.title },
		row.cells.map((cell) => h("td", null, cell)),
	);
	const open = (): void => {
		for (const selected of body.querySelectorAll("tr.selected")) selected.classList.remove("selected");
		tr.classList.add("selected");
		row.open();
	};
	tr.addEventListener("click", open);
	tr.addEventListener("keydown", (event) => {
		if (event.key === "Enter" || event.key === " ") {
			event.preventDefault();
			open();
		}
	});
	return tr;
}

/** Loads the open list's first page, or (`more`) the next one below the rows shown. */
export async function loadList(more = false): Promise<void> {
	const view = app.ui.view;
	const list = listOf(view);
	const generation = ++app.list.generation;
	const body = byId("list-body");
	const moreButton = byId("list-more", HTMLButtonElement);
	const errorBox = byId("list-error");
	const table = byId("list");
	if (!more) {
		app.list.cursor = null;
		app.list.rows = 0;
	}
	moreButton.disabled = true;
	table.setAttribute("aria-busy", "true");
	const q: ListQuery = {
		state: app.ui.state,
		room: list.roomFilter ? app.ui.room : "",
		kind: list.kindFilter ? app.ui.kind : "",
		cursor: more ? app.list.cursor : null,
	};
	try {
		const page = await list.load(q);
		if (generation !== app.list.generation) return;
		errorBox.hidden = true;
		if (!more) clear(body);
		for (const row of page.rows) body.appendChild(rowElement(row, body));
		app.list.rows += page.rows.length;
		if (app.list.rows === 0)
			body.appendChild(h("tr", { class: "empty-row" }, h("td", { colspan: list.columns.length }, "Nothing matches.")));
		app.list.cursor = page.cursor === "" ? null : page.cursor;
		moreButton.hidden = app.list.cursor === null;
		const filtered = !list.serverFilters && page.rows.length !== page.fetched ? ` (of ${page.fetched} fetched)` : "";
		byId("list-count").textContent = `${app.list.rows} ${list.noun}${filtered}${app.list.cursor !== null ? " · more available" : ""}`;
		hideBanner(list.name);
	} catch (error) {
		if (generation !== app.list.generation) return;
		if (signOutIfRefused(error)) return;
		errorBox.textContent = `Could not load ${view}: ${messageOf(error)}`;
		errorBox.hidden = false;
		handleError(error, list.name);
	} finally {
		if (generation === app.list.generation) {
			moreButton.disabled = false;
			table.removeAttribute("aria-busy");
		}
	}
}
