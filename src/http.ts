/**
 * @module
 * Small helpers shared by the route modules: the app's context type, turning parse results
 * and room results into values or the one error type, and reading bounded JSON bodies.
 */
import type { Context } from "hono";
import type { Room } from "../objects/room.ts";
import { authorizeRoom, type Identity } from "./auth.ts";
import type { Config } from "./config.ts";
import { type ErrorBody, ParleyError, type Result } from "./errors.ts";
import { parseJsonObject } from "./protocol.ts";
import { authorizeRoomFor } from "./room-access.ts";
import type { TraceContext } from "./trace.ts";

export type AppEnv = { Bindings: Env; Variables: { identity: Identity; config: Config; trace: TraceContext } };
export type AppContext = Context<AppEnv>;

/**
 * Request bodies larger than this are refused before they are parsed; never smaller than the
 * socket's frame limit, so HTTP and the socket accept exactly the same messages.
 */
export const MAX_BODY_BYTES = 64 * 1024;

function bodyLimit(c: AppContext): number {
	return Math.max(MAX_BODY_BYTES, c.get("config").maxFrameBytes);
}

/** A result's value, or its refusal thrown as the contract's HTTP error. */
export function unwrap<T>(result: Result<T, ErrorBody>): T {
	if (!result.ok) throw new ParleyError(result.error.code, result.error.message, result.error.retryAfterMs);
	return result.value;
}

export async function readJsonBody(c: AppContext): Promise<Record<string, unknown>> {
	const limit = bodyLimit(c);
	const declared = Number(c.req.header("Content-Length") ?? "0");
	if (declared > limit) throw new ParleyError("too_large", `request bodies are limited to ${limit} bytes`);
	const text = await c.req.text();
	if (text.length > limit) throw new ParleyError("too_large", `request bodies are limited to ${limit} bytes`);
	return unwrap(parseJsonObject(text));
}

export function roomStub(c: AppContext, room: string): DurableObjectStub<Room> {
	return c.env.ROOM.getByName(room);
}

/**
 * The room id from the path, checked for syntax and the token's `rooms` claim only: for the
 * admin routes, which keep their own rules. Room routes use memberRoom.
 */
export function authorizedRoom(c: AppContext): string {
	const room = c.req.param("room") ?? "";
	authorizeRoom(c.get("identity"), room);
	return room;
}

/** The room id from the path, checked for syntax and access (DM membership included, src/room-access.ts). */
export async function memberRoom(c: AppContext): Promise<string> {
	const room = c.req.param("room") ?? "";
	await authorizeRoomFor(c.env, c.get("identity"), room);
	return room;
}

/** A percent-encoded path segment, decoded; a malformed escape is the caller's mistake (400), not ours. */
export function decodePathSegment(raw: string): string {
	try {
		return decodeURIComponent(raw);
	} catch {
		throw new ParleyError("bad_request", "the path has a malformed percent escape");
	}
}
