/**
 * @module
 * The detail pane (right): which record it shows (a saga, an operator moderation or a bare
 * trace), opening and closing it, and fetching it again on every poll. Drawing is in
 * views/saga.ts, views/moderations.ts and views/trace.ts.
 */
import { isModerationId } from "../../../src/saga/ids.ts";
import { api, ApiError, messageOf } from "../api.ts";
import { byId, clear, h } from "../../dom.ts";
import { str } from "../format.ts";
import { scheduleModPoll, stopModPoll } from "../poll.ts";
import { app, type Detail, type TraceSource, writeHash } from "../state.ts";
import type { ModerationCreated, ModerationDetail, SagaDetail } from "../wire.ts";
import { hideBanner, showBanner } from "./banner.ts";
import { renderModeration } from "./moderations.ts";
import { hideNewForm } from "./new-moderation.ts";
import { detailHead } from "./parts.ts";
import { loadRoom, renderRoom } from "./room.ts";
import { renderSaga } from "./saga.ts";
import { signOutIfRefused } from "./signin.ts";
import { refreshTrace, renderTraceOnly } from "./trace.ts";

/** Switches the pane to `open`; answers still on their way for the previous one are dropped. */
function show(open: Detail, taskId: string): void {
	leaveModeration();
	app.detail.open = open;
	app.detail.generation++;
	app.detail.taskId = taskId;
	app.detail.drawn = "";
	app.detail.traceDrawn = "";
}

export function openSaga(sagaId: string, taskId: string): void {
	if (sagaId === "") {
		showBanner("This row has no saga id to open.", "error", "Detail");
		return;
	}
	show({ kind: "saga", sagaId }, taskId);
	Object.assign(app.ui, { saga: sagaId, task: taskId, trace: "" });
	writeHash();
	renderLoading(`Saga ${sagaId}`);
	void refreshDetail();
}

/** Opens a moderation; `initial` (the creation's answer) is drawn at once while the full view loads. */
export function openModeration(id: string, taskId: string, initial?: ModerationCreated): void {
	if (!isModerationId(id)) {
		showBanner(`"${str(id)}" is not a moderation id (mod@, or cmp@ before the rename, and 12 hex digits).`, "error", "Detail");
		return;
	}
	show({ kind: "moderation", modId: id, state: initial?.state ?? "" }, taskId);
	Object.assign(app.ui, { mod: id, saga: "", task: taskId, trace: "" });
	writeHash();
	for (const row of document.querySelectorAll("#list-body tr[data-mod-id]"))
		row.classList.toggle("selected", row.getAttribute("data-mod-id") === id);
	if (initial === undefined) renderLoading(`Moderation ${id}`);
	else draw(() => renderModeration(initial));
	void refreshDetail();
}

export function openTrace(source: TraceSource): void {
	if (source.traceId === "") {
		showBanner("This entry has no trace id to open.", "error", "Detail");
		return;
	}
	show({ kind: "trace", source }, "");
	Object.assign(app.ui, { saga: "", task: "", trace: source.traceId });
	writeHash();
	renderLoading(`Trace ${source.traceId}`);
	void refreshDetail();
}

/** Opens a room's page: its policy, editable, and its policy changes. */
export function openRoom(room: string, msgId = ""): void {
	show({ kind: "room", room, msgId }, "");
	Object.assign(app.ui, { saga: "", task: "", trace: "", roomPage: room, msg: msgId });
	writeHash();
	renderLoading(`Room ${room}`);
	void refreshDetail();
}

/** Opens what a task or audit entry belongs to: an operator moderation (`mod@…`) or a saga. */
export function openOwner(ownerId: string, taskId: string): void {
	if (isModerationId(ownerId)) openModeration(ownerId, taskId);
	else openSaga(ownerId, taskId);
}

/** Closes the new-moderation form and forgets the open moderation (before opening something else). */
function leaveModeration(): void {
	stopModPoll();
	hideNewForm();
	app.ui.mod = "";
	app.ui.newMod = false;
	app.ui.roomPage = "";
	app.ui.msg = "";
}

export function closeDetail(): void {
	leaveModeration();
	app.detail.open = null;
	app.detail.generation++;
	Object.assign(app.ui, { saga: "", task: "", trace: "" });
	writeHash();
	byId("detail-body").hidden = true;
	byId("detail-empty").hidden = false;
	for (const row of document.querySelectorAll("#list-body tr.selected")) row.classList.remove("selected");
}

/** The detail body, emptied and shown. */
export function detailBody(): HTMLElement {
	const body = byId("detail-body");
	clear(body);
	body.hidden = false;
	byId("detail-empty").hidden = true;
	return body;
}

/** Draws a detail; its trace box is new, so the trace is drawn again too. */
function draw(render: () => void): void {
	render();
	app.detail.traceDrawn = "";
}

function renderLoading(title: string): void {
	detailBody().appendChild(detailHead({ title, note: h("span", { class: "muted" }, "loading…") }));
}

function renderError(title: string, error: unknown): void {
	const body = detailBody();
	body.appendChild(detailHead({ title, close: closeDetail }));
	const text = error instanceof ApiError && error.status === 404 ? `Not found: ${error.message}` : `Could not load: ${messageOf(error)}`;
	body.appendChild(h("div", { class: "inline-error" }, text));
	app.detail.drawn = "";
}

/**
 * Fetches the open detail's record. Failures are shown in the pane (or sign the operator out);
 * undefined means there is nothing to draw, also when the operator moved on meanwhile.
 */
async function load<T extends object>(path: string, title: string, generation: number): Promise<T | undefined> {
	try {
		const data = await api<T>(path);
		return generation === app.detail.generation ? data : undefined;
	} catch (error) {
		if (generation !== app.detail.generation) return undefined;
		if (!signOutIfRefused(error)) renderError(title, error);
		return undefined;
	}
}

/** Draws `data` unless it is what the pane already shows. */
function drawIfChanged(data: object, render: () => void): void {
	const json = JSON.stringify(data);
	if (json === app.detail.drawn) return;
	app.detail.drawn = json;
	draw(render);
}

/** Fetches the open detail again and redraws what changed (on every poll, and after actions). */
export async function refreshDetail(): Promise<void> {
	const open = app.detail.open;
	const generation = app.detail.generation;
	if (open === null) return;
	if (open.kind === "saga") {
		const saga = await load<SagaDetail>(`/v1/admin/sagas/${encodeURIComponent(open.sagaId)}`, `Saga ${open.sagaId}`, generation);
		if (saga === undefined) return;
		drawIfChanged(saga, () => renderSaga(saga));
		hideBanner("Detail");
		if (saga.traceId !== "") await refreshTrace(saga.traceId, generation);
	} else if (open.kind === "moderation") {
		// A missing moderation stays missing; anything else is tried again on the regular poll.
		const view = await load<ModerationDetail>(
			`/v1/admin/moderations/${encodeURIComponent(open.modId)}`,
			`Moderation ${open.modId}`,
			generation,
		);
		if (view === undefined) return;
		open.state = view.state;
		drawIfChanged(view, () => renderModeration(view));
		hideBanner("Detail");
		scheduleModPoll();
		if (view.traceId !== "") await refreshTrace(view.traceId, generation);
	} else if (open.kind === "room") {
		// Drawn on opening and after a save only: the poll must not wipe a form being edited.
		if (app.detail.drawn !== "") return;
		try {
			const { policy, audit } = await loadRoom(open.room);
			if (generation !== app.detail.generation) return;
			app.detail.drawn = JSON.stringify(policy);
			renderRoom(detailBody(), open.room, policy, audit, open.msgId, closeDetail, reloadDetail);
			hideBanner("Detail");
		} catch (error) {
			if (generation !== app.detail.generation) return;
			if (!signOutIfRefused(error)) renderError(`Room ${open.room}`, error);
		}
	} else {
		if (app.detail.traceDrawn === "") draw(() => renderTraceOnly(open.source));
		await refreshTrace(open.source.traceId, generation);
	}
}

/** Fetches and redraws the open detail even if nothing changed (Refresh, after an action). */
export function reloadDetail(): void {
	app.detail.drawn = "";
	void refreshDetail();
}
