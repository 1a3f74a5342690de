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
import { ACCESS_HEADER } from "./access.ts";
import { authorizeRoom } from "./auth.ts";
import { configFor } from "./config.ts";
import { identify, spendHttpBudget } from "./credentials.ts";
import { errorResponse, ParleyError } from "./errors.ts";
import { decodePathSegment, unwrap } from "./http.ts";
import { parseFeatures, parseSince } from "./protocol.ts";
import { ingressContext, type TraceContext, traceResponseHeaders } from "./trace.ts";

const SOCKET_PATH = /^\/v1\/rooms\/([^/]*)\/ws$/;

/** The room segment of a socket route's path (still percent-encoded), or undefined for any other request. */
export function socketRoute(request: Request): string | undefined {
	if (request.method !== "GET") return undefined;
	return SOCKET_PATH.exec(new URL(request.url).pathname)?.[1];
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
		const config = configFor(env);
		const url = new URL(request.url);
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
		const response = await env.ROOM.getByName(room).fetch(new Request(`https://room/${room}/ws`, { headers }));
		// The room's own refusals (429 before accepting) name the trace too.
		return response.status === 101 ? response : traced(new Response(response.body, response), trace);
	} catch (error) {
		if (error instanceof ParleyError) return traced(errorResponse(error.toBody()), trace);
		console.error(JSON.stringify({ level: "error", msg: "unhandled", path: new URL(request.url).pathname, error: String(error) }));
		return traced(errorResponse({ code: "internal", message: "internal error" }), trace);
	}
}

function traced(response: Response, trace: TraceContext): Response {
	for (const [name, value] of traceResponseHeaders(trace)) response.headers.set(name, value);
	return response;
}
