/**
 * @module
 * The manual-action dialog: retry, skip or cancel one task, with a reason for the audit log.
 * Which actions a task offers is the server's answer (`task.actions`); a task that changed
 * meanwhile gets the server's 409, shown in the dialog.
 */
import type { ManualAction } from "../../../src/saga/types.ts";
import { api, ApiError, messageOf } from "../api.ts";
import { byId } from "../../dom.ts";
import { str } from "../format.ts";
import { schedule } from "../poll.ts";
import { app, isReadOnly } from "../state.ts";
import { ACTION_CONFIRM, ACTION_HELP, ACTION_LABEL, REASON_MAX, reasonRefusal } from "../vocab.ts";
import type { TaskView } from "../wire.ts";
import { showBanner } from "./banner.ts";
import { refreshDetail, reloadDetail } from "./detail.ts";
import { loadList } from "./list.ts";
import { wireReasonCount } from "./parts.ts";
import { signOutIfRefused } from "./signin.ts";

export function openActionDialog(task: TaskView, action: ManualAction): void {
	if (isReadOnly()) return;
	Object.assign(app.action, { task, action });
	byId("action-title").textContent = `${ACTION_LABEL[action]} ${str(task.kind)} task → ${str(task.room)}`;
	byId("action-target").textContent = `${task.taskId} · now ${str(task.state)} · ${ACTION_HELP[action]}`;
	const reason = byId("action-reason", HTMLTextAreaElement);
	reason.value = "";
	byId("action-count").textContent = `0 / ${REASON_MAX}`;
	byId("action-error").hidden = true;
	const submit = byId("action-submit", HTMLButtonElement);
	submit.textContent = ACTION_CONFIRM[action];
	submit.dataset.action = action;
	submit.disabled = false;
	const dialog = byId("action-dialog", HTMLDialogElement);
	if (!dialog.open) dialog.showModal();
	reason.focus();
}

export function closeActionDialog(): void {
	const dialog = byId("action-dialog", HTMLDialogElement);
	if (dialog.open) dialog.close();
	app.action.task = null;
}

function dialogError(text: string): void {
	const error = byId("action-error");
	error.textContent = text;
	error.hidden = false;
}

async function submitAction(): Promise<void> {
	const { task, action, busy } = app.action;
	if (busy || task === null) return;
	if (isReadOnly()) return closeActionDialog();
	const reason = byId("action-reason", HTMLTextAreaElement).value.trim();
	const refusal = reasonRefusal(reason);
	if (refusal !== undefined) return dialogError(refusal);
	const submit = byId("action-submit", HTMLButtonElement);
	app.action.busy = true;
	submit.disabled = true;
	try {
		const updated = await api<TaskView>(`/v1/admin/tasks/${encodeURIComponent(task.taskId)}/actions`, {
			method: "POST",
			body: { action, reason },
		});
		closeActionDialog();
		showBanner(`${ACTION_LABEL[action]}: task ${task.taskId} is now ${str(updated.state)} (was ${str(task.state)}).`, "ok", "Action");
		afterAction();
	} catch (error) {
		if (signOutIfRefused(error)) return;
		if (error instanceof ApiError && error.status === 409) dialogError(`Conflict: ${error.message}`);
		else if (error instanceof ApiError && error.status === 400) dialogError(`Refused: ${error.message}`);
		else dialogError(`${ACTION_LABEL[action]} failed: ${messageOf(error)}`);
		reloadDetail();
	} finally {
		app.action.busy = false;
		submit.disabled = false;
	}
}

/** After a change: redraw now, then a few quick follow-ups while the outbox picks the task up. */
function afterAction(): void {
	reloadDetail();
	void loadList();
	schedule(0);
	for (const delay of [600, 1500]) {
		setTimeout(() => {
			if (app.poll.on && app.detail.open !== null) void refreshDetail();
		}, delay);
	}
}

export function wireActionDialog(): void {
	byId("action-form").addEventListener("submit", (event) => {
		event.preventDefault();
		void submitAction();
	});
	byId("action-cancel").addEventListener("click", () => closeActionDialog());
	wireReasonCount("action-reason", "action-count");
	byId("action-dialog").addEventListener("close", () => {
		app.action.task = null;
	});
}
