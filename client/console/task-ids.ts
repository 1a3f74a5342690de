/**
 * @module
 * What a task id says about its task, read with the server's own id rules (src/saga/ids.ts):
 * only audit entries need this, because they carry no kind, target or (when old) saga id.
 */
import { isRoomId } from "../../src/protocol.ts";
import { isModerationId, originOfTaskId, taskIdFor } from "../../src/saga/ids.ts";
import type { TaskKind } from "../../src/saga/types.ts";
import { TASK_KINDS } from "./vocab.ts";

export interface TaskIdParts {
	/** The saga, or the operator moderation (`mod@…`), the task belongs to. */
	sagaId: string;
	kind: TaskKind;
	/** The target room. */
	room: string;
}

/** The parts of a task id, or undefined for anything that is not one. */
export function parseTaskId(taskId: string): TaskIdParts | undefined {
	const origin = originOfTaskId(taskId);
	if (origin === undefined) return undefined;
	// A room saga id is `<room>~<hex>`: room ids hold no `~` and the hex no `.`, so the first
	// `.` after the `~` ends it.
	const sagaId = origin.kind === "moderation" ? origin.id : taskId.slice(0, taskId.indexOf(".", taskId.indexOf("~")));
	for (const kind of TASK_KINDS) {
		// The server builds task ids with taskIdFor: match against the prefix it would build.
		const prefix = taskIdFor(sagaId, kind, "");
		const room = taskId.slice(prefix.length);
		if (taskId.startsWith(prefix) && isRoomId(room)) return { sagaId, kind, room };
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
