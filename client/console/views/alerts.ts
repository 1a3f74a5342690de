/**
 * @module
 * The Alerts list: the latest alerts (a task failed, a task is stuck) with their webhook
 * delivery status. The server sends the latest ones; the filters run in the page.
 */
import { api } from "../api.ts";
import { h } from "../../dom.ts";
import { str } from "../format.ts";
import { ownerId } from "../task-ids.ts";
import { ALERT_STATUSES } from "../vocab.ts";
import type { AlertList, AlertView } from "../wire.ts";
import { openOwner, openTrace } from "./detail.ts";
import { type ListView, listView, logQuery } from "./list.ts";
import { badge, mono, timeCell } from "./parts.ts";

export const alertsList: ListView = listView<AlertView>({
	name: "Alerts",
	noun: "alerts",
	filterLabel: "Webhook",
	states: ALERT_STATUSES,
	serverFilters: false,
	roomFilter: true,
	kindFilter: false,
	columns: ["At", "Kind", "Webhook", "Room", "Tries", "Error", "Webhook error"],
	async fetch() {
		const list = await api<AlertList>(`/v1/admin/alerts${logQuery()}`);
		return { items: list.alerts, cursor: null };
	},
	matches: (alert, q) => (q.state === "" || alert.status === q.state) && (q.room === "" || alert.room === q.room),
	cells: (alert) => [
		timeCell(alert.at),
		h("span", { class: `kind alert-${alert.kind === "task_stuck" ? "stuck" : "failed"}` }, str(alert.kind)),
		h(
			"span",
			null,
			badge(alert.status),
			alert.deliveryAttempts > 1 ? h("span", { class: "muted tiny" }, ` ×${alert.deliveryAttempts}`) : null,
		),
		mono(alert.room),
		h("span", { class: "num" }, String(alert.attempts)),
		h("span", { class: "error-text clip", title: alert.error }, alert.error ?? ""),
		h("span", { class: "error-text clip", title: alert.lastError }, alert.lastError ?? ""),
	],
	rowTitle: (alert) => alert.taskId,
	data: (alert) => ({ alertId: alert.alertId, status: str(alert.status), taskId: alert.taskId }),
	open: (alert) => {
		const owner = ownerId(alert.sagaId, alert.taskId);
		if (owner !== undefined) openOwner(owner, alert.taskId);
		else openTrace({ traceId: alert.traceId, fields: traceFields(alert) });
	},
});

function traceFields(alert: AlertView): Array<[string, string]> {
	const fields: Array<[string, string]> = [
		["taskId", alert.taskId],
		["sagaId", alert.sagaId],
		["room", alert.room],
		["kind", alert.kind],
		["status", alert.status],
	];
	if (alert.error !== null) fields.push(["error", alert.error]);
	return fields;
}
