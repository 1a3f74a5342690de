/**
 * @module
 * Which manual action an operator may take on a task. One rule, used by the outbox when it
 * acts and by every task view it returns, so the console shows exactly what the server allows.
 */
import type { SagaState, TaskState } from "../protocol.ts";
import { taskTransition, type TaskEvent } from "./state-machine.ts";
import type { ManualAction, TaskKind } from "./types.ts";

export const MANUAL_ACTIONS: readonly ManualAction[] = ["retry", "skip", "cancel"];

export const ACTION_EVENTS: Record<ManualAction, TaskEvent> = {
	retry: "manual_retry",
	skip: "manual_skip",
	cancel: "manual_cancel",
};

const PAST: Record<ManualAction, string> = { retry: "retried", skip: "skipped", cancel: "cancelled" };

/** What the rule needs to know about a task: its kind, its state and its saga's state. */
export interface ActionSubject {
	kind: TaskKind;
	state: TaskState;
	/** Undefined when the saga row is gone (archived) or the task belongs to no saga. */
	sagaState: SagaState | undefined;
}

/** Why `action` is refused for the task, or undefined when it is allowed. */
export function actionRefusal(subject: ActionSubject, action: ManualAction): string | undefined {
	if (taskTransition(subject.state, ACTION_EVENTS[action]) === undefined) {
		return `a ${subject.state} task cannot be ${PAST[action]}`;
	}
	if (action === "retry" && subject.kind === "deliver" && subject.sagaState !== "running") {
		return `the saga is ${subject.sagaState ?? "gone"}: a delivery can only be retried while it runs`;
	}
	if (action === "cancel" && subject.kind === "retract") {
		return "a compensation cannot be cancelled; skip it if the copy is already gone";
	}
	return undefined;
}

/** The actions the task allows now, in a stable order. */
export function allowedActions(subject: ActionSubject): ManualAction[] {
	return MANUAL_ACTIONS.filter((action) => actionRefusal(subject, action) === undefined);
}
