/**
 * @module
 * Saga and task ids name their origin room, so any id leads straight to the room that is
 * its source of truth: `<room>~<random>` for sagas, `<sagaId>.<d|r>.<target room>` for tasks.
 */
import { isRoomId } from "../protocol.ts";
import { randomId } from "../trace.ts";

export function newSagaId(originRoom: string): string {
	return `${originRoom}~${randomId(6)}`;
}

export function taskIdFor(sagaId: string, kind: "deliver" | "retract", room: string): string {
	return `${sagaId}.${kind === "deliver" ? "d" : "r"}.${room}`;
}

/** The origin room of a saga id, or undefined for anything that is not one. */
export function originOfSagaId(sagaId: string): string | undefined {
	const match = /^([^~]+)~[0-9a-f]{12}$/.exec(sagaId);
	const room = match?.[1];
	return room !== undefined && isRoomId(room) ? room : undefined;
}

/** The origin room of a task id, or undefined for anything that is not one. */
export function originOfTaskId(taskId: string): string | undefined {
	const match = /^([^~]+~[0-9a-f]{12})\.[dr]\.(.+)$/.exec(taskId);
	if (match?.[1] === undefined || match[2] === undefined || !isRoomId(match[2])) return undefined;
	return originOfSagaId(match[1]);
}
