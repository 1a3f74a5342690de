/** The v1.3 rules for edits of a cross-posted original (src/saga/policy.ts, src/saga/ids.ts). */
import { describe, it } from "vitest";
import type { TaskState } from "../../src/protocol.ts";
import { taskRooms } from "../../src/ops/scope.ts";
import { originOfTaskId, taskIdFor } from "../../src/saga/ids.ts";
import {
	dueTasks,
	editTargets,
	implicitSagaState,
	type LiveTask,
	nextDueAt,
	noCopyCanAppear,
	type PlannedTask,
	settleEvent,
} from "../../src/saga/policy.ts";
import { ALL_TASK_STATES } from "../../src/saga/state-machine.ts";
import type { TaskKind } from "../../src/saga/types.ts";

const planned = (kind: TaskKind, room: string, state: TaskState, attempts = 1): PlannedTask => ({
	taskId: `s~000000000000.${kind[0]}.${room}`,
	kind,
	room,
	state,
	attempts,
});

describe("edit tasks and their saga", () => {
	it("never bear on the saga's state, whatever state they are in", ({ expect }) => {
		const delivered = [planned("deliver", "b", "succeeded"), planned("deliver", "c", "succeeded")];
		for (const state of ALL_TASK_STATES) {
			const withEdit = [...delivered, planned("edit", "b", state)];
			expect(implicitSagaState(withEdit)).toBe("succeeded");
			expect(settleEvent("running", withEdit)).toBe("all_delivered");
			expect(settleEvent("succeeded", withEdit)).toBeUndefined();
			expect(noCopyCanAppear([planned("retract", "b", "succeeded"), planned("edit", "b", state)])).toBe(true);
		}
		expect(implicitSagaState([planned("deliver", "b", "pending"), planned("edit", "b", "succeeded")])).toBe("running");
	});
});

describe("which copies an edit reaches", () => {
	it("every room whose delivery may have left a copy and has no retract on its way", ({ expect }) => {
		const tasks = [
			planned("deliver", "landed", "succeeded"),
			planned("deliver", "in-flight", "processing"),
			planned("deliver", "tried-once", "pending", 1),
			planned("deliver", "never-tried", "pending", 0),
			planned("deliver", "failed-untried", "failed", 0),
			planned("deliver", "retracted", "succeeded"),
			planned("retract", "retracted", "pending"),
		];
		expect(editTargets(tasks)).toEqual(["landed", "in-flight", "tried-once"]);
	});
});

describe("dispatching edits", () => {
	const live = (kind: TaskKind, room: string, state: TaskState, ord: number, sagaId = "s1", nextAttemptAt = 0): LiveTask => ({
		taskId: `${sagaId}.${kind}.${room}`,
		kind,
		state,
		room,
		ord,
		nextAttemptAt,
		leaseUntil: state === "processing" ? 10_000 : null,
		sagaId,
	});

	it("holds an edit while its saga's delivery to that room is live, due or not", ({ expect }) => {
		for (const delivery of [
			live("deliver", "b", "pending", 1),
			live("deliver", "b", "processing", 1),
			live("deliver", "b", "pending", 1, "s1", 500),
		]) {
			const edit = live("edit", "b", "pending", 300);
			expect(dueTasks([delivery, edit], 100)).not.toContain(edit.taskId);
		}
		const edit = live("edit", "b", "pending", 300);
		expect(dueTasks([edit], 100)).toEqual([edit.taskId]);
	});

	it("does not hold it for another saga's delivery or another room's", ({ expect }) => {
		const edit = live("edit", "b", "pending", 300);
		expect(dueTasks([live("deliver", "b", "processing", 1, "s2"), live("deliver", "c", "processing", 2), edit], 100)).toContain(
			edit.taskId,
		);
	});

	it("wakes the ticker for a held edit only once the delivery is done", ({ expect }) => {
		const edit = live("edit", "b", "pending", 300, "s1", 50);
		expect(nextDueAt([live("deliver", "b", "processing", 1), edit])).toBe(10_000);
		expect(nextDueAt([edit])).toBe(50);
	});
});

describe("edit task ids", () => {
	it("name the saga, the edit and the target room, and parse like the saga's other task ids", ({ expect }) => {
		const sagaId = "lobby~0123456789ab";
		const id = taskIdFor(sagaId, "edit", "team.x", 42);
		expect(id).toBe("lobby~0123456789ab.e42.team.x");
		expect(originOfTaskId(id)).toEqual({ kind: "room", id: "lobby" });
		expect(taskRooms(id)).toEqual(["lobby", "team.x"]);
		expect(taskIdFor(sagaId, "deliver", "b")).toBe("lobby~0123456789ab.d.b");
		expect(originOfTaskId("lobby~0123456789ab.e0.b")).toBeUndefined();
	});
});
