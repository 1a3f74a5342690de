/**
 * Per-socket state kept in the WebSocket attachment, so it survives hibernation (the
 * attachment is capped at 16 KiB; the `rooms` claim is the only unbounded part, and the
 * Worker caps it at 256 entries of at most 65 chars).
 */
import type { Identity } from "../src/auth.ts";
import { type AbuseWindow, type Bucket, fullBucket } from "../src/rate-limit.ts";

export interface SocketState {
	user: { id: string; name: string };
	admin: boolean;
	rooms: string[] | null;
	bucket: Bucket;
	abuse: AbuseWindow;
	/** Set when the server has closed the socket: frames still in flight are dropped. */
	closing?: true;
}

export function newSocketState(identity: Identity, ratePerSec: number, now: number): SocketState {
	return {
		user: { id: identity.id, name: identity.name },
		admin: identity.admin,
		rooms: identity.rooms,
		bucket: fullBucket(ratePerSec, now),
		abuse: { count: 0, since: now },
	};
}

export function readSocketState(ws: WebSocket): SocketState | undefined {
	const state: unknown = ws.deserializeAttachment();
	return typeof state === "object" && state !== null && "user" in state ? (state as SocketState) : undefined;
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
