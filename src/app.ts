/**
 * @module
 * The HTTP surface: Hono routes that authenticate, check the room id and access in the
 * contract's order (401, 400, 403, then the body), and hand the call to the room.
 * Socket upgrades are served in front of this app (src/upgrade.ts) with the same credentials,
 * budget and trace, and forwarded to the room's `fetch`, which accepts them as hibernatable
 * sockets (Hono's own `upgradeWebSocket` would not).
 */
import { Hono } from "hono";
import { linkTraceParent, registerAdminRoutes } from "./admin.ts";
import { authorizeRoom } from "./auth.ts";
import { configFor } from "./config.ts";
import { errorResponse, ParleyError } from "./errors.ts";
import { type AppEnv, memberRoom, decodePathSegment, readJsonBody, roomStub, unwrap } from "./http.ts";
import { parseEditInput, parseEventsQuery, parseMembersQuery, parseSearchQuery, parseSendInput } from "./protocol.ts";
import { registerSocialRoutes } from "./social-routes.ts";
import { registerInboxRoutes } from "./inbox-routes.ts";
import { ACCESS_HEADER, accessConfigured } from "./access.ts";
import { identify, spendHttpBudget } from "./credentials.ts";
import { registerOpsRoutes, serveMetricsWithToken } from "./ops-routes.ts";
import { ingressContext, traceparentOf, traceResponseHeaders } from "./trace.ts";

export type { AppEnv } from "./http.ts";

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
		const headers = traceResponseHeaders(trace);
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
		// GET upgrades are served before this app (src/upgrade.ts), through the same identify().
		const isSocket = c.req.path.endsWith("/ws");
		const identity = await identify(
			{
				authorization: c.req.header("Authorization") ?? null,
				assertion: c.req.header(ACCESS_HEADER) ?? null,
				queryToken: isSocket ? (c.req.query("token") ?? null) : null,
				guest: c.req.query("guest") ?? null,
			},
			config,
		);
		c.set("identity", identity);
		await spendHttpBudget(c.env, config, identity);
		await next();
	});
	app.use("/v1/admin/*", async (c, next) => {
		// The contract checks the room id (400) before access (403), admin role included.
		const room = /^\/v1\/admin\/rooms\/([^/]*)/.exec(c.req.path)?.[1];
		if (room !== undefined) authorizeRoom(c.get("identity"), decodePathSegment(room));
		if (!c.get("identity").admin) throw new ParleyError("forbidden", "this route needs the admin role");
		await next();
	});

	// GET /v1/rooms/:room/ws and GET /v1/me/ws are served before this app, by src/upgrade.ts.

	app.get("/v1/rooms/:room/events", async (c) => {
		const room = await memberRoom(c);
		const query = unwrap(parseEventsQuery(new URL(c.req.url).searchParams));
		// v1.3: `reactions.mine` is the caller's.
		return c.json(await roomStub(c, room).events(query, c.get("identity").id));
	});

	app.get("/v1/rooms/:room/members", async (c) => {
		const room = await memberRoom(c);
		const query = unwrap(parseMembersQuery(new URL(c.req.url).searchParams));
		return c.json(await roomStub(c, room).members(query));
	});

	app.post("/v1/rooms/:room/messages", async (c) => {
		const receivedAt = Date.now();
		const room = await memberRoom(c);
		const input = unwrap(parseSendInput(await readJsonBody(c), room, c.get("config")));
		const trace = c.get("trace");
		const traceId = trace.traceId;
		const result = unwrap(await roomStub(c, room).post(c.get("identity"), input, traceId, receivedAt, traceparentOf(trace)));
		if (result.sagaId !== undefined && !result.duplicate) linkTraceParent(c, traceId);
		return c.json(result, result.duplicate ? 200 : 201);
	});

	app.delete("/v1/rooms/:room/messages/:msgId", async (c) => {
		const room = await memberRoom(c);
		const traceId = c.get("trace").traceId;
		return c.json(unwrap(await roomStub(c, room).remove(c.get("identity"), c.req.param("msgId"), traceId)));
	});

	// v1.3 chat: edits and search (docs/protocol.md, "v1.3 additions: chat").
	app.patch("/v1/rooms/:room/messages/:msgId", async (c) => {
		const room = await memberRoom(c);
		const body = await readJsonBody(c);
		// The path names the message; a body's own msgId is ignored.
		const input = unwrap(parseEditInput({ ...body, msgId: c.req.param("msgId") }, c.get("config")));
		const result = unwrap(await roomStub(c, room).edit(c.get("identity"), input, c.get("trace").traceId));
		return c.json(result, result.duplicate ? 200 : 201);
	});

	app.get("/v1/rooms/:room/messages/:msgId/edits", async (c) => {
		const room = await memberRoom(c);
		return c.json(unwrap(await roomStub(c, room).editHistory(c.req.param("msgId"))));
	});

	app.get("/v1/rooms/:room/search", async (c) => {
		const room = await memberRoom(c);
		const query = unwrap(parseSearchQuery(new URL(c.req.url).searchParams));
		return c.json(unwrap(await roomStub(c, room).searchMessages(query)));
	});

	registerSocialRoutes(app);
	registerInboxRoutes(app);
	registerAdminRoutes(app);
	registerOpsRoutes(app);

	return app;
}
