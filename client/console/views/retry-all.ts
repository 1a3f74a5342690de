/**
 * @module
 * "Retry all failed": every failed task (of the filtered room, or all), previewed first (a dry
 * run of `POST /v1/admin/tasks/retry`), then retried with a reason. The server audits each
 * retry and rate-limits the whole (a burst of 50, then 5 per second across the deployment):
 * what it defers is reported with the wait, never retried behind the operator's back.
 */
import { api, messageOf } from "../api.ts";
import { byId } from "../../dom.ts";
import { fmtDuration } from "../format.ts";
import { schedule } from "../poll.ts";
import { app, isReadOnly } from "../state.ts";
import { REASON_MAX, reasonRefusal } from "../vocab.ts";
import type { RetryPreview, RetryResult } from "../wire.ts";
import { showBanner } from "./banner.ts";
import { loadList } from "./list.ts";
import { wireReasonCount } from "./parts.ts";
import { signOutIfRefused } from "./signin.ts";

function dialogError(text: string | null): void {
	const error = byId("retry-all-error");
	error.textContent = text ?? "";
	error.hidden = text === null;
}

/** Shows the Retry-all button on the Tasks list only (and never in read-only mode). */
export function updateRetryAllButton(): void {
	byId("retry-all-open").hidden = isReadOnly() || app.ui.view !== "tasks";
}

export async function openRetryAll(): Promise<void> {
	if (isReadOnly()) return;
	const room = app.ui.room;
	Object.assign(app.retryAll, { room, count: null, busy: false });
	byId("retry-all-scope").textContent = room === "" ? "Every room." : `Room ${room} (as origin or target).`;
	byId("retry-all-count").textContent = "counting failed tasks…";
	byId("retry-all-reason", HTMLTextAreaElement).value = "";
	byId("retry-all-reason-count").textContent = `0 / ${REASON_MAX}`;
	dialogError(null);
	const submit = byId("retry-all-submit", HTMLButtonElement);
	submit.disabled = true;
	submit.textContent = "Retry failed tasks";
	const dialog = byId("retry-all-dialog", HTMLDialogElement);
	if (!dialog.open) dialog.showModal();
	try {
		const preview = await api<RetryPreview>("/v1/admin/tasks/retry", {
			method: "POST",
			body: { dryRun: true, ...(room === "" ? {} : { room }) },
		});
		app.retryAll.count = preview.count;
		byId("retry-all-count").dataset.count = String(preview.count);
		byId("retry-all-count").textContent =
			preview.count === 0
				? "No failed task matches: nothing to retry."
				: `${preview.count}${preview.count === preview.limit ? "+ (at most this many per call)" : ""} failed task${preview.count === 1 ? "" : "s"} will be retried.`;
		submit.textContent = `Retry ${preview.count} failed task${preview.count === 1 ? "" : "s"}`;
		submit.disabled = preview.count === 0;
	} catch (error) {
		if (signOutIfRefused(error)) return;
		dialogError(`Could not count the failed tasks: ${messageOf(error)}`);
	}
}

export function closeRetryAll(): void {
	const dialog = byId("retry-all-dialog", HTMLDialogElement);
	if (dialog.open) dialog.close();
}

async function submit(): Promise<void> {
	if (app.retryAll.busy || isReadOnly()) return;
	const reason = byId("retry-all-reason", HTMLTextAreaElement).value.trim();
	const refusal = reasonRefusal(reason);
	if (refusal !== undefined) return dialogError(refusal);
	const button = byId("retry-all-submit", HTMLButtonElement);
	app.retryAll.busy = true;
	button.disabled = true;
	try {
		const room = app.retryAll.room;
		const result = await api<RetryResult>("/v1/admin/tasks/retry", {
			method: "POST",
			body: { reason, ...(room === "" ? {} : { room }) },
		});
		closeRetryAll();
		const parts = [`Retried ${result.retried.length} failed task${result.retried.length === 1 ? "" : "s"}`];
		if (result.refused.length > 0) parts.push(`${result.refused.length} refused (${result.refused[0]?.error ?? ""})`);
		if (result.deferred > 0)
			parts.push(`${result.deferred} deferred by the rate limit: try again in ${fmtDuration(result.retryAfterMs)}`);
		showBanner(
			`${parts.join("; ")}. Each retry is in the audit log.`,
			result.deferred > 0 || result.refused.length > 0 ? "error" : "ok",
			"Retry all",
		);
		void loadList();
		schedule(0);
	} catch (error) {
		if (signOutIfRefused(error)) return;
		dialogError(`Retry failed: ${messageOf(error)}`);
	} finally {
		app.retryAll.busy = false;
		button.disabled = false;
	}
}

export function wireRetryAll(): void {
	byId("retry-all-open").addEventListener("click", () => void openRetryAll());
	byId("retry-all-close").addEventListener("click", () => closeRetryAll());
	wireReasonCount("retry-all-reason", "retry-all-reason-count");
	byId("retry-all-form").addEventListener("submit", (event) => {
		event.preventDefault();
		void submit();
	});
}
