/**
 * @module
 * Shapes of cross-room work: the task as operators see it (the contract's task object),
 * the queue message that carries it, and the outcome a target room reports.
 */
import type { ErrorCode } from "../errors.ts";
import type { RetractReason, SagaState, SagaStepSummary, TaskState, UserRef } from "../protocol.ts";

/**
 * `edit` (v1.3): carries an edit of a cross-posted original to a copy (objects/barrier.ts).
 * `mention`, `unmention` (v1.4): carry a mention and its removal from a room to a user's inbox
 * (objects/inbox.ts; target `@<user id>`).
 */
export type TaskKind = "deliver" | "retract" | "moderate" | "edit" | "mention" | "unmention";

/** Every kind once (the compiler checks the record names each), in the order operators read them. */
const KINDS: Record<TaskKind, true> = { deliver: true, retract: true, moderate: true, edit: true, mention: true, unmention: true };
export const ALL_TASK_KINDS: readonly TaskKind[] = Object.keys(KINDS) as TaskKind[];

/**
 * The object that owns a task, its source of truth: the room that cross-posted (deliver and
 * retract tasks), or the operator moderation that retracts in bulk (moderate tasks).
 */
export interface TaskOrigin {
	kind: "room" | "moderation";
	/** A room id, or a moderation id (`mod@…`; `cmp@…` for moderations made before the rename). */
	id: string;
}

/** An operator's manual action on a task. */
export type ManualAction = "retry" | "skip" | "cancel";

/** The contract's task object (`/v1/admin/tasks`, saga steps). */
export interface TaskView {
	taskId: string;
	sagaId: string;
	room: string;
	kind: TaskKind;
	state: TaskState;
	attempts: number;
	nextAttemptAt: number | null;
	lastError: string | null;
	/** Extension: the manual actions the task allows now (see src/saga/policy.ts). */
	actions: ManualAction[];
	/** Extension: the object that owns the task (a room, or a moderation). */
	origin: TaskOrigin;
	/** Extension: the origin room, for a room's task only (a moderation is not a room). */
	originRoom?: string;
	/** Extensions: the trace id and timestamps. */
	traceId: string;
	createdAt: number;
	updatedAt: number;
}

/** The contract's saga object (`/v1/admin/sagas/{sagaId}`). */
export interface SagaView {
	sagaId: string;
	originRoom: string;
	msgId: string;
	traceId: string;
	state: SagaState;
	createdAt: number;
	updatedAt: number;
	steps: TaskView[];
}

/** What a deliver or retract needs to know about the original message. */
export interface CopyPayload {
	msgId: string;
	author: UserRef;
	text: string;
	ts: number;
	/** For retracts: the reason the copy is retracted with. */
	reason?: RetractReason;
	/**
	 * v1.3, once the original was edited: the seq of the edit `text` is (the original's latest
	 * edit, for a delivery). A copy applies an edit only if this is greater than the one it shows.
	 */
	editSeq?: number;
	/** v1.3: when that edit was made. */
	editedAt?: number;
}

/** An operator moderation's task for one room: the messages to retract there. */
export interface ModeratePayload {
	msgIds: string[];
	reason: "moderated";
}

/** An inbox task's payload (src/inbox-protocol.ts) is a copy payload with a version. */
export type TaskPayload = CopyPayload | ModeratePayload;

export function isModeratePayload(payload: TaskPayload): payload is ModeratePayload {
	return "msgIds" in payload;
}

/** One queue message: one attempt at one task. Far below the 128 KB queue limit. */
export interface TaskMessage {
	taskId: string;
	sagaId: string;
	kind: TaskKind;
	/** The object to report the outcome to; a deliver's copy names its room as the copy's origin. */
	origin: TaskOrigin;
	targetRoom: string;
	dedupKey: string;
	traceId: string;
	attempt: number;
	payload: TaskPayload;
	/**
	 * W3C trace context of this hop: set by the dispatching alarm (the attempt's span), replaced
	 * by the consumer with its own span before the RPC to the target room. Older messages lack it.
	 */
	traceparent?: string;
}

/** What a moderate task did in its room. */
export interface ModerationCounts {
	retracted: number;
	alreadyGone: number;
	missing: number;
	sagasCompensated: number;
}

/**
 * The codes an outcome carries besides the contract's ErrorCode (src/errors.ts), all named
 * here: they describe an attempt, never an HTTP answer, so they stay out of ErrorCode.
 */
export const TASK_OUTCOME_CODES = {
	/** Not tried: an earlier task of the same batch did not go through. */
	deferred: "deferred",
	/** A failure injected for a rehearsal (FAULTS=on). */
	fault: "fault",
	/** A timeout or a broken call: the attempt may or may not have taken effect. */
	unknown: "unknown",
} as const;

/** `unavailable` (the target's object was overloaded or asked to be retried) is a contract code since v1.4. */
export type TaskOutcomeCode = ErrorCode | (typeof TASK_OUTCOME_CODES)[keyof typeof TASK_OUTCOME_CODES];

/** What a target room answers to a task. */
export type TaskOutcome =
	| { status: "ok"; seq: number | null; msgId: string | null; detail: string; counts?: ModerationCounts }
	| { status: "permanent"; code: TaskOutcomeCode; message: string }
	| { status: "transient"; code: TaskOutcomeCode; message: string }
	/** Not tried, because an earlier task of the same batch did not go through. */
	| { status: "deferred"; code: "deferred"; message: string };

/** One queue message: tasks for one target room, applied there in order. */
export interface TaskBatch {
	tasks: TaskMessage[];
}

/** One task's outcome as the consumer reports it to the origin. */
export interface TaskReport {
	taskId: string;
	attempt: number;
	outcome: TaskOutcome;
}

/** What the origin room answers to a reported outcome. */
export interface CompletionAck {
	/** Whether the report changed the task (false for a stale or repeated report). */
	applied: boolean;
	state: TaskState | null;
}

export interface SagaFrameData {
	sagaId: string;
	state: SagaState;
	steps: SagaStepSummary[];
	authorId: string;
}
