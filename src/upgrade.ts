/**
 * @module
 * The socket routes, `GET /v1/rooms/{room}/ws` and (v1.4) the inbox's `GET /v1/me/ws`, as plain
 * functions in front of the Hono app.
 * A socket's Worker request lives as long as the socket (the runtime proxies the socket
 * through it), so what the request keeps stays with every open socket: the same checks as
 * Hono middleware and route cost about 5 KB more per idle socket (measured, see
 * docs/performance.md). The checks and their order are the contract's, as on every route:
 * credentials (401), room id (400), access (403), then the query (400).
 */
import { FEATURES_HEADER, IDENTITY_HEADER, SINCE_HEADER } from "../objects/room.ts";
import { ACCESS_HEADER } from "./access.ts";
import type { Identity } from "./auth.ts";
import { authorizeRoomFor } from "./room-access.ts";
import { configFor } from "./config.ts";
import { identify, spendHttpBudget } from "./credentials.ts";
import { errorResponse, ParleyError } from "./errors.ts";
import { decodePathSegment, unwrap } from "./http.ts";
import { parseFeatures, parseSince } from "./protocol.ts";
import { ingressContext, type TraceContext, traceResponseHeaders } from "./trace.ts";

const SOCKET_PATH = /^\/v1\/rooms\/([^/]*)\/ws$/;
const INBOX_SOCKET_PATH = "/v1/me/ws";

/** Which socket route a request is: a room's (its segment still percent-encoded), the inbox's, or undefined for any other request. */
export type SocketRoute = { kind: "room"; rawRoom: string } | { kind: "inbox" };

export function socketRoute(request: Request): SocketRoute | undefined {
	if (request.method !== "GET") return undefined;
	const path = new URL(request.url).pathname;
	if (path === INBOX_SOCKET_PATH) return { kind: "inbox" };
	const rawRoom = SOCKET_PATH.exec(path)?.[1];
	return rawRoom === undefined ? undefined : { kind: "room", rawRoom };
}

/** Serves a socket route: a room's, or the caller's own inbox's. */
export async function upgradeRoute(request: Request, env: Env, route: SocketRoute): Promise<Response> {
	return route.kind === "room" ? await upgradeSocket(request, env, route.rawRoom) : await upgradeInboxSocket(request, env);
}

/**
 * Serves an upgrade as the app serves every /v1 call (src/app.ts): the request gets its own
 * trace (named on a refusal; a 101 comes from the room as it is), the credentials are read by
 * the same `identify` (bearer, Cloudflare Access sign-in, the Access header as a token,
 * `?token=`, a guest name), and the upgrade spends from the user's HTTP budget.
 */
export async function upgradeSocket(request: Request, env: Env, rawRoom: string): Promise<Response> {
	const trace = ingressContext(request.headers.get("traceparent"), request.headers.get("tracestate"));
	try {
		const url = new URL(request.url);
		const identity = await socketIdentity(request, env, url);
		const room = decodePathSegment(rawRoom);
		await authorizeRoomFor(env, identity, room);
		const since = unwrap(parseSince(url.searchParams.get("since")));
		if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
			throw new ParleyError("bad_request", "this route expects a WebSocket upgrade");
		}
		// A fresh request: nothing the client sent besides the upgrade reaches the room.
		const headers = new Headers({ Upgrade: "websocket", [IDENTITY_HEADER]: JSON.stringify(identity) });
		if (since !== undefined) headers.set(SINCE_HEADER, String(since));
		const features = parseFeatures(url.searchParams.get("features"));
		if (features.size > 0) headers.set(FEATURES_HEADER, [...features].join(","));
		const response = await env.ROOM.getByName(room).fetch(new Request(`https://room/${room}/ws`, { headers }));
		// The room's own refusals (429 before accepting) name the trace too.
		return response.status === 101 ? response : traced(new Response(response.body, response), trace);
	} catch (error) {
		if (error instanceof ParleyError) return traced(errorResponse(error.toBody()), trace);
		console.error(JSON.stringify({ level: "error", msg: "unhandled", path: new URL(request.url).pathname, error: String(error) }));
		return traced(errorResponse({ code: "internal", message: "internal error" }), trace);
	}
}

/**
 * v1.4: `GET /v1/me/ws?since=`, the caller's inbox socket (objects/inbox.ts), checked as a room
 * socket is: credentials (401), then the query (400).
 */
export async function upgradeInboxSocket(request: Request, env: Env): Promise<Response> {
	const trace = ingressContext(request.headers.get("traceparent"), request.headers.get("tracestate"));
	try {
		const url = new URL(request.url);
		const identity = await socketIdentity(request, env, url);
		const since = unwrap(parseSince(url.searchParams.get("since")));
		if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
			throw new ParleyError("bad_request", "this route expects a WebSocket upgrade");
		}
		const headers = new Headers({ Upgrade: "websocket", [IDENTITY_HEADER]: JSON.stringify(identity) });
		if (since !== undefined) headers.set(SINCE_HEADER, String(since));
		const response = await env.INBOX.getByName(identity.id).fetch(new Request("https://inbox/ws", { headers }));
		return response.status === 101 ? response : traced(new Response(response.body, response), trace);
	} catch (error) {
		if (error instanceof ParleyError) return traced(errorResponse(error.toBody()), trace);
		console.error(JSON.stringify({ level: "error", msg: "unhandled", path: new URL(request.url).pathname, error: String(error) }));
		return traced(errorResponse({ code: "internal", message: "internal error" }), trace);
	}
}

/** The caller of a socket route, identified as every /v1 call is, and charged to their HTTP budget. */
async function socketIdentity(request: Request, env: Env, url: URL): Promise<Identity> {
	const config = configFor(env);
	const identity = await identify(
		{
			authorization: request.headers.get("Authorization"),
			assertion: request.headers.get(ACCESS_HEADER),
			queryToken: url.searchParams.get("token"),
			guest: url.searchParams.get("guest"),
		},
		config,
	);
	await spendHttpBudget(env, config, identity);
	return identity;
}

function traced(response: Response, trace: TraceContext): Response {
	for (const [name, value] of traceResponseHeaders(trace)) response.headers.set(name, value);
	return response;
}
