/**
 * @module
 * The HTTP surface: Hono routes that authenticate, check the room id and access in the
 * contract's order (401, 400, 403, then the body), and hand the call to the room.
 * Socket upgrades are forwarded to the room's `fetch`, which accepts them as hibernatable
 * sockets (Hono's own `upgradeWebSocket` would not).
 */
import { Hono } from "hono";
import { IDENTITY_HEADER, SINCE_HEADER } from "../objects/room.ts";
import { linkTraceParent, registerAdminRoutes } from "./admin.ts";
import { authenticate, authorizeRoom, type Identity } from "./auth.ts";
import { configFor } from "./config.ts";
import { errorResponse, ParleyError } from "./errors.ts";
import { type AppContext, type AppEnv, authorizedRoom, decodePathSegment, readJsonBody, roomStub, unwrap } from "./http.ts";
import { parseEventsQuery, parseSendInput, parseSince } from "./protocol.ts";
import { ACCESS_HEADER, accessConfigured, authenticateAccess } from "./access.ts";
import { registerOpsRoutes, serveMetricsWithToken } from "./ops-routes.ts";
import { ingressContext, traceparentOf } from "./trace.ts";

export type { AppEnv } from "./http.ts";

/** The HTTP budget's window is a minute; a refused caller is told to wait a sixth of it. */
const HTTP_LIMIT_RETRY_MS = 10_000;

function bearer(c: AppContext): string | null {
	const header = c.req.header("Authorization");
	if (header === undefined) return null;
	const match = /^Bearer\s+(\S+)$/i.exec(header);
	// A malformed Authorization header is a bad credential, not an absent one.
	return match?.[1] ?? "malformed";
}

export function createApp(): Hono<AppEnv> {
	const app = new Hono<AppEnv>();

	app.onError((error, c) => {
		if (error instanceof ParleyError) return errorResponse(error.toBody());
		console.error(JSON.stringify({ level: "error", msg: "unhandled", path: c.req.path, error: String(error) }));
		return errorResponse({ code: "internal", message: "internal error" });
	});
	app.notFound(() => errorResponse({ code: "not_found", message: "no such route" }));

	app.get("/health", (c) => c.json({ ok: true }));

	// W3C trace context: every API call gets the server's own trace (see src/trace.ts) and says
	// so on its response, with the caller's `tracestate` passed back untouched.
	app.use("/v1/*", async (c, next) => {
		const trace = ingressContext(c.req.header("traceparent"), c.req.header("tracestate"));
		c.set("trace", trace);
		await next();
		// A socket upgrade's 101 comes from the room as it is.
		if (c.res.status === 101) return;
		const headers: Array<[string, string]> = [["traceparent", traceparentOf(trace)]];
		if (trace.tracestate !== undefined) headers.push(["tracestate", trace.tracestate]);
		try {
			for (const [name, value] of headers) c.res.headers.set(name, value);
		} catch {
			// Headers of a response from a subrequest are immutable: copy it once.
			c.res = new Response(c.res.body, c.res);
			for (const [name, value] of headers) c.res.headers.set(name, value);
		}
	});

	// Whether the console may sign in through Cloudflare Access: public (it names no secret),
	// so the sign-in page asks before calling an admin route it would only be refused.
	app.get("/v1/console/access", (c) => c.json({ access: accessConfigured(configFor(c.env)) }));

	// A scraper with METRICS_TOKEN reads the metrics and nothing else; anyone else goes on to
	// the admin checks below.
	app.get("/v1/admin/metrics", serveMetricsWithToken);

	// Fault injection exists only where FAULTS is "on": elsewhere it is a 404 whoever asks.
	app.all("/v1/admin/faults", async (c, next) => {
		if (!configFor(c.env).faults) return errorResponse({ code: "not_found", message: "no such route" });
		await next();
	});

	// Every /v1 route needs credentials: a bearer token (or ?token= on the socket) or a guest name.
	app.use("/v1/*", async (c, next) => {
		const config = configFor(c.env);
		c.set("config", config);
		const isSocket = c.req.path.endsWith("/ws");
		const assertion = c.req.header(ACCESS_HEADER) ?? null;
		const bearerToken = bearer(c);
		let identity: Identity;
		if (bearerToken === null && assertion !== null && accessConfigured(config)) {
			// Cloudflare Access sign-in (ACCESS_TEAM_DOMAIN, ACCESS_AUD): src/access.ts.
			identity = await authenticateAccess(assertion, config);
		} else {
			// Behind Cloudflare Access (AUTH_ACCESS_HEADER), its signed assertion header is a token too.
			const access = config.authAccessHeader ? assertion : null;
			const token = bearerToken ?? access ?? (isSocket ? (c.req.query("token") ?? null) : null);
			identity = await authenticate({ token, guest: c.req.query("guest") ?? null }, config);
		}
		c.set("identity", identity);
		// A per-user budget over every HTTP call, whatever the route or room; 0 turns limits off.
		if (config.rateLimitPerSec > 0 && !(await c.env.HTTP_LIMIT.limit({ key: identity.id })).success) {
			throw new ParleyError("rate_limited", "too many requests from this user; slow down", HTTP_LIMIT_RETRY_MS);
		}
		await next();
	});
	app.use("/v1/admin/*", async (c, next) => {
		// The contract checks the room id (400) before access (403), admin role included.
		const room = /^\/v1\/admin\/rooms\/([^/]*)/.exec(c.req.path)?.[1];
		if (room !== undefined) authorizeRoom(c.get("identity"), decodePathSegment(room));
		if (!c.get("identity").admin) throw new ParleyError("forbidden", "this route needs the admin role");
		await next();
	});

	app.get("/v1/rooms/:room/ws", async (c) => {
		const room = authorizedRoom(c);
		const since = unwrap(parseSince(c.req.query("since") ?? null));
		if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
			throw new ParleyError("bad_request", "this route expects a WebSocket upgrade");
		}
		// A fresh request: nothing the client sent besides the upgrade reaches the room.
		const headers = new Headers({ Upgrade: "websocket", [IDENTITY_HEADER]: JSON.stringify(c.get("identity")) });
		if (since !== undefined) headers.set(SINCE_HEADER, String(since));
		return roomStub(c, room).fetch(new Request(`https://room/${room}/ws`, { headers }));
	});

	app.get("/v1/rooms/:room/events", async (c) => {
		const room = authorizedRoom(c);
		const query = unwrap(parseEventsQuery(new URL(c.req.url).searchParams));
		return c.json(await roomStub(c, room).events(query));
	});

	app.post("/v1/rooms/:room/messages", async (c) => {
		const receivedAt = Date.now();
		const room = authorizedRoom(c);
		const input = unwrap(parseSendInput(await readJsonBody(c), room, c.get("config")));
		const trace = c.get("trace");
		const traceId = trace.traceId;
		const result = unwrap(await roomStub(c, room).post(c.get("identity"), input, traceId, receivedAt, traceparentOf(trace)));
		if (result.sagaId !== undefined && !result.duplicate) linkTraceParent(c, traceId);
		return c.json(result, result.duplicate ? 200 : 201);
	});

	app.delete("/v1/rooms/:room/messages/:msgId", async (c) => {
		const room = authorizedRoom(c);
		const traceId = c.get("trace").traceId;
		return c.json(unwrap(await roomStub(c, room).remove(c.get("identity"), c.req.param("msgId"), traceId)));
	});

	registerAdminRoutes(app);
	registerOpsRoutes(app);

	return app;
}
