/**
 * What a room knows about each socket. The identity lives in the WebSocket attachment, so it
 * survives hibernation (capped at 16 KiB; the `rooms` claim is the only unbounded part, and
 * tokens carry at most 128 entries of at most 65 chars, MAX_ROOM_CLAIMS). Limiter state and presence live in
 * memory and are rebuilt on wake. What a socket opted into (v1.2 features) is in its tags, so
 * a delivery finds its sockets by tag without reading any attachment.
 */
import type { Identity } from "../src/auth.ts";
import { type Feature, SLOW_CONSUMER_CLOSE, TOKEN_EXPIRED_CLOSE, type UserRef } from "../src/protocol.ts";
import type { AbuseWindow } from "../src/rate-limit.ts";

/** The attachment: written at connect, and once more when the server closes the socket. */
export interface SocketIdentity {
	user: UserRef;
	admin: boolean;
	rooms: string[] | null;
	/** The token's expiry (epoch seconds); frames after it close the socket with 4001. */
	exp?: number;
	/** Set when the server has closed the socket: frames still in flight are dropped. */
	closing?: true;
}

/** Per-socket abuse window, kept in memory (see Room.liveState for why that is enough). */
export interface LiveState {
	abuse: AbuseWindow;
}

export function socketIdentity(identity: Identity): SocketIdentity {
	const who: SocketIdentity = { user: { id: identity.id, name: identity.name }, admin: identity.admin, rooms: identity.rooms };
	if (identity.exp !== undefined) who.exp = identity.exp;
	return who;
}

export function identityOf(who: SocketIdentity): Identity {
	const identity: Identity = { ...who.user, admin: who.admin, rooms: who.rooms, guest: who.user.id.startsWith("guest:") };
	if (who.exp !== undefined) identity.exp = who.exp;
	return identity;
}

export function newLiveState(now: number): LiveState {
	return { abuse: { count: 0, since: now } };
}

export function readSocketIdentity(ws: WebSocket): SocketIdentity | undefined {
	const state: unknown = ws.deserializeAttachment();
	return typeof state === "object" && state !== null && "user" in state ? (state as SocketIdentity) : undefined;
}

/** The tag that finds every socket of one user in the room. */
export function userTag(userId: string): string {
	return `u:${userId}`;
}

/**
 * Every socket carries one feature tag saying what it asked for (one tag, not one per feature:
 * each tag is stored with every socket). A delivery finds its sockets by these tags.
 */
export const TAG = {
	/** v1 frames only. */
	v1: "f:-",
	batch: "f:b",
	presence: "f:p",
	both: "f:bp",
} as const;

export function featureTag(features: ReadonlySet<Feature>): string {
	const batch = features.has("batch");
	const presence = features.has("presence");
	return batch ? (presence ? TAG.both : TAG.batch) : presence ? TAG.presence : TAG.v1;
}

/** The feature tags of sockets that get room events one frame each, or batched. */
export const FRAME_TAGS = [TAG.v1, TAG.presence] as const;
export const BATCH_TAGS = [TAG.batch, TAG.both] as const;
/** The feature tags of sockets that get v1 presence frames, or the coalesced ones. */
export const PRESENCE1_TAGS = [TAG.v1, TAG.batch] as const;
export const PRESENCE2_TAGS = [TAG.presence, TAG.both] as const;

/** Close codes the room uses, named. */
export const CLOSE = {
	/** RFC 6455: policy violation (sustained abuse). */
	policy: 1008,
	/** RFC 6455: message too big. */
	tooBig: 1009,
	/** The token expired while the socket was open: reconnect with a fresh one. */
	tokenExpired: TOKEN_EXPIRED_CLOSE,
	/** More than MAX_BUFFERED_BYTES waited unsent: the peer stopped reading. */
	slow: SLOW_CONSUMER_CLOSE,
} as const;

/** Sends if the socket is still open; a socket may be closing while it is still listed. */
export function sendIfOpen(ws: WebSocket, frame: string): boolean {
	if (ws.readyState !== WebSocket.OPEN) return false;
	try {
		ws.send(frame);
		return true;
	} catch {
		// The peer went away between the check and the send; its close event follows.
		return false;
	}
}

export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
	try {
		ws.close(code, reason);
	} catch {
		// Already closed or closing.
	}
}
