/**
 * @module
 * The console's whole mutable state, in one object: what the operator looks at (mirrored in
 * the address), the session, the timers, and what each panel last drew. Every module reads and
 * writes it here, so nothing else holds state between events.
 */
import type { ManualAction } from "../../src/saga/types.ts";
import { emptyUi, formatHash, parseHash, type UiState } from "./url-state.ts";
import type { ModerationPreview, TaskView } from "./wire.ts";

type Timer = ReturnType<typeof setTimeout>;

/** A bare trace (from an alert or audit entry that names no saga), with the fields to show. */
export interface TraceSource {
	traceId: string;
	fields: Array<[label: string, value: string]>;
}

/** What the detail pane shows. */
export type Detail =
	| { kind: "saga"; sagaId: string }
	| { kind: "moderation"; modId: string /** Its state as last fetched: polling stops at `done`. */; state: string }
	| { kind: "trace"; source: TraceSource }
	| { kind: "room"; room: string /** A message the search found there (shown on the page). */; msgId: string };

export interface AppState {
	/** The admin token (also in sessionStorage), or "" when signed out or signed in through Access. */
	token: string;
	/** How the operator is signed in: a pasted token, Cloudflare Access (no token: the header), or not yet. */
	session: "token" | "access" | null;
	/** `?readonly=1` forces read-only mode whatever the toggle says. */
	forcedReadOnly: boolean;
	ui: UiState;
	banner: { source: string | null; timer: Timer | null };
	poll: { on: boolean; timer: Timer | null; modTimer: Timer | null };
	/** The list pane: a generation (to drop stale answers), the next page's cursor, rows shown. */
	list: { generation: number; cursor: string | null; rows: number };
	detail: {
		open: Detail | null;
		/** Bumped whenever the detail changes, so an answer for an older one is dropped. */
		generation: number;
		/** The highlighted step. */
		taskId: string;
		/** The JSON the detail and its trace were last drawn from, to skip needless redraws. */
		drawn: string;
		traceDrawn: string;
	};
	/** The new-moderation form: the last preview and the selector key it was made for. */
	preview: { result: ModerationPreview | null; key: string | null; busy: boolean };
	/** The open action dialog's task and action. */
	action: { task: TaskView | null; action: ManualAction; busy: boolean };
	/** The retry-all dialog: the room filter it was opened with and the previewed count. */
	retryAll: { room: string; count: number | null; busy: boolean };
	/** When the charts' history was last fetched (it changes once a minute). */
	charts: { fetchedAt: number };
}

export const app: AppState = {
	token: "",
	session: null,
	forcedReadOnly: false,
	ui: emptyUi(),
	banner: { source: null, timer: null },
	poll: { on: false, timer: null, modTimer: null },
	list: { generation: 0, cursor: null, rows: 0 },
	detail: { open: null, generation: 0, taskId: "", drawn: "", traceDrawn: "" },
	preview: { result: null, key: null, busy: false },
	action: { task: null, action: "retry", busy: false },
	retryAll: { room: "", count: null, busy: false },
	charts: { fetchedAt: 0 },
};

const READONLY_KEY = "parley.console.readonly";

export function isReadOnly(): boolean {
	return app.forcedReadOnly || sessionStorage.getItem(READONLY_KEY) === "1";
}

export function setReadOnly(on: boolean): void {
	sessionStorage.setItem(READONLY_KEY, on ? "1" : "0");
}

/** Reads the view from the address (once, when the page loads). */
export function readHash(): void {
	app.ui = parseHash(location.hash);
}

/** Mirrors the view into the address, without a history entry per click. */
export function writeHash(): void {
	history.replaceState(null, "", `${location.pathname}${location.search}#${formatHash(app.ui)}`);
}
