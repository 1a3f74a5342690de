/**
 * What a room knows about each socket. The identity lives in the WebSocket attachment, so it
 * survives hibernation (capped at 16 KiB; the `rooms` claim is the only unbounded part, and
 * tokens carry at most 128 entries of at most 65 chars, MAX_ROOM_CLAIMS). Limiter state and presence live in
 * memory and are rebuilt on wake.
 */
import type { Identity } from "../src/auth.ts";
import { TOKEN_EXPIRED_CLOSE, type UserRef } from "../src/protocol.ts";
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

/**
 * Who is online. Built once per incarnation from the open sockets, then kept up to date as
 * sockets join and leave, so a join costs O(users) for its `welcome`, not a deserialization
 * of every socket's attachment.
 */
export class Presence {
	private users: Map<string, UserRef> | undefined;

	private readonly scan: () => UserRef[];

	constructor(scan: () => UserRef[]) {
		this.scan = scan;
	}

	private map(): Map<string, UserRef> {
		if (this.users === undefined) this.users = new Map(this.scan().map((user) => [user.id, user]));
		return this.users;
	}

	joined(user: UserRef): void {
		this.map().set(user.id, user);
	}

	/** Records that one of the user's sockets left; true when it was their last one. */
	left(userId: string, remainingSockets: number): boolean {
		if (remainingSockets > 0) return false;
		this.map().delete(userId);
		return true;
	}

	online(): UserRef[] {
		return [...this.map().values()];
	}
}

/** The tag that finds every socket of one user in the room. */
export function userTag(userId: string): string {
	return `u:${userId}`;
}

/** Close codes the room uses, named. */
export const CLOSE = {
	/** RFC 6455: policy violation (sustained abuse). */
	policy: 1008,
	/** RFC 6455: message too big. */
	tooBig: 1009,
	/** The token expired while the socket was open: reconnect with a fresh one. */
	tokenExpired: TOKEN_EXPIRED_CLOSE,
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
