/**
 * @module
 * Saga and task ids name their origin, so any id leads straight to its source of truth:
 * `<room>~<random>` for sagas (their origin room), `cmp@<random>` for operator compensations
 * (their own object), and `<sagaId>.<d|r|m>.<target room>` for tasks.
 */
import { isRoomId } from "../protocol.ts";
import { randomId } from "../trace.ts";

export function newSagaId(originRoom: string): string {
	return `${originRoom}~${randomId(6)}`;
}

const KIND_LETTER = { deliver: "d", retract: "r", moderate: "m" } as const;

export function taskIdFor(sagaId: string, kind: keyof typeof KIND_LETTER, room: string): string {
	return `${sagaId}.${KIND_LETTER[kind]}.${room}`;
}

export function newCompensationId(): string {
	return `cmp@${randomId(6)}`;
}

export function isCompensationId(id: string): boolean {
	return /^cmp@[0-9a-f]{12}$/.test(id);
}

/** Where a task's source of truth lives: a room, or an operator compensation object. */
export type TaskOrigin = { kind: "room"; room: string } | { kind: "compensation"; id: string };

export function originOf(originName: string): TaskOrigin {
	return isCompensationId(originName) ? { kind: "compensation", id: originName } : { kind: "room", room: originName };
}

/** The origin room of a saga id, or undefined for anything that is not one. */
export function originOfSagaId(sagaId: string): string | undefined {
	const match = /^([^~]+)~[0-9a-f]{12}$/.exec(sagaId);
	const room = match?.[1];
	return room !== undefined && isRoomId(room) ? room : undefined;
}

/** The origin of a task id, or undefined for anything that is not one. */
export function originOfTaskId(taskId: string): TaskOrigin | undefined {
	const compensation = /^(cmp@[0-9a-f]{12})\.m\.(.+)$/.exec(taskId);
	if (compensation?.[1] !== undefined && compensation[2] !== undefined && isRoomId(compensation[2])) {
		return { kind: "compensation", id: compensation[1] };
	}
	const match = /^([^~]+~[0-9a-f]{12})\.[dr]\.(.+)$/.exec(taskId);
	if (match?.[1] === undefined || match[2] === undefined || !isRoomId(match[2])) return undefined;
	const room = originOfSagaId(match[1]);
	return room === undefined ? undefined : { kind: "room", room };
}
