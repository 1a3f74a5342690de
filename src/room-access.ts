/**
 * @module
 * Who may use a room, for every room route and the room socket: the room id's syntax (400),
 * then access (403). An ordinary room is granted by the token's `rooms` claim; a DM room
 * (`dm.<40 hex>`) only to its two members, as the caller's own inbox knows them, whatever the
 * claim says (a member's restricted token still opens their DMs; anyone else's token, however
 * broad, does not).
 */
import { authorizeRoom, type Identity } from "./auth.ts";
import { ParleyError } from "./errors.ts";
import { isDmRoom } from "./inbox-protocol.ts";

/** Throws `bad_request` or `forbidden` in the contract's order. */
export async function authorizeRoomFor(env: Env, identity: Identity, room: string): Promise<void> {
	// A DM room id is a room id, so an ordinary room's check covers every malformed id.
	if (!isDmRoom(room)) {
		authorizeRoom(identity, room);
		return;
	}
	// Guests have no DMs: a guest name is anyone's to take.
	if (identity.guest || !(await env.INBOX.getByName(identity.id).isMember(room))) {
		throw new ParleyError("forbidden", `room ${room} is a direct message of two other users`);
	}
}
