/**
 * @module
 * Small helpers shared by the route modules: the app's context type, turning parse results
 * and room results into values or the one error type, and reading bounded JSON bodies.
 */
import type { Context } from "hono";
import type { Room } from "../objects/room.ts";
import { authorizeRoom, type Identity } from "./auth.ts";
import type { Config } from "./config.ts";
import { type ErrorBody, ParleyError } from "./errors.ts";
import { type Parsed, parseJsonObject } from "./protocol.ts";
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

export function unwrap<T>(parsed: Parsed<T>): T {
	if (!parsed.ok) throw new ParleyError(parsed.error.code, parsed.error.message, parsed.error.retryAfterMs);
	return parsed.value;
}

/** Turns a room's result value into its payload, or throws its refusal as the HTTP error. */
export function unwrapResult<R extends { ok: true } | { ok: false; error: ErrorBody }>(result: R): Omit<Extract<R, { ok: true }>, "ok"> {
	if (!result.ok) {
		const { error } = result as Extract<R, { ok: false }>;
		throw new ParleyError(error.code, error.message, error.retryAfterMs);
	}
	const { ok: _ok, ...value } = result as Extract<R, { ok: true }>;
	return value;
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

/** The room id from the path, checked for syntax and access once the caller is known. */
export function authorizedRoom(c: AppContext): string {
	const room = c.req.param("room") ?? "";
	authorizeRoom(c.get("identity"), room);
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
