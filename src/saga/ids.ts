/**
 * @module
 * Saga and task ids name their origin, so any id leads straight to its source of truth:
 * `<room>~<random>` for sagas (their origin room), `mod@<random>` for operator moderations
 * (their own object), and `<sagaId>.<d|r|m>.<target room>` for tasks; an edit's task (v1.3) is
 * `<sagaId>.e<edit seq>.<target room>`, one per edit of the original and target. Moderations made before
 * the rename have `cmp@<random>` ids; those still parse everywhere, and name the same object.
 *
 * v1.4: a message's inbox work (its mentions) is a run of its own, `<room>~n<seq>` with the
 * message's seq in 15 digits (so runs sort by seq as text), whose tasks target inboxes:
 * `<runId>.n<change seq>.@<user>` (mention), `.u<change seq>.@<user>` (unmention).
 */
import { inboxUserOf } from "../inbox-protocol.ts";
import { isRoomId } from "../protocol.ts";
import { randomId } from "../trace.ts";
import type { TaskOrigin } from "./types.ts";

export type { TaskOrigin };

export function newSagaId(originRoom: string): string {
	return `${originRoom}~${randomId(6)}`;
}

const KIND_LETTER = { deliver: "d", retract: "r", moderate: "m", edit: "e", mention: "n", unmention: "u" } as const;

/** Kinds with one task per change and target: their ids carry the change's seq. */
const VERSIONED: ReadonlySet<string> = new Set(["edit", "mention", "unmention"]);

/**
 * A task's id. An edit's (v1.3) names its edit too, one task per edit and target room:
 * `editSeq` is the seq of the original's edit (without it, the id's prefix is `<sagaId>.e`).
 * A mention's or unmention's (v1.4) names the seq of the change it carries the same way.
 */
export function taskIdFor(sagaId: string, kind: keyof typeof KIND_LETTER, room: string, editSeq?: number): string {
	return `${sagaId}.${KIND_LETTER[kind]}${VERSIONED.has(kind) ? (editSeq ?? "") : ""}.${room}`;
}

/** The kind part of a room's task id, as a regular expression: d, r, or e, n, u and a seq. */
export const CROSSPOST_TASK_KIND = "(?:[dr]|[enu][1-9][0-9]{0,14})";

/** A room's saga id (a cross-post's, or a message's inbox run), as a regular expression. */
export const ROOM_SAGA_ID = "[^~]+~(?:[0-9a-f]{12}|n[0-9]{15})";

/** The inbox run of a message: its inbox tasks' saga id (see the module's comment). */
export function inboxRunId(room: string, seq: number): string {
	return `${room}~n${String(seq).padStart(15, "0")}`;
}

/** Whether a saga id is a message's inbox run (v1.4), not a cross-post. */
export function isInboxRun(sagaId: string): boolean {
	return /~n[0-9]{15}$/.test(sagaId);
}

/** What a task may target: a room, or a user's inbox (`@<user id>`). */
export function isTaskTarget(target: string): boolean {
	const user = inboxUserOf(target);
	return user === undefined ? isRoomId(target) : user.length > 0;
}

export function newModerationId(): string {
	return `mod@${randomId(6)}`;
}

/** A moderation id: `mod@` and 12 hex digits, or `cmp@…` from before the rename. */
const MODERATION_ID = "(?:mod|cmp)@[0-9a-f]{12}";

export function isModerationId(id: string): boolean {
	return new RegExp(`^${MODERATION_ID}$`).test(id);
}

/** The origin an object's name stands for: a moderation's id, or else a room. */
export function originOf(originName: string): TaskOrigin {
	return isModerationId(originName) ? { kind: "moderation", id: originName } : { kind: "room", id: originName };
}

/**
 * The origin of a record that may predate `origin`: builds before moderations had an origin of
 * their own sent only `originRoom`, which held a room or a moderation's `cmp@…` id. Used for
 * queue messages still in flight and index feeds still queued across the upgrade.
 */
export function originOfRecord(record: { origin?: TaskOrigin; originRoom?: string }): TaskOrigin {
	return record.origin ?? originOf(record.originRoom ?? "");
}

/** The rooms an origin names: its room, or none for a moderation. */
export function originRooms(origin: TaskOrigin): string[] {
	return origin.kind === "room" ? [origin.id] : [];
}

/** The origin room of a saga id, or undefined for anything that is not one. */
export function originOfSagaId(sagaId: string): string | undefined {
	const match = /^([^~]+)~(?:[0-9a-f]{12}|n[0-9]{15})$/.exec(sagaId);
	const room = match?.[1];
	return room !== undefined && isRoomId(room) ? room : undefined;
}

/** A moderation's task id: the moderation and the room, or undefined for anything else. */
export function parseModerationTaskId(taskId: string): { id: string; room: string } | undefined {
	const match = new RegExp(`^(${MODERATION_ID})\\.m\\.(.+)$`).exec(taskId);
	const [, id, room] = match ?? [];
	return id !== undefined && room !== undefined && isRoomId(room) ? { id, room } : undefined;
}

/** The origin of a task id, or undefined for anything that is not one. */
export function originOfTaskId(taskId: string): TaskOrigin | undefined {
	const moderation = parseModerationTaskId(taskId);
	if (moderation !== undefined) return { kind: "moderation", id: moderation.id };
	const parts = roomTaskParts(taskId);
	return parts === undefined ? undefined : { kind: "room", id: parts.origin };
}

/** A room's task id in parts: its saga, its origin room, and its target (a room or `@<user>`). */
export function roomTaskParts(taskId: string): { sagaId: string; origin: string; target: string } | undefined {
	const match = new RegExp(`^(${ROOM_SAGA_ID})\\.${CROSSPOST_TASK_KIND}\\.(.+)$`).exec(taskId);
	const [, sagaId, target] = match ?? [];
	if (sagaId === undefined || target === undefined || !isTaskTarget(target)) return undefined;
	const origin = originOfSagaId(sagaId);
	return origin === undefined ? undefined : { sagaId, origin, target };
}
