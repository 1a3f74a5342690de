/**
 * @module
 * The one state machine for outbox tasks and sagas. Every state change in the outbox goes
 * through `taskTransition` / `sagaTransition`; an edge that is not listed here cannot happen.
 */
import type { SagaState, TaskState } from "../protocol.ts";

export type TaskEvent =
	/** The alarm claims a due task (or re-claims one whose lease expired). */
	| "claim"
	/** The target applied the task, or it needed no effect (null compensation). */
	| "succeed"
	/** A transient or unknown error with attempts left: back to pending with backoff. */
	| "retry_later"
	/** A permanent refusal, or attempts exhausted, or dead-lettered. */
	| "fail"
	/** The saga no longer needs the task (compensation started before it ran). */
	| "cancel"
	/** Operator actions. */
	| "manual_retry"
	| "manual_skip"
	| "manual_cancel"
	/** Retention passed for a finished task. */
	| "archive";

const TASK_EDGES: Record<TaskState, Partial<Record<TaskEvent, TaskState>>> = {
	pending: { claim: "processing", cancel: "cancelled", manual_skip: "skipped", manual_cancel: "cancelled", fail: "failed" },
	processing: {
		claim: "processing",
		succeed: "succeeded",
		retry_later: "pending",
		fail: "failed",
		cancel: "cancelled",
		manual_skip: "skipped",
		manual_cancel: "cancelled",
	},
	failed: { manual_retry: "pending", manual_skip: "skipped", manual_cancel: "cancelled", archive: "archived" },
	succeeded: { archive: "archived" },
	skipped: { archive: "archived" },
	cancelled: { archive: "archived" },
	archived: {},
};

export const TERMINAL_TASK_STATES: readonly TaskState[] = ["succeeded", "failed", "skipped", "cancelled", "archived"];

/** The state `event` leads to from `state`, or undefined where the machine forbids it. */
export function taskTransition(state: TaskState, event: TaskEvent): TaskState | undefined {
	return TASK_EDGES[state][event];
}

export function isTaskTerminal(state: TaskState): boolean {
	return TERMINAL_TASK_STATES.includes(state);
}

export type SagaEvent =
	/** Every deliver task succeeded. */
	| "all_delivered"
	/** A deliver was refused permanently or exhausted, or the original was deleted. */
	| "compensate"
	/** Every retract task finished and no copy can still appear. */
	| "all_retracted"
	/** A retract task exhausted its attempts. */
	| "retract_failed"
	/** An operator retried the failed retract. */
	| "resume_compensation";

const SAGA_EDGES: Record<SagaState, Partial<Record<SagaEvent, SagaState>>> = {
	running: { all_delivered: "succeeded", compensate: "compensating" },
	// A delete of the original after success compensates a succeeded saga.
	succeeded: { compensate: "compensating" },
	compensating: { all_retracted: "compensated", retract_failed: "failed", compensate: "compensating" },
	failed: { resume_compensation: "compensating", all_retracted: "compensated" },
	compensated: {},
};

export function sagaTransition(state: SagaState, event: SagaEvent): SagaState | undefined {
	return SAGA_EDGES[state][event];
}

/** The saga states the author hears about in a `saga` frame. */
export function isSagaReportable(state: SagaState): boolean {
	return state === "succeeded" || state === "compensated" || state === "failed";
}

export const ALL_TASK_STATES = Object.keys(TASK_EDGES) as TaskState[];
export const ALL_TASK_EVENTS: readonly TaskEvent[] = [
	"claim",
	"succeed",
	"retry_later",
	"fail",
	"cancel",
	"manual_retry",
	"manual_skip",
	"manual_cancel",
	"archive",
];
export const ALL_SAGA_STATES = Object.keys(SAGA_EDGES) as SagaState[];
export const ALL_SAGA_EVENTS: readonly SagaEvent[] = [
	"all_delivered",
	"compensate",
	"all_retracted",
	"retract_failed",
	"resume_compensation",
];
