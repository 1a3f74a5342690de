/**
 * @module
 * The new-moderation form: build a selector, preview it (a dry run that changes nothing),
 * then confirm it with a reason. "Retract…" is enabled only while the preview on screen was made
 * for exactly the current inputs.
 */
import { api, ApiError, messageOf } from "../api.ts";
import { append, byId, clear, h, fieldValue } from "../../dom.ts";
import { str } from "../format.ts";
import { buildSelector, type BuiltSelector, selectorText, toLocalInput } from "../selector.ts";
import { app, isReadOnly, writeHash } from "../state.ts";
import { REASON_MAX, reasonRefusal } from "../vocab.ts";
import type { ModerationCreated, ModerationPreview } from "../wire.ts";
import { showBanner } from "./banner.ts";
import { closeDetail, openModeration } from "./detail.ts";
import { loadList, setView } from "./list.ts";
import { mono, wireReasonCount } from "./parts.ts";
import { signOutIfRefused } from "./signin.ts";

const FIELDS = ["mod-author", "mod-room", "mod-from", "mod-to", "mod-msgids"] as const;

/** "New moderation…" shows on the Moderations list, outside read-only mode. */
export function updateNewButton(): void {
	byId("mod-new-open").hidden = isReadOnly() || app.ui.view !== "moderations";
}

export function openNewModeration(): void {
	if (isReadOnly()) return;
	closeDetail();
	app.ui.newMod = true;
	writeHash();
	byId("detail-empty").hidden = true;
	byId("detail-body").hidden = true;
	byId("mod-new").hidden = false;
	refreshPreviewState();
	byId("mod-author").focus();
}

export function hideNewForm(): void {
	byId("mod-new").hidden = true;
	closeModDialog();
}

export function closeNewModeration(): void {
	closeDetail();
}

function readSelector(): BuiltSelector {
	return buildSelector({
		author: fieldValue("mod-author"),
		room: fieldValue("mod-room"),
		from: fieldValue("mod-from"),
		to: fieldValue("mod-to"),
		msgIds: fieldValue("mod-msgids"),
	});
}

function formError(text: string): void {
	const box = byId("mod-form-error");
	box.textContent = text;
	box.hidden = text === "";
}

/** The preview on screen, when it was made for exactly the current inputs. */
function currentPreview(): ModerationPreview | null {
	const built = readSelector();
	const { result, key } = app.preview;
	return result !== null && built.ok && built.key === key ? result : null;
}

function refreshPreviewState(): void {
	const { result, busy } = app.preview;
	const current = currentPreview();
	const matches = current?.messages ?? 0;
	byId("mod-submit", HTMLButtonElement).disabled = busy || current === null || matches === 0 || isReadOnly();
	const box = byId("mod-preview-box");
	box.classList.toggle("stale", result !== null && current === null);
	box.dataset.current = String(current !== null);
	const note = byId("mod-preview-state");
	const [state, text]: [string, string] = busy
		? ["busy", "Previewing…"]
		: result === null
			? ["none", "Preview first: nothing changes until you confirm."]
			: current === null
				? ["stale", "The form changed since this preview: preview again."]
				: matches === 0
					? ["empty", "Nothing matches: nothing to retract."]
					: ["current", "The preview matches the form."];
	note.dataset.state = state;
	note.textContent = text;
}

function figure(id: string, n: number, label: string): HTMLSpanElement {
	return h(
		"span",
		{ class: "preview-figure" },
		h("span", { class: "big-number", id }, String(n)),
		h("span", { class: "muted" }, ` ${label}`),
	);
}

function table(id: string, columns: readonly string[], rows: HTMLTableRowElement[], empty: string | null): HTMLDivElement {
	const tbody = h("tbody", null, rows);
	if (rows.length === 0 && empty !== null)
		tbody.appendChild(h("tr", { class: "empty-row" }, h("td", { colspan: columns.length }, empty)));
	return h(
		"div",
		{ class: "table-wrap" },
		h(
			"table",
			{ class: "grid", id },
			h(
				"thead",
				null,
				h(
					"tr",
					null,
					columns.map((c) => h("th", { scope: "col" }, c)),
				),
			),
			tbody,
		),
	);
}

function renderPreview(): void {
	const box = byId("mod-preview-box");
	clear(box);
	const p = app.preview.result;
	box.hidden = p === null;
	if (p === null) return;
	box.append(
		h("h3", null, "Preview ", h("span", { class: "muted h3-note" }, "dry run · nothing changed yet")),
		h(
			"div",
			{ class: "preview-summary" },
			figure("mod-preview-messages", p.messages, "messages"),
			figure("mod-preview-copies", p.copies, "cross-posted copies"),
			figure("mod-preview-rooms-count", p.rooms.length, "rooms"),
		),
		h("p", { class: "muted tiny mono", id: "mod-preview-selector" }, selectorText(p.selector)),
		table(
			"mod-preview-rooms",
			["Room", "Messages", "Copies elsewhere"],
			p.rooms.map((r) =>
				h(
					"tr",
					{ dataset: { room: r.room, messages: r.messages, copies: r.copies } },
					h("td", null, mono(r.room)),
					h("td", { class: "num-cell" }, String(r.messages)),
					h("td", { class: "num-cell" }, String(r.copies)),
				),
			),
			"Nothing matches.",
		),
	);
	if (p.copyRooms.length > 0) {
		box.append(
			h("h3", null, "Copies live in"),
			table(
				"mod-preview-copy-rooms",
				["Room", "Copies"],
				p.copyRooms.map((r) =>
					h(
						"tr",
						{ dataset: { room: r.room, copies: r.copies } },
						h("td", null, mono(r.room)),
						h("td", { class: "num-cell" }, String(r.copies)),
					),
				),
				null,
			),
		);
	}
}

async function runPreview(): Promise<void> {
	if (isReadOnly() || app.preview.busy) return;
	const built = readSelector();
	if (!built.ok) return formError(built.error);
	formError("");
	app.preview.busy = true;
	refreshPreviewState();
	const button = byId("mod-preview", HTMLButtonElement);
	button.disabled = true;
	try {
		// A dry run changes nothing, so it needs no reason.
		app.preview.result = await api<ModerationPreview>("/v1/admin/moderations", {
			method: "POST",
			body: { selector: built.selector, action: "retract", dryRun: true },
		});
		app.preview.key = built.key;
	} catch (error) {
		if (signOutIfRefused(error)) return;
		app.preview.result = null;
		app.preview.key = null;
		formError(error instanceof ApiError && error.status === 400 ? `Refused: ${error.message}` : `Preview failed: ${messageOf(error)}`);
	} finally {
		app.preview.busy = false;
		button.disabled = false;
		renderPreview();
		refreshPreviewState();
	}
}

/** Fills both ends of the time range, ending now; null clears them. */
function setRange(ms: number | null): void {
	const now = Date.now();
	byId("mod-from", HTMLInputElement).value = ms === null ? "" : toLocalInput(now - ms);
	byId("mod-to", HTMLInputElement).value = ms === null ? "" : toLocalInput(now);
	refreshPreviewState();
}

// --- The confirmation

export function closeModDialog(): void {
	const dialog = byId("mod-dialog", HTMLDialogElement);
	if (dialog.open) dialog.close();
}

function modDialogError(text: string): void {
	const box = byId("mod-dialog-error");
	box.textContent = text;
	box.hidden = false;
}

function openModDialog(): void {
	if (isReadOnly()) return;
	refreshPreviewState();
	const p = currentPreview();
	if (p === null || byId("mod-submit", HTMLButtonElement).disabled) return;
	byId("mod-dialog-title").textContent = `Retract ${p.messages} message(s) and ${p.copies} cross-posted copies?`;
	const summary = byId("mod-dialog-summary");
	clear(summary);
	append(summary, [
		h("strong", { id: "mod-dialog-messages" }, String(p.messages)),
		` message(s) in ${p.rooms.length} room(s) and `,
		h("strong", { id: "mod-dialog-copies" }, String(p.copies)),
		` cross-posted copies in ${p.copyRooms.length} other room(s) will be retracted with the reason “moderated”.`,
	]);
	byId("mod-dialog-selector").textContent = selectorText(p.selector);
	const reason = byId("mod-reason", HTMLTextAreaElement);
	reason.value = "";
	byId("mod-reason-count").textContent = `0 / ${REASON_MAX}`;
	byId("mod-dialog-error").hidden = true;
	byId("mod-confirm", HTMLButtonElement).disabled = false;
	const dialog = byId("mod-dialog", HTMLDialogElement);
	if (!dialog.open) dialog.showModal();
	reason.focus();
}

async function submitModeration(): Promise<void> {
	if (app.preview.busy) return;
	if (isReadOnly()) return closeModDialog();
	const reason = byId("mod-reason", HTMLTextAreaElement).value.trim();
	const refusal = reasonRefusal(reason);
	if (refusal !== undefined) return modDialogError(refusal);
	const built = readSelector();
	const previewed = currentPreview();
	if (!built.ok || previewed === null) return modDialogError("The form changed since the preview. Close this and preview again.");
	const confirm = byId("mod-confirm", HTMLButtonElement);
	app.preview.busy = true;
	confirm.disabled = true;
	try {
		const created = await api<ModerationCreated>("/v1/admin/moderations", {
			method: "POST",
			body: { selector: built.selector, action: "retract", reason },
		});
		closeModDialog();
		app.preview.result = null;
		app.preview.key = null;
		renderPreview();
		const { messages, copies } = created.progress.matched;
		const drift = messages !== previewed.messages || copies !== previewed.copies;
		showBanner(
			`Moderation ${str(created.id)} started: ${messages} message(s) and ${copies} cross-posted cop${copies === 1 ? "y" : "ies"} to retract.` +
				(drift ? ` The selection changed since the preview (${previewed.messages} / ${previewed.copies}).` : ""),
			"ok",
			"Moderation",
		);
		setView("moderations");
		openModeration(created.id, "", created);
		// The list is fed asynchronously: look again shortly so the new entry shows up.
		for (const delay of [1200, 3000]) {
			setTimeout(() => {
				if (app.poll.on && app.ui.view === "moderations") void loadList();
			}, delay);
		}
	} catch (error) {
		if (signOutIfRefused(error)) return;
		if (error instanceof ApiError && error.status === 400) modDialogError(`Refused: ${error.message}`);
		else modDialogError(`Could not start the moderation: ${messageOf(error)}`);
	} finally {
		app.preview.busy = false;
		confirm.disabled = false;
		refreshPreviewState();
	}
}

export function wireModerationForm(): void {
	byId("mod-new-open").addEventListener("click", () => openNewModeration());
	byId("mod-new-close").addEventListener("click", () => closeNewModeration());
	const form = byId("mod-form", HTMLFormElement);
	form.addEventListener("submit", (event) => {
		event.preventDefault();
		void runPreview();
	});
	for (const id of FIELDS) {
		byId(id).addEventListener("input", () => refreshPreviewState());
		byId(id).addEventListener("change", () => refreshPreviewState());
	}
	byId("mod-msgids").addEventListener("keydown", (event) => {
		if (event.key === "Enter" && !event.shiftKey) {
			event.preventDefault();
			form.requestSubmit();
		}
	});
	byId("mod-last-hour").addEventListener("click", () => setRange(3_600_000));
	byId("mod-last-day").addEventListener("click", () => setRange(86_400_000));
	byId("mod-any-time").addEventListener("click", () => setRange(null));
	byId("mod-submit").addEventListener("click", () => openModDialog());
	byId("mod-dialog-form").addEventListener("submit", (event) => {
		event.preventDefault();
		void submitModeration();
	});
	byId("mod-dialog-cancel").addEventListener("click", () => closeModDialog());
	wireReasonCount("mod-reason", "mod-reason-count");
}
