/**
 * @module
 * The socket route, `GET /v1/rooms/{room}/ws`, as one plain function in front of the Hono app.
 * A socket's Worker request lives as long as the socket (the runtime proxies the socket
 * through it), so what the request keeps stays with every open socket: the same checks as
 * Hono middleware and route cost about 5 KB more per idle socket (measured, see
 * docs/performance.md). The checks and their order are the contract's, as on every route:
 * credentials (401), room id (400), access (403), then the query (400).
 */
import { FEATURES_HEADER, IDENTITY_HEADER, SINCE_HEADER } from "../objects/room.ts";
import { authenticate, authorizeRoom } from "./auth.ts";
import { configFor } from "./config.ts";
import { errorResponse, ParleyError } from "./errors.ts";
import { decodePathSegment, unwrap } from "./http.ts";
import { parseFeatures, parseSince } from "./protocol.ts";

const SOCKET_PATH = /^\/v1\/rooms\/([^/]*)\/ws$/;

/** The HTTP budget's window is a minute; a refused caller is told to wait a sixth of it. */
export const HTTP_LIMIT_RETRY_MS = 10_000;

/** The room segment of a socket route's path (still percent-encoded), or undefined for any other request. */
export function socketRoute(request: Request): string | undefined {
	if (request.method !== "GET") return undefined;
	return SOCKET_PATH.exec(new URL(request.url).pathname)?.[1];
}

/** The bearer token of an Authorization header; a malformed header is a bad credential, not an absent one. */
export function bearerToken(header: string | null | undefined): string | null {
	if (header === null || header === undefined) return null;
	return /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? "malformed";
}

export async function upgradeSocket(request: Request, env: Env, rawRoom: string): Promise<Response> {
	try {
		const config = configFor(env);
		const url = new URL(request.url);
		const access = config.authAccessHeader ? request.headers.get("Cf-Access-Jwt-Assertion") : null;
		const token = bearerToken(request.headers.get("Authorization")) ?? access ?? url.searchParams.get("token");
		const identity = await authenticate({ token, guest: url.searchParams.get("guest") }, config);
		if (config.rateLimitPerSec > 0 && !(await env.HTTP_LIMIT.limit({ key: identity.id })).success) {
			throw new ParleyError("rate_limited", "too many requests from this user; slow down", HTTP_LIMIT_RETRY_MS);
		}
		const room = decodePathSegment(rawRoom);
		authorizeRoom(identity, room);
		const since = unwrap(parseSince(url.searchParams.get("since")));
		if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
			throw new ParleyError("bad_request", "this route expects a WebSocket upgrade");
		}
		// A fresh request: nothing the client sent besides the upgrade reaches the room.
		const headers = new Headers({ Upgrade: "websocket", [IDENTITY_HEADER]: JSON.stringify(identity) });
		if (since !== undefined) headers.set(SINCE_HEADER, String(since));
		const features = parseFeatures(url.searchParams.get("features"));
		if (features.size > 0) headers.set(FEATURES_HEADER, [...features].join(","));
		return await env.ROOM.getByName(room).fetch(new Request(`https://room/${room}/ws`, { headers }));
	} catch (error) {
		if (error instanceof ParleyError) return errorResponse(error.toBody());
		console.error(JSON.stringify({ level: "error", msg: "unhandled", path: new URL(request.url).pathname, error: String(error) }));
		return errorResponse({ code: "internal", message: "internal error" });
	}
}
