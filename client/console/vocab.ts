/**
 * @module
 * The words the console shows and filters by. Task and saga states come from the server's state
 * machine; the other lists are checked against the server's types, so a new value there is a type
 * error here rather than a silently missing option.
 */
import { codePointLength, type SagaState, type TaskState } from "../../src/protocol.ts";
import type { AlertStatus } from "../../src/ops/types.ts";
import { MANUAL_ACTIONS } from "../../src/saga/policy.ts";
import { ALL_SAGA_STATES, ALL_TASK_STATES } from "../../src/saga/state-machine.ts";
import { ALL_TASK_KINDS, type ManualAction, type TaskKind } from "../../src/saga/types.ts";

/** The keys of a record that must name every member of `K` (the compiler checks it). */
function every<K extends string>(record: Record<K, true>): K[] {
	return Object.keys(record) as K[];
}

export const TASK_STATES: readonly TaskState[] = ALL_TASK_STATES;
export const SAGA_STATES: readonly SagaState[] = ALL_SAGA_STATES;
export const ALERT_STATUSES: readonly AlertStatus[] = every<AlertStatus>({ pending: true, sent: true, failed: true, unsent: true });
export const TASK_KINDS: readonly TaskKind[] = ALL_TASK_KINDS;
/** What an audit entry records: a manual action, the start of an operator moderation, or a room policy change. */
export const AUDIT_ACTIONS: readonly string[] = [...MANUAL_ACTIONS, "moderate", "policy"];
/** The states `GET /v1/admin/moderations?state=` accepts (the index keeps `done` as a finished saga). */
export const MODERATION_STATES: readonly string[] = ["running", "done"];

/** Every state with a colour of its own; anything else is drawn as `unknown`. */
const COLOURED = new Set<string>([...TASK_STATES, ...SAGA_STATES, ...ALERT_STATUSES, ...MODERATION_STATES, "attention", "unknown"]);

/** A state's CSS class suffix; unknown states get a neutral colour. */
export function stateClass(state: string | null | undefined): string {
	return state !== null && state !== undefined && COLOURED.has(state) ? state : "unknown";
}

/** The CSS class of a task kind (an unknown kind looks like a delivery). */
export function kindClass(kind: string): string {
	return `kind kind-${TASK_KINDS.some((known) => known === kind) ? kind : "deliver"}`;
}

export const ACTION_LABEL: Record<ManualAction, string> = { retry: "Retry", skip: "Skip", cancel: "Cancel" };
/** The dialog's confirm button names the action and its object, so "Cancel task" is never mistaken for dismissing the dialog. */
export const ACTION_CONFIRM: Record<ManualAction, string> = { retry: "Retry task", skip: "Skip task", cancel: "Cancel task" };
export const ACTION_HELP: Record<ManualAction, string> = {
	retry: "Puts the task back to pending so the outbox runs it again.",
	skip: "Marks the task skipped: the saga treats it as done without running it.",
	cancel: "Marks the task cancelled: it will not run again.",
};

/** An operator's reason, in code points, as the server's admin routes bound it. */
export const REASON_MAX = 500;

/** Why an operator's reason would be refused, or undefined when it is fine. */
export function reasonRefusal(reason: string): string | undefined {
	const n = codePointLength(reason.trim());
	if (n < 1) return "A reason is required: say why, for the audit log.";
	if (n > REASON_MAX) return `The reason is ${n} characters; the limit is ${REASON_MAX}.`;
	return undefined;
}
