/**
 * @module
 * The saga rules, as pure decisions over a saga's state and its tasks' kinds and states.
 * objects/outbox.ts reads the rows, asks here, and writes what was decided; the state
 * machine (./state-machine.ts) only says which moves exist, this says which one follows.
 *
 * - Manual actions: which an operator may take on a task (`actionRefusal`, `allowedActions`;
 *   every task view carries the latter, so the console offers exactly what the server allows).
 * - Attempts: what an answer does to its task (`attemptDecision`, `deadLetterDecision`).
 * - Settling: what counts as done, and which saga event the tasks imply (`isDone`, `settleEvent`).
 * - Compensation: which deliveries to cancel and which rooms get a retract
 *   (`compensationPlan`, `mayHaveCopy`, `noCopyCanAppear`).
 * - Edits (v1.3): which copies an edit of the original must reach (`editTargets`). An edit task
 *   never bears on its saga's state: a cross-post succeeded or compensated by its deliveries
 *   and retracts, whatever its edits do afterwards.
 */
import type { SagaState, TaskState } from "../protocol.ts";
import { isTaskTerminal, type SagaEvent, taskTransition, type TaskEvent } from "./state-machine.ts";
import type { ManualAction, TaskKind, TaskOutcome } from "./types.ts";

// -----------------------------------------------------------------------------------------
// Manual actions
// -----------------------------------------------------------------------------------------

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
	if (action === "cancel" && subject.kind === "unmention") {
		return "an unmention cannot be cancelled: the mention would stay; skip it if it is already gone";
	}
	return undefined;
}

/** The actions the task allows now, in a stable order. */
export function allowedActions(subject: ActionSubject): ManualAction[] {
	return MANUAL_ACTIONS.filter((action) => actionRefusal(subject, action) === undefined);
}

// -----------------------------------------------------------------------------------------
// Attempts
// -----------------------------------------------------------------------------------------

/** What the outbox does with an answer to an attempt. */
export type AttemptDecision =
	/** A stale or repeated answer: nothing changes. */
	| { action: "ignore" }
	/** Not tried (its batch stopped earlier): due again at once, and the attempt is given back. */
	| { action: "defer" }
	| { action: "succeed" }
	/** Back to pending after a backoff. */
	| { action: "retry" }
	/** Finished as failed; `alert` when it is an incident rather than an outcome. */
	| { action: "fail"; alert: boolean };

/**
 * What an answer for `attempt` does to a task that has made `task.attempts` attempts. Only
 * the latest attempt of a processing task may finish it: an older attempt's late answer, or
 * an answer for a task cancelled meanwhile, is stale. A transient failure is retried while
 * attempts remain; a permanent refusal (read-only, banned) fails at once without an alert.
 */
export function attemptDecision(
	task: { state: TaskState; attempts: number },
	attempt: number,
	status: TaskOutcome["status"],
	maxAttempts: number,
): AttemptDecision {
	if (task.state !== "processing" || attempt !== task.attempts) return { action: "ignore" };
	switch (status) {
		case "deferred":
			return { action: "defer" };
		case "ok":
			return { action: "succeed" };
		case "transient":
			return task.attempts < maxAttempts ? { action: "retry" } : { action: "fail", alert: true };
		case "permanent":
			return { action: "fail", alert: false };
	}
}

/** The dead-letter queue gave up: a live task fails with an alert, whatever attempts remain. */
export function deadLetterDecision(state: TaskState): AttemptDecision {
	return isTaskTerminal(state) ? { action: "ignore" } : { action: "fail", alert: true };
}

// -----------------------------------------------------------------------------------------
// Settling
// -----------------------------------------------------------------------------------------

/** A task as the saga rules see it. */
export interface SagaTask {
	kind: TaskKind;
	state: TaskState;
}

/**
 * Whether a task bears on its saga's state: deliveries, retracts and moderations. Not the
 * edits of a v1.3 original, nor (v1.4) the inbox tasks of a message's inbox run, whose state
 * is read off its tasks (implicitSagaState) and never moved.
 */
function bearsOnSaga(task: SagaTask): boolean {
	return task.kind === "deliver" || task.kind === "retract" || task.kind === "moderate";
}

/**
 * Whether a task counts as done for a running saga: it succeeded, or an operator skipped it
 * (a cross-post then succeeds without that room), or an operator cancelled an operator
 * moderation's room (they chose to leave it). A cancelled delivery is not done: it aborts.
 */
export function isDone(task: SagaTask): boolean {
	return task.state === "succeeded" || task.state === "skipped" || (task.kind === "moderate" && task.state === "cancelled");
}

/** A delivery that failed or was cancelled ends the cross-post: its saga compensates. */
function aborts(task: SagaTask): boolean {
	return task.kind === "deliver" && (task.state === "failed" || task.state === "cancelled");
}

function failedRetract(task: SagaTask): boolean {
	return task.kind === "retract" && task.state === "failed";
}

/**
 * Whether no copy of a compensating saga can still appear: no task is live (no delivery can
 * still land, no retract is on its way) and no retract failed (its copy may still be there).
 * A skipped retract counts as gone: the operator said so.
 */
export function noCopyCanAppear(tasks: readonly SagaTask[]): boolean {
	return tasks.filter(bearsOnSaga).every((t) => isTaskTerminal(t.state)) && !tasks.some(failedRetract);
}

/**
 * The saga event its tasks imply, or undefined when the saga stays as it is. The outbox asks
 * after every change to a saga's tasks and applies the answer until there is none: at most
 * two follow one change (`compensate`, then `all_retracted` when no copy was possible).
 * - running: a delivery failed or was cancelled → `compensate` (reason `compensated`); every
 *   task done → `all_delivered`. A failed moderate task leaves its moderation running.
 * - compensating: a retract failed → `retract_failed`; no copy can appear → `all_retracted`.
 * - failed: waits for an operator while any retract is failed; once none is (retried or
 *   skipped), `all_retracted` if no copy can appear, else `resume_compensation`.
 * - succeeded, compensated: nothing follows from the tasks (a delete of the original
 *   compensates a succeeded saga on request, not from its tasks).
 */
export function settleEvent(state: SagaState, all: readonly SagaTask[]): SagaEvent | undefined {
	const tasks = all.filter(bearsOnSaga);
	switch (state) {
		case "running":
			if (tasks.some(aborts)) return "compensate";
			return tasks.every(isDone) ? "all_delivered" : undefined;
		case "compensating":
			if (tasks.some(failedRetract)) return "retract_failed";
			return noCopyCanAppear(tasks) ? "all_retracted" : undefined;
		case "failed":
			if (tasks.some(failedRetract)) return undefined;
			return noCopyCanAppear(tasks) ? "all_retracted" : "resume_compensation";
		case "succeeded":
		case "compensated":
			return undefined;
	}
}

// -----------------------------------------------------------------------------------------
// Compensation
// -----------------------------------------------------------------------------------------

/** A task as a compensation plan sees it. */
export interface PlannedTask extends SagaTask {
	taskId: string;
	room: string;
	/** Claims so far; each claim is an attempt, answered or not. */
	attempts: number;
}

/**
 * Whether a delivery may have left a copy in its room: it succeeded, or was attempted at
 * least once (an attempt may have applied even though its answer was lost).
 */
export function mayHaveCopy(task: Pick<PlannedTask, "kind" | "state" | "attempts">): boolean {
	return task.kind === "deliver" && (task.state === "succeeded" || task.attempts > 0);
}

/** The rooms where a saga's copy may exist, in step order. */
export function copyRooms(tasks: readonly PlannedTask[]): string[] {
	return tasks.filter(mayHaveCopy).map((t) => t.room);
}

export interface CompensationPlan {
	/** Live deliveries to cancel: no task of the saga delivers again. */
	cancel: string[];
	/**
	 * Retract tasks to create, newest step first: one per room where a copy may exist and
	 * that has no retract yet. `delivery` names the delivery it undoes (for its payload).
	 * A room never attempted needs none: no copy can appear there.
	 */
	retract: Array<{ room: string; delivery: string }>;
}

/** What turning a saga to compensating does to its tasks, given them in step order. */
export function compensationPlan(tasks: readonly PlannedTask[]): CompensationPlan {
	const retracted = new Set(tasks.filter((t) => t.kind === "retract").map((t) => t.room));
	const plan: CompensationPlan = { cancel: [], retract: [] };
	for (const task of [...tasks].reverse()) {
		if (task.kind !== "deliver") continue;
		if (!isTaskTerminal(task.state)) plan.cancel.push(task.taskId);
		if (mayHaveCopy(task) && !retracted.has(task.room)) {
			plan.retract.push({ room: task.room, delivery: task.taskId });
			retracted.add(task.room);
		}
	}
	return plan;
}

// -----------------------------------------------------------------------------------------
// Dispatch: which live tasks go out now, and when the ticker must look again
// -----------------------------------------------------------------------------------------

/** A live (pending or processing) task as the dispatch rules see it. */
export interface LiveTask {
	taskId: string;
	kind: TaskKind;
	state: TaskState;
	room: string;
	/** Commit order: deliveries to one room go out in it. */
	ord: number;
	nextAttemptAt: number;
	leaseUntil: number | null;
	/** The saga it belongs to (an edit waits for its own saga's delivery to the same room). */
	sagaId?: string;
}

function byOrd(tasks: readonly LiveTask[]): LiveTask[] {
	return [...tasks].sort((a, b) => a.ord - b.ord);
}

/**
 * The tasks to claim now, in commit order: pending ones whose time has come and processing
 * ones whose lease ran out (they may have been lost with a runtime). Deliveries from one
 * origin to one room keep commit order: a delivery waits while an earlier one to the same
 * room is in flight (processing) or pending and not yet due. All due deliveries to a room are
 * claimed together, so they travel as one batch. An edit (v1.3) waits while its saga's delivery
 * to its room is live at all: they travel in different batches, and the copy must be there first.
 */
export function dueTasks(live: readonly LiveTask[], now: number, limit = 100): string[] {
	const blocked = new Set<string>();
	const delivering = liveDeliveries(live);
	const due: string[] = [];
	for (const task of byOrd(live)) {
		if (due.length >= limit) break;
		const leaseOut = task.state === "processing" && (task.leaseUntil ?? 0) <= now;
		const ready =
			task.state === "pending" &&
			task.nextAttemptAt <= now &&
			!(task.kind === "deliver" && blocked.has(task.room)) &&
			!(task.kind === "edit" && delivering.has(`${task.sagaId}|${task.room}`));
		if (ready || leaseOut) due.push(task.taskId);
		if (task.kind === "deliver" && (task.state === "processing" || (task.state === "pending" && task.nextAttemptAt > now)))
			blocked.add(task.room);
	}
	return due;
}

/** The (saga, room) pairs with a live delivery: an edit there waits for it. */
function liveDeliveries(live: readonly LiveTask[]): Set<string> {
	return new Set(live.filter((t) => t.kind === "deliver").map((t) => `${t.sagaId}|${t.room}`));
}

/**
 * When the ticker must run next for these tasks: the earliest due time of a pending task at
 * the head of its room's delivery line (one behind an unfinished delivery waits for that one,
 * not for its own time), or the earliest lease to run out. Null when nothing is live.
 */
export function nextDueAt(live: readonly LiveTask[]): number | null {
	const busy = new Set<string>();
	const delivering = liveDeliveries(live);
	let next: number | null = null;
	const consider = (at: number) => {
		next = next === null ? at : Math.min(next, at);
	};
	for (const task of byOrd(live)) {
		if (task.state === "processing") consider(task.leaseUntil ?? 0);
		else if (
			task.state === "pending" &&
			!(task.kind === "deliver" && busy.has(task.room)) &&
			!(task.kind === "edit" && delivering.has(`${task.sagaId}|${task.room}`))
		)
			consider(task.nextAttemptAt);
		if (task.kind === "deliver") busy.add(task.room);
	}
	return next;
}

/**
 * Whether a new delivery to a room may be claimed in the commit that creates it, for the
 * origin to attempt at once (a direct first attempt): only when every earlier unfinished
 * delivery to that room is itself in the origin's direct line, so the copy cannot overtake
 * one that went the durable way (alarm, Queue, consumer).
 */
export function mayClaimAtCommit(liveToRoom: number, directToRoom: number): boolean {
	return liveToRoom === directToRoom;
}

/**
 * Whether the origin may still make the direct attempt it claimed: the task is processing
 * on that very attempt and its lease has not run out. Anything else means the durable path
 * owns it now (the alarm re-claimed it, an operator acted, the saga was compensated).
 */
export function mayAttemptDirectly(
	task: { state: TaskState; attempts: number; leaseUntil: number | null } | undefined,
	attempt: number,
	now: number,
): boolean {
	return (
		task !== undefined && task.state === "processing" && task.attempts === attempt && task.leaseUntil !== null && task.leaseUntil > now
	);
}

/**
 * The state of a cross-post whose saga row was never written: one is written only when its
 * state cannot be read off its tasks. Without one, it runs until every task is done, and has
 * then succeeded. (A failed or cancelled delivery turns it to compensating, which writes one.)
 */
export function implicitSagaState(all: readonly SagaTask[]): SagaState {
	const tasks = all.filter(bearsOnSaga);
	// A message's inbox run (v1.4) has none: it runs while any of its tasks is live.
	if (tasks.length === 0) return all.length > 0 && all.every((t) => isTaskTerminal(t.state)) ? "succeeded" : "running";
	return tasks.every(isDone) ? "succeeded" : "running";
}

/**
 * The rooms an edit of a cross-posted original must reach, given its tasks in step order: each
 * room whose delivery may have left a copy (see mayHaveCopy), unless a retract is on its way
 * there (the copy is, or will be, gone). A delivery never attempted needs no edit: the outbox
 * gives it the new text, which its first attempt carries. An edit to a room whose delivery is
 * still live waits behind it (dueTasks).
 */
export function editTargets(tasks: readonly PlannedTask[]): string[] {
	const retracted = new Set(tasks.filter((t) => t.kind === "retract").map((t) => t.room));
	return tasks.filter((t) => mayHaveCopy(t) && !retracted.has(t.room)).map((t) => t.room);
}
