/**
 * Access: forged, expired, `alg: none`, HS512, tampered, claim-less and `guest:` tokens, a
 * guest name on a server without guest mode, no credentials, a room-limited token on another
 * room, and a non-admin token, on every route: room history, posting, deleting, the socket
 * upgrade and every /v1/admin route. None may get in; each refusal must be the contract's
 * (401 `unauthorized` or 403 `forbidden`, refused upgrades as HTTP errors), and nothing a
 * refused request asked for may have happened.
 */
import { api } from "../lib/http.ts";
import { checkErrorResponse } from "../lib/invariants.ts";
import { GUARDED } from "../lib/profiles.ts";
import type { ChaosServer } from "../lib/server.ts";
import { adminToken, badTokens, userToken } from "../lib/tokens.ts";
import { fresh, type Recorder, type Scenario, type ScenarioContext } from "../lib/types.ts";
import { tryUpgrade } from "../lib/upgrade.ts";

interface Route {
	label: string;
	method: string;
	path: string;
	body?: unknown;
	kind: "room" | "admin" | "socket";
}

/** How a request presents its credentials. */
type Presented = { header?: string; query?: string };

interface Caller {
	label: string;
	creds: Presented;
	/** The status it must get on room routes and on admin routes. */
	room: 401 | 403;
	admin: 401 | 403;
}

function routes(room: string, ids: { msgId: string; sagaId: string; taskId: string; traceId: string }): Route[] {
	const r = (label: string, method: string, path: string, kind: Route["kind"], body?: unknown): Route => ({
		label,
		method,
		path,
		kind,
		...(body === undefined ? {} : { body }),
	});
	return [
		r("history", "GET", `/v1/rooms/${room}/events?after=0`, "room"),
		r("post", "POST", `/v1/rooms/${room}/messages`, "room", { id: "intruder", text: "intrusion" }),
		r("delete", "DELETE", `/v1/rooms/${room}/messages/${ids.msgId}`, "room"),
		r("socket", "GET", `/v1/rooms/${room}/ws`, "socket"),
		r("policy", "PUT", `/v1/admin/rooms/${room}/policy`, "admin", { readOnly: true }),
		r("sagas", "GET", "/v1/admin/sagas", "admin"),
		r("saga", "GET", `/v1/admin/sagas/${ids.sagaId}`, "admin"),
		r("tasks", "GET", "/v1/admin/tasks", "admin"),
		r("task", "GET", `/v1/admin/tasks/${ids.taskId}`, "admin"),
		r("task action", "POST", `/v1/admin/tasks/${ids.taskId}/actions`, "admin", { action: "cancel", reason: "intrusion" }),
		r("bulk retry", "POST", "/v1/admin/tasks/retry", "admin", { reason: "intrusion" }),
		r("audit", "GET", "/v1/admin/audit", "admin"),
		r("alerts", "GET", "/v1/admin/alerts", "admin"),
		r("trace", "GET", `/v1/admin/traces/${ids.traceId}`, "admin"),
		r("stats", "GET", "/v1/admin/stats", "admin"),
		r("moderate", "POST", "/v1/admin/moderations", "admin", { selector: { room }, action: "retract", reason: "intrusion" }),
		r("moderations", "GET", "/v1/admin/moderations", "admin"),
		// The routes from before the rename.
		r("moderate (old route)", "POST", "/v1/admin/compensations", "admin", {
			selector: { room },
			action: "retract",
			reason: "intrusion",
		}),
		r("moderations (old route)", "GET", "/v1/admin/compensations", "admin"),
		r("faults", "POST", "/v1/admin/faults", "admin", { deliverFailRate: 1 }),
	];
}

async function attempt(rec: Recorder, server: ChaosServer, route: Route, caller: Caller): Promise<void> {
	const expected = route.kind === "admin" ? caller.admin : caller.room;
	const label = `${caller.label} → ${route.method} ${route.path.split("?")[0] ?? ""} (${route.label})`;
	const query = caller.creds.query === undefined ? "" : `${route.path.includes("?") ? "&" : "?"}${caller.creds.query}`;
	rec.op();
	let status: number;
	let body: unknown;
	if (route.kind === "socket") {
		const result = await tryUpgrade(`${server.url}${route.path}${query}`);
		if (result.upgraded) {
			rec.check(false, `${label}: the upgrade was ACCEPTED`);
			return;
		}
		({ status, body } = result);
	} else {
		const response = await api(server.url, `${route.path}${query}`, {
			method: route.method,
			...(caller.creds.header === undefined ? {} : { headers: { Authorization: caller.creds.header } }),
			...(route.body === undefined ? {} : { body: route.body }),
		});
		({ status, body } = response);
	}
	rec.checked(1, checkErrorResponse(label, status, body, [expected]));
	const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
	rec.check(
		code === (expected === 401 ? "unauthorized" : "forbidden"),
		`${label}: code ${String(code)}, expected ${expected === 401 ? "unauthorized" : "forbidden"}`,
	);
}

export const access: Scenario = {
	name: "access",
	summary: "bad, expired, alg-none, HS512, claim-less, guest, wrong-room and non-admin credentials on every route",
	profile: GUARDED,
	async run(ctx: ScenarioContext): Promise<void> {
		const { rec } = ctx;
		const server = await ctx.server();
		const room = fresh("access");
		const other = fresh("access-other");
		const admin = await adminToken();
		const alice = await userToken("alice");
		// Seed a message, a saga, a task and a trace so that id-taking routes have real ids.
		const seeded = await api(server.url, `/v1/rooms/${room}/messages`, {
			method: "POST",
			token: alice,
			body: { id: "seed", text: "seed", crossPost: [other] },
		});
		if (seeded.status !== 201) throw new Error(`seed post: ${seeded.status} ${seeded.text}`);
		const seed = seeded.body as { msgId: string; sagaId: string; traceId: string };
		const saga = await api(server.url, `/v1/admin/sagas/${seed.sagaId}`, { token: admin });
		const taskId = (saga.body as { steps: Array<{ taskId: string }> }).steps[0]?.taskId ?? "none";
		const ids = { msgId: seed.msgId, sagaId: seed.sagaId, taskId, traceId: seed.traceId };

		const bearer = (token: string): Presented => ({ header: `Bearer ${token}`, query: `token=${encodeURIComponent(token)}` });
		const callers: Caller[] = [
			...(await badTokens()).map((bad): Caller => ({ label: bad.label, creds: bearer(bad.token), room: 401, admin: 401 })),
			{ label: "no credentials", creds: {}, room: 401, admin: 401 },
			{ label: "guest without guest mode", creds: { query: "guest=mallory" }, room: 401, admin: 401 },
			{ label: "Basic auth", creds: { header: `Basic ${Buffer.from("admin:admin").toString("base64")}` }, room: 401, admin: 401 },
			{ label: "empty Bearer", creds: { header: "Bearer " }, room: 401, admin: 401 },
			{ label: "wrong room", creds: bearer(await userToken("carol", { rooms: ["elsewhere-*"] })), room: 403, admin: 403 },
			{ label: "non-admin", creds: bearer(await userToken("dave", { rooms: [room] })), room: 403, admin: 403 },
		];
		const allRoutes = routes(room, ids);
		for (const caller of callers) {
			for (const route of allRoutes) {
				// A non-admin with access to the room may use its room routes: those are not refusals.
				if (caller.label === "non-admin" && route.kind !== "admin") continue;
				await attempt(rec, server, route, caller);
			}
		}
		rec.fault(rec.operations);

		// A token in the query string is for the socket only: over HTTP it is no credential.
		for (const route of allRoutes.filter((r) => r.kind !== "socket")) {
			await attempt(rec, server, route, {
				label: "admin token in ?token= over HTTP",
				creds: { query: `token=${admin}` },
				room: 401,
				admin: 401,
			});
		}
		// Room-scoped refusals by users who are let in: deleting another's message, cross-posting out of scope.
		const bob = await userToken("bob");
		const notAuthor = await api(server.url, `/v1/rooms/${room}/messages/${seed.msgId}`, { method: "DELETE", token: bob });
		rec.checked(1, checkErrorResponse("bob deletes alice's message", notAuthor.status, notAuthor.body, [403]));
		const scoped = await userToken("dave", { rooms: [room] });
		const outOfScope = await api(server.url, `/v1/rooms/${room}/messages`, {
			method: "POST",
			token: scoped,
			body: { id: "scoped", text: "x", crossPost: [other] },
		});
		rec.checked(1, checkErrorResponse("cross-post to a room the token does not grant", outOfScope.status, outOfScope.body, [403]));
		rec.op(2);

		// Positive controls: the routes work for those allowed, so the refusals above are real.
		for (const route of allRoutes.filter((r) => r.kind === "admin" && r.method === "GET")) {
			const response = await api(server.url, route.path, { token: admin });
			rec.check(response.status === 200, `admin → GET ${route.path}: ${response.status} ${response.text.slice(0, 200)}`);
		}
		const upgrade = await tryUpgrade(`${server.url}/v1/rooms/${room}/ws?token=${alice}`);
		rec.check(upgrade.upgraded, `alice's socket upgrade was refused: ${JSON.stringify(upgrade)}`);

		// Nothing a refused request asked for happened.
		const history = await api(server.url, `/v1/rooms/${room}/events?after=0`, { token: admin });
		const events = (history.body as { events: Array<{ type: string; msgId: string; text?: string; retractedBy?: number }> }).events;
		rec.check(
			events.length === 1 && events[0]?.msgId === seed.msgId && events[0].retractedBy === undefined,
			`room ${room} after the refusals: ${JSON.stringify(events)}`,
		);
		const stillWritable = await api(server.url, `/v1/rooms/${room}/messages`, {
			method: "POST",
			token: alice,
			body: { id: "after", text: "still writable" },
		});
		rec.check(
			stillWritable.status === 201,
			`room ${room} no longer takes posts (policy changed?): ${stillWritable.status} ${stillWritable.text}`,
		);
		const task = await api(server.url, `/v1/admin/tasks/${taskId}`, { token: admin });
		rec.check((task.body as { state?: string }).state !== "cancelled", `task ${taskId} was cancelled by a refused request`);
		const audit = await api(server.url, "/v1/admin/audit?limit=500", { token: admin });
		const intrusions = (audit.body as { entries: Array<{ reason: string }> }).entries.filter((e) => e.reason === "intrusion");
		rec.check(intrusions.length === 0, `the audit log records ${intrusions.length} actions by refused requests`);
	},
};
