/**
 * @module
 * What a task id says about its task, read with the server's own id rules (src/saga/ids.ts):
 * only audit entries need this, because they carry no kind, target or (when old) saga id.
 */
import { isModerationId, isTaskTarget, originOfTaskId, roomTaskParts, taskIdFor } from "../../src/saga/ids.ts";
import type { TaskKind } from "../../src/saga/types.ts";
import { TASK_KINDS } from "./vocab.ts";

export interface TaskIdParts {
	/** The saga, or the operator moderation (`mod@…`), the task belongs to. */
	sagaId: string;
	kind: TaskKind;
	/** The target room, or `@<user>` for an inbox task (v1.4). */
	room: string;
	/** An edit's task (v1.3): the seq of the original's edit it carries to the copy; a mention's or unmention's (v1.4): its change's seq. */
	editSeq?: number;
}

/** The parts of a task id, or undefined for anything that is not one. */
export function parseTaskId(taskId: string): TaskIdParts | undefined {
	// The server's own check first: the origin, the kind part's shape, the target.
	const origin = originOfTaskId(taskId);
	if (origin === undefined) return undefined;
	const parts = origin.kind === "room" ? roomTaskParts(taskId) : undefined;
	const sagaId = origin.kind === "moderation" ? origin.id : parts?.sagaId;
	if (sagaId === undefined) return undefined;
	// Then the kind part, between the saga id and the next `.`: a letter, and a seq after `e`, `n`, `u`.
	const kindEnd = taskId.indexOf(".", sagaId.length + 1);
	if (kindEnd < 0) return undefined;
	const room = taskId.slice(kindEnd + 1);
	if (!isTaskTarget(room)) return undefined;
	const seqText = taskId.slice(sagaId.length + 2, kindEnd);
	const editSeq = /^[1-9][0-9]*$/.test(seqText) ? Number(seqText) : undefined;
	for (const kind of TASK_KINDS) {
		// The server builds task ids with taskIdFor: match against the id it would build.
		if (editSeq !== undefined && taskIdFor(sagaId, kind, room, editSeq) === taskId) return { sagaId, kind, room, editSeq };
		if (editSeq === undefined && taskIdFor(sagaId, kind, room) === taskId) return { sagaId, kind, room };
	}
	return undefined;
}

/**
 * The saga or moderation to open for a record: its own `sagaId` when it has one, else the one
 * its task id names. An audit entry of a moderation's start names the moderation itself.
 */
export function ownerId(sagaId: string | undefined, taskId: string | undefined): string | undefined {
	if (sagaId !== undefined && sagaId !== "") return sagaId;
	if (taskId === undefined) return undefined;
	return isModerationId(taskId) ? taskId : parseTaskId(taskId)?.sagaId;
}
