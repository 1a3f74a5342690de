/**
 * @module
 * The Tasks list: every task across rooms, newest first, filtered by state, kind and room on
 * the server. A row opens the saga (or moderation) the task belongs to, with it highlighted.
 */
import { api } from "../api.ts";
import { h } from "../../dom.ts";
import { str } from "../format.ts";
import { app } from "../state.ts";
import { TASK_STATES } from "../vocab.ts";
import type { TaskPage, TaskView } from "../wire.ts";
import { openOwner } from "./detail.ts";
import { type ListView, listView, pageQuery } from "./list.ts";
import { badge, kindTag, mono, timeCell, relTime } from "./parts.ts";

export const tasksList: ListView = listView<TaskView>({
	name: "Tasks",
	noun: "tasks",
	filterLabel: "State",
	states: TASK_STATES,
	serverFilters: true,
	roomFilter: true,
	kindFilter: true,
	columns: ["Created", "State", "Kind", "Target room", "Origin", "Tries", "Updated", "Last error"],
	async fetch(q) {
		const page = await api<TaskPage>(`/v1/admin/tasks${pageQuery(q)}`);
		return { items: page.tasks, cursor: page.cursor };
	},
	cells: (task) => [
		timeCell(task.createdAt),
		badge(task.state),
		kindTag(task.kind),
		mono(task.room),
		h("span", { class: "mono muted", dataset: { origin: task.origin.kind } }, str(task.origin.id)),
		h("span", { class: "num" }, String(task.attempts)),
		relTime(task.updatedAt),
		h("span", { class: "error-text clip", title: task.lastError }, task.lastError ?? ""),
	],
	rowTitle: (task) => task.taskId,
	data: (task) => ({ taskId: task.taskId, sagaId: str(task.sagaId), state: str(task.state), kind: str(task.kind), room: str(task.room) }),
	selected: (task) => task.taskId === app.ui.task,
	open: (task) => openOwner(task.sagaId, task.taskId),
});
