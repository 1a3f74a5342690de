/**
 * @module
 * The operator routes of issue 19, beside src/admin.ts: metrics for Prometheus (admins, or a
 * scraper with METRICS_TOKEN), the per-minute history the console charts, who the console is
 * signed in as, the search box, and a sample alert to test the webhook receiver.
 */
import type { Context, Hono, Next } from "hono";
import { ACCESS_HEADER, accessConfigured } from "./access.ts";
import { askShards } from "./admin.ts";
import { configFor } from "./config.ts";
import { ParleyError } from "./errors.ts";
import { type AppContext, type AppEnv, roomStub } from "./http.ts";
import { postAlert } from "./ops/alert-delivery.ts";
import { CONTENT_TYPES, mergeHistory, mergeMetrics, negotiateFormat, renderExposition, type ShardMetrics } from "./ops/metrics.ts";
import { type Scope, taskRooms, withinScope } from "./ops/scope.ts";
import { type SearchCandidate, type SearchHit, searchCandidates } from "./ops/search.ts";
import { seqOfMessageId } from "./protocol.ts";
import { shardName, shardOf } from "./ops/shard.ts";
import { isModerationId, originOfSagaId, originOfTaskId } from "./saga/ids.ts";
import { randomId } from "./trace.ts";

/** Equal strings in time independent of where they differ (the metrics token). */
function sameSecret(a: string, b: string): boolean {
	const left = new TextEncoder().encode(a);
	const right = new TextEncoder().encode(b);
	let diff = left.length ^ right.length;
	for (let i = 0; i < Math.max(left.length, right.length); i++) diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
	return diff === 0;
}

/** Every shard's part; a shard that does not answer is counted, not fatal (the scrape says so). */
async function scrape(env: Env, shards: number): Promise<{ parts: ShardMetrics[]; unavailable: number }> {
	const settled = await Promise.allSettled(
		Array.from({ length: shards }, async (_, i) => await env.OPS_INDEX.getByName(shardName(i)).metrics()),
	);
	const parts: ShardMetrics[] = [];
	let unavailable = 0;
	for (const result of settled) {
		if (result.status === "fulfilled") parts.push(result.value);
		else {
			unavailable++;
			console.warn(JSON.stringify({ level: "warn", msg: "metrics shard unavailable", error: String(result.reason) }));
		}
	}
	return { parts, unavailable };
}

async function metricsResponse(env: Env, shards: number, accept: string | undefined): Promise<Response> {
	const { parts, unavailable } = await scrape(env, shards);
	const format = negotiateFormat(accept);
	const text = renderExposition(mergeMetrics(parts, { configured: shards, unavailable }, Date.now()), format);
	return new Response(text, { headers: { "Content-Type": CONTENT_TYPES[format], "Cache-Control": "no-store" } });
}

/**
 * `GET /v1/admin/metrics` with `Authorization: Bearer <METRICS_TOKEN>`: answered here, before
 * the user authentication (the token is no JWT). Anything else goes on to the admin route.
 */
export async function serveMetricsWithToken(c: Context<AppEnv>, next: Next): Promise<Response | undefined> {
	const config = configFor(c.env);
	const presented = /^Bearer\s+(\S+)$/i.exec(c.req.header("Authorization") ?? "")?.[1];
	if (config.metricsToken !== "" && presented !== undefined && sameSecret(presented, config.metricsToken)) {
		return await metricsResponse(c.env, config.opsIndexShards, c.req.header("Accept"));
	}
	await next();
	return undefined;
}

function requireGlobal(c: AppContext, what: string): void {
	if (c.get("identity").rooms !== null) throw new ParleyError("forbidden", `${what} is for admins without a rooms claim`);
}

function scopeOf(c: AppContext): Scope {
	return c.get("identity").rooms;
}

/** The first candidate that names something that exists and the caller may see. */
async function resolve(c: AppContext, candidate: SearchCandidate): Promise<SearchHit | undefined> {
	const scope = scopeOf(c);
	const shards = c.get("config").opsIndexShards;
	switch (candidate.kind) {
		case "trace": {
			const rooms = await c.env.OPS_INDEX.getByName(shardName(shardOf(candidate.traceId, shards))).traceRooms(candidate.traceId);
			if (rooms.length === 0 || !withinScope(scope, rooms)) return undefined;
			return { kind: "trace", traceId: candidate.traceId, rooms };
		}
		case "task": {
			const rooms = taskRooms(candidate.taskId);
			const origin = originOfTaskId(candidate.taskId);
			if (rooms === undefined || origin === undefined || !withinScope(scope, rooms)) return undefined;
			const owner = origin.kind === "moderation" ? c.env.MODERATION.getByName(origin.id) : roomStub(c, origin.id);
			const task = await owner.taskStatus(candidate.taskId);
			return task === undefined ? undefined : { kind: "task", taskId: task.taskId, sagaId: task.sagaId, traceId: task.traceId };
		}
		case "saga": {
			const origin = originOfSagaId(candidate.sagaId);
			if (origin === undefined || !withinScope(scope, [origin])) return undefined;
			const saga = await roomStub(c, origin).saga(candidate.sagaId);
			if (saga === undefined || !withinScope(scope, [origin, ...saga.steps.map((step) => step.room)])) return undefined;
			return { kind: "saga", sagaId: saga.sagaId, traceId: saga.traceId };
		}
		case "moderation": {
			if (!isModerationId(candidate.id)) return undefined;
			const view = await c.env.MODERATION.getByName(candidate.id).view();
			if (view === undefined) return undefined;
			return withinScope(
				scope,
				view.tasks.map((task) => task.room),
			) || scope === null
				? { kind: "moderation", id: candidate.id }
				: undefined;
		}
		case "message": {
			const seq = seqOfMessageId(candidate.msgId);
			if (seq === undefined) return undefined;
			if (candidate.room !== undefined) {
				if (!withinScope(scope, [candidate.room])) return undefined;
				const page = await roomStub(c, candidate.room).events({ after: seq - 1, limit: 1 });
				const event = page.events[0];
				if (event === undefined || event.type !== "message" || event.msgId !== candidate.msgId) return undefined;
				const hit = { kind: "message" as const, room: candidate.room, msgId: event.msgId, seq: event.seq, traceId: event.traceId };
				// A copy names its saga; an original is looked up in the index (cross-posted or not).
				if (event.from !== undefined) return { ...hit, sagaId: event.from.sagaId };
				const own = (await askShards(c, async (shard) => await shard.sagaOfMessage(event.msgId))).find(
					(saga) => saga?.originRoom === candidate.room,
				);
				return own === undefined ? hit : { ...hit, sagaId: own.sagaId };
			}
			// A message id alone is found when it was cross-posted (the index keeps its saga).
			const found = (await askShards(c, async (shard) => await shard.sagaOfMessage(candidate.msgId))).find(
				(saga) => saga !== undefined,
			);
			if (found === undefined || !withinScope(scope, [found.originRoom, ...found.targets])) return undefined;
			return { kind: "message", room: found.originRoom, msgId: found.msgId, seq, traceId: found.traceId, sagaId: found.sagaId };
		}
		case "room": {
			if (!withinScope(scope, [candidate.room])) return undefined;
			const page = await roomStub(c, candidate.room).events({ latest: true, limit: 1 });
			return { kind: "room", room: candidate.room, lastSeq: page.lastSeq };
		}
	}
}

/** A sample alert for the receiver: the shape of a real one, marked `test`. */
function sampleAlert(actor: string, traceId: string, now: number): Record<string, unknown> & { traceId: string } {
	return {
		kind: "test",
		test: true,
		taskId: "",
		sagaId: "",
		room: "",
		traceId,
		attempts: 0,
		error: null,
		at: now,
		text: `Parley: a test alert sent from the operator console by ${actor}. No task is affected.`,
	};
}

export function registerOpsRoutes(app: Hono<AppEnv>): void {
	app.get("/v1/admin/metrics", async (c) => {
		// Totals over the whole deployment, like /v1/admin/stats.
		requireGlobal(c, "deployment-wide metrics");
		return await metricsResponse(c.env, c.get("config").opsIndexShards, c.req.header("Accept"));
	});

	app.get("/v1/admin/metrics/history", async (c) => {
		requireGlobal(c, "deployment-wide metrics");
		const minutes = Number(c.req.query("minutes") ?? "60");
		if (!Number.isInteger(minutes) || minutes < 1 || minutes > 120) throw new ParleyError("bad_request", "`minutes` must be 1..120");
		const now = Date.now();
		const since = Math.floor(now / 60_000) * 60_000 - (minutes - 1) * 60_000;
		const parts = await askShards(c, async (shard) => await shard.metricsHistory(since));
		return c.json({ minutes: mergeHistory(parts, now, minutes) });
	});

	app.get("/v1/admin/session", (c) => {
		const identity = c.get("identity");
		const config = c.get("config");
		const via =
			c.req.header("Authorization") === undefined && c.req.header(ACCESS_HEADER) !== undefined && accessConfigured(config)
				? "access"
				: "token";
		return c.json({
			id: identity.id,
			name: identity.name,
			admin: identity.admin,
			rooms: identity.rooms,
			via,
			...(identity.exp === undefined ? {} : { exp: identity.exp }),
		});
	});

	app.get("/v1/admin/search", async (c) => {
		const q = c.req.query("q") ?? "";
		const candidates = searchCandidates(q);
		if (candidates.length === 0)
			throw new ParleyError("bad_request", "search for a message, saga, task, moderation or trace id, or a room id");
		for (const candidate of candidates) {
			const hit = await resolve(c, candidate);
			if (hit !== undefined) return c.json({ query: q.trim(), hit });
		}
		throw new ParleyError(
			"not_found",
			`nothing found for ${q.trim()} (looked for: ${[...new Set(candidates.map((k) => k.kind))].join(", ")})`,
		);
	});

	app.post("/v1/admin/alerts/test", async (c) => {
		requireGlobal(c, "the test alert");
		const config = c.get("config");
		if (config.alertWebhookUrl === "") throw new ParleyError("conflict", "no ALERT_WEBHOOK_URL is set on this server");
		const now = Date.now();
		const id = `test-${randomId(8)}`;
		const traceId = c.get("trace").traceId;
		const result = await postAlert({
			url: config.alertWebhookUrl,
			secret: config.alertWebhookSecret,
			id,
			body: sampleAlert(c.get("identity").id, traceId, now),
			nowMs: now,
		});
		console.log(
			JSON.stringify({ level: "info", msg: "test alert", traceId, webhookId: id, ok: result.ok, actor: c.get("identity").id }),
		);
		return c.json({
			webhookId: id,
			traceId,
			signed: result.signed,
			sent: result.ok,
			...(result.ok
				? { status: result.status }
				: { error: result.error, ...(result.status === undefined ? {} : { status: result.status }) }),
		});
	});
}
