/**
 * @module
 * What an admin may reach. A token's `rooms` claim bounds an admin as it bounds anyone: a
 * global admin has no claim; a scoped admin reaches a record only when the record names at
 * least one room and every room it names is in the claim (checked with `canAccessRoom`, the
 * same rule the room routes use). Callers pass rooms only: a moderation's id names no room,
 * so a record gives its origin's rooms (`originRooms`). A user's inbox (`@<user>`, the target of
 * a v1.4 inbox task) is not a room and bounds nothing: such a task is its origin room's. See
 * docs/operations.md for the rule per route.
 */
import { canAccessRoom, type Identity } from "../auth.ts";
import { inboxUserOf } from "../inbox-protocol.ts";
import { isRoomId } from "../protocol.ts";
import { parseModerationTaskId, roomTaskParts } from "../saga/ids.ts";

/** An admin's rooms claim; `null` for a global admin. */
export type Scope = string[] | null;

/** Whether the scope reaches a record naming these rooms (see the module comment). */
export function withinScope(scope: Scope, rooms: Iterable<string>): boolean {
	if (scope === null) return true;
	const who: Identity = { id: "", name: "", admin: true, rooms: scope, guest: false };
	let named = 0;
	for (const room of rooms) {
		if (inboxUserOf(room) !== undefined) continue;
		if (!canAccessRoom(who, room)) return false;
		named++;
	}
	return named > 0;
}

/** The rooms in this list the scope reaches. */
export function roomsInScope(scope: Scope, rooms: readonly string[]): string[] {
	return scope === null ? [...rooms] : rooms.filter((room) => withinScope(scope, [room]));
}

/**
 * The rooms a task id names: for a cross-post's task its origin room and its target room, for
 * an operator moderation's task its room. Undefined for anything that is not a task id.
 */
export function taskRooms(taskId: string): string[] | undefined {
	const moderation = parseModerationTaskId(taskId);
	if (moderation !== undefined) return [moderation.room];
	const parts = roomTaskParts(taskId);
	if (parts === undefined) return undefined;
	// An inbox task (v1.4) names one room, its origin: its target is a user's inbox.
	return isRoomId(parts.target) ? [parts.origin, parts.target] : [parts.origin];
}
