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

/** Where an upgrade goes once its caller is known and allowed in: a room's or an inbox's object. */
interface UpgradeTarget {
	object: { fetch(request: Request): Promise<Response> };
	url: string;
	/** Headers of the route's own, besides the identity and `since` every socket gets. */
	headers?: Record<string, string>;
}

/**
 * Serves an upgrade as the app serves every /v1 call (src/app.ts): the request gets its own
 * trace (named on a refusal; a 101 comes from the object as it is), the credentials are read by
 * the same `identify` (bearer, Cloudflare Access sign-in, the Access header as a token,
 * `?token=`, a guest name), and the upgrade spends from the user's HTTP budget. `target` checks
 * the route's own access (after the credentials, before the query: 401, 400/403, then 400).
 */
async function serveUpgrade(
	request: Request,
	env: Env,
	target: (identity: Identity, url: URL) => Promise<UpgradeTarget>,
): Promise<Response> {
	const trace = ingressContext(request.headers.get("traceparent"), request.headers.get("tracestate"));
	try {
		const url = new URL(request.url);
		const identity = await socketIdentity(request, env, url);
		const to = await target(identity, url);
		const since = unwrap(parseSince(url.searchParams.get("since")));
		if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
			throw new ParleyError("bad_request", "this route expects a WebSocket upgrade");
		}
		// A fresh request: nothing the client sent besides the upgrade reaches the object.
		const headers = new Headers({ ...to.headers, Upgrade: "websocket", [IDENTITY_HEADER]: JSON.stringify(identity) });
		if (since !== undefined) headers.set(SINCE_HEADER, String(since));
		const response = await to.object.fetch(new Request(to.url, { headers }));
		// The object's own refusals (429 before accepting) name the trace too.
		return response.status === 101 ? response : traced(new Response(response.body, response), trace);
	} catch (error) {
		if (error instanceof ParleyError) return traced(errorResponse(error.toBody()), trace);
		console.error(JSON.stringify({ level: "error", msg: "unhandled", path: new URL(request.url).pathname, error: String(error) }));
		return traced(errorResponse({ code: "internal", message: "internal error" }), trace);
	}
}

/** `GET /v1/rooms/{room}/ws`: the room's id and access (DM membership included) checked first. */
export async function upgradeSocket(request: Request, env: Env, rawRoom: string): Promise<Response> {
	return await serveUpgrade(request, env, async (identity, url) => {
		const room = decodePathSegment(rawRoom);
		await authorizeRoomFor(env, identity, room);
		const features = parseFeatures(url.searchParams.get("features"));
		const target: UpgradeTarget = { object: env.ROOM.getByName(room), url: `https://room/${room}/ws` };
		if (features.size > 0) target.headers = { [FEATURES_HEADER]: [...features].join(",") };
		return target;
	});
}

/** v1.4: `GET /v1/me/ws?since=`, the caller's own inbox socket (objects/inbox.ts). */
export async function upgradeInboxSocket(request: Request, env: Env): Promise<Response> {
	return await serveUpgrade(request, env, async (identity) => ({
		object: env.INBOX.getByName(identity.id),
		url: "https://inbox/ws",
	}));
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
