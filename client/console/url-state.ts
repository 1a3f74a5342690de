/**
 * @module
 * What the console shows, as it is kept in the address hash so a view can be linked
 * (`#view=tasks&state=failed&saga=…`). Pure: parsing and writing the hash string.
 */

export const VIEWS = ["sagas", "tasks", "alerts", "audit", "moderations"] as const;
export type View = (typeof VIEWS)[number];

export interface UiState {
	view: View;
	/** The list filters: a state (or webhook status, or audit action), a room, a task kind. */
	state: string;
	room: string;
	kind: string;
	/** The open detail: a saga, a moderation or a bare trace; `task` is the highlighted step. */
	saga: string;
	task: string;
	trace: string;
	mod: string;
	/** The open room page (its policy), and a message found there by the search. */
	roomPage: string;
	msg: string;
	/** Whether the new-moderation form is open. */
	newMod: boolean;
}

const TEXT_KEYS = ["state", "room", "kind", "saga", "task", "trace", "mod", "roomPage", "msg"] as const;

export function isView(value: string | null): value is View {
	return VIEWS.some((view) => view === value);
}

export function emptyUi(): UiState {
	return { view: "sagas", state: "", room: "", kind: "", saga: "", task: "", trace: "", mod: "", roomPage: "", msg: "", newMod: false };
}

/**
 * The state a hash describes; unknown views fall back to the sagas list. Links made before
 * the rename (`#view=compensations&cmp=…`) open the same moderation.
 */
export function parseHash(hash: string): UiState {
	const params = new URLSearchParams(hash.replace(/^#/, ""));
	const view = params.get("view") === "compensations" ? "moderations" : params.get("view");
	const ui = emptyUi();
	ui.view = isView(view) ? view : "sagas";
	for (const key of TEXT_KEYS) ui[key] = params.get(key) ?? "";
	if (ui.mod === "") ui.mod = params.get("cmp") ?? "";
	ui.newMod = params.get("new") === "1";
	return ui;
}

/** The hash (without `#`) for a state; empty fields are left out. */
export function formatHash(ui: UiState): string {
	const params = new URLSearchParams();
	params.set("view", ui.view);
	for (const key of TEXT_KEYS) if (ui[key] !== "") params.set(key, ui[key]);
	if (ui.newMod) params.set("new", "1");
	return params.toString();
}
