/**
 * @module
 * The Audit log: the latest operator actions (who, what, why, from → to). The server sends the
 * latest ones; the filters run in the page. A moderation's detail shows its entries the same way.
 */
import { api } from "../api.ts";
import { type Child, h } from "../../dom.ts";
import { str } from "../format.ts";
import { ownerId, parseTaskId } from "../task-ids.ts";
import { AUDIT_ACTIONS } from "../vocab.ts";
import type { AuditEntry, AuditList } from "../wire.ts";
import { roomOfPolicyTarget } from "../../../src/ops/policy-audit.ts";
import { openOwner, openRoom, openTrace } from "./detail.ts";
import { type ListView, listView, logQuery } from "./list.ts";
import { badge, taskLabel, timeCell } from "./parts.ts";

export const AUDIT_COLUMNS = ["At", "Actor", "Action", "Transition", "Reason", "Task"] as const;

export function auditCells(entry: AuditEntry): Child[] {
	return [
		timeCell(entry.at),
		h("strong", { class: "actor" }, str(entry.actor)),
		h("span", { class: `action action-${AUDIT_ACTIONS.includes(entry.action) ? entry.action : "other"}` }, str(entry.action)),
		h("span", { class: "transition" }, badge(entry.from), " → ", badge(entry.to)),
		h("span", { class: "reason", title: entry.reason }, str(entry.reason)),
		taskLabel(entry.taskId),
	];
}

export function auditData(entry: AuditEntry): Record<string, string> {
	return { taskId: entry.taskId, action: str(entry.action), actor: str(entry.actor) };
}

export const auditList: ListView = listView<AuditEntry>({
	name: "Audit log",
	noun: "entries",
	filterLabel: "Action",
	states: AUDIT_ACTIONS,
	serverFilters: false,
	roomFilter: true,
	kindFilter: false,
	columns: AUDIT_COLUMNS,
	async fetch() {
		const list = await api<AuditList>(`/v1/admin/audit${logQuery()}`);
		return { items: list.entries, cursor: null };
	},
	// An entry names its task, whose id names the target room.
	matches: (entry, q) => (q.state === "" || entry.action === q.state) && (q.room === "" || parseTaskId(entry.taskId)?.room === q.room),
	cells: auditCells,
	data: auditData,
	open: (entry) => {
		// A policy change opens its room's page.
		const room = roomOfPolicyTarget(entry.taskId);
		if (room !== undefined) return openRoom(room);
		const owner = ownerId(entry.sagaId, entry.taskId);
		if (owner !== undefined) openOwner(owner, entry.taskId);
		else openTrace({ traceId: entry.traceId, fields: traceFields(entry) });
	},
});

function traceFields(entry: AuditEntry): Array<[string, string]> {
	return [
		["taskId", entry.taskId],
		["actor", entry.actor],
		["action", entry.action],
		["reason", entry.reason],
	];
}
