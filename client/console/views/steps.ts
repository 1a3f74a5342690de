/**
 * @module
 * The steps table of a saga or moderation: one row per task, with its state, tries, last
 * error and the manual actions the server allows for it now (`task.actions`).
 */
import { h } from "../../dom.ts";
import { fmtTime, isNum, str } from "../format.ts";
import { app, isReadOnly } from "../state.ts";
import { ACTION_HELP, ACTION_LABEL } from "../vocab.ts";
import type { TaskView } from "../wire.ts";
import { openActionDialog } from "./actions.ts";
import { badge, kindTag, mono } from "./parts.ts";

function actionButtons(task: TaskView): HTMLDivElement {
	return h(
		"div",
		{ class: "actions" },
		task.actions.length === 0
			? h("span", { class: "muted" }, "—")
			: task.actions.map((action) =>
					h(
						"button",
						{
							type: "button",
							class: `small action-btn ${action === "retry" ? "primary" : "ghost"}`,
							dataset: { action, taskId: task.taskId },
							title: ACTION_HELP[action],
							onclick: () => openActionDialog(task, action),
						},
						ACTION_LABEL[action],
					),
				),
	);
}

/** Deliveries first, then by room. */
function byKindThenRoom(a: TaskView, b: TaskView): number {
	if (a.kind === b.kind) return a.room.localeCompare(b.room);
	return a.kind === "deliver" ? -1 : 1;
}

export function stepsTable(steps: readonly TaskView[]): HTMLDivElement {
	// Read-only mode leaves the Actions column out, not merely its buttons.
	const readOnly = isReadOnly();
	const columns = ["Kind", "Room", "State", "Tries", ...(readOnly ? [] : ["Actions"])];
	const tbody = h("tbody");
	for (const task of [...steps].sort(byKindThenRoom)) {
		const selected = task.taskId === app.detail.taskId;
		const error = task.lastError ?? "";
		const waiting = isNum(task.nextAttemptAt) && (task.state === "pending" || task.state === "processing") ? task.nextAttemptAt : null;
		tbody.appendChild(
			h(
				"tr",
				{
					class: [selected ? "selected" : "", error !== "" ? "has-error" : ""].join(" ").trim() || null,
					dataset: { taskId: task.taskId, state: str(task.state), kind: str(task.kind), room: str(task.room) },
					title: task.taskId,
				},
				h("td", null, kindTag(task.kind)),
				h("td", null, mono(task.room)),
				h(
					"td",
					{ class: "step-state" },
					badge(task.state),
					waiting === null
						? null
						: h(
								"span",
								{ class: "muted tiny next", title: `next attempt at ${new Date(waiting).toISOString()}` },
								` next ${fmtTime(waiting)}`,
							),
				),
				h("td", { class: "num-cell" }, String(task.attempts)),
				readOnly ? null : h("td", null, actionButtons(task)),
			),
		);
		if (error !== "") {
			tbody.appendChild(
				h(
					"tr",
					{ class: selected ? "step-error selected" : "step-error", dataset: { errorFor: task.taskId } },
					h(
						"td",
						{ colspan: columns.length },
						h("span", { class: "muted tiny" }, "last error "),
						h("span", { class: "error-text" }, error),
					),
				),
			);
		}
	}
	if (steps.length === 0) tbody.appendChild(h("tr", { class: "empty-row" }, h("td", { colspan: columns.length }, "No steps.")));
	return h(
		"div",
		{ class: "table-wrap" },
		h(
			"table",
			{ class: "grid steps", id: "steps" },
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
