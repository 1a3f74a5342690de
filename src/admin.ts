/**
 * @module
 * Operator routes under /v1/admin (role `admin`, checked by the app's middleware): room
 * policy, sagas and tasks across all rooms, manual actions with their audit log, alerts,
 * traces, stats, operator moderations (bulk retracts) and fault injection. Lists come from the sharded ops index; anything that
 * changes a task goes to the task's origin room, the source of truth.
 *
 * Every route honours the token's `rooms` claim (src/ops/scope.ts): a scoped admin's lists
 * hold only the records it reaches, a named room outside the claim is 403, and so is a
 * single record (or an action on one) that names a room outside it. Deployment-wide routes
 * (stats, fault injection) are for global admins only. docs/operations.md has the table.
 */
import type { Hono } from "hono";
import { type Failure, fail, ok, ParleyError, type Result } from "./errors.ts";
import { type AppContext, type AppEnv, authorizedRoom, readJsonBody, roomStub, unwrap } from "./http.ts";
import { decodeCursor, mergePages } from "./ops/cursor.ts";
import { shardName, shardOf } from "./ops/shard.ts";
import { isUserId } from "./inbox-rules.ts";
import { mergeStats } from "./ops/stats.ts";
import { roomsInScope, type Scope, taskRooms, withinScope } from "./ops/scope.ts";
import type { ListFilter, Span } from "./ops/types.ts";
import { codePointLength, isRoomId, parsePolicyPatch } from "./protocol.ts";
import { parseFaults } from "./saga/faults.ts";
import { isModerationId, newModerationId, originOfSagaId, originOfTaskId } from "./saga/ids.ts";
import { MAX_MESSAGES_PER_ROOM, type ModerationSummary, parseModerationRequest, type RoomPlan } from "./ops/moderation.ts";
import { parentFrom, traceIdFrom } from "./trace.ts";
import { ALL_TASK_KINDS, type ManualAction } from "./saga/types.ts";
import { MANUAL_ACTIONS } from "./saga/policy.ts";

const TASK_STATES = ["pending", "processing", "succeeded", "failed", "skipped", "cancelled", "archived"];
const SAGA_STATES = ["running", "compensating", "succeeded", "compensated", "failed"];
/** At most this many tasks in one bulk retry call. */
const BULK_RETRY_MAX = 100;

const bad = (message: string): Failure => fail("bad_request", message);

function integerParam(value: string | undefined, name: string, min: number, max: number): Result<number | undefined> {
	if (value === undefined) return ok(undefined);
	if (!/^[0-9]{1,15}$/.test(value)) return bad(`\`${name}\` must be a whole number`);
	const parsed = Number(value);
	return parsed < min || parsed > max ? bad(`\`${name}\` must be ${min}..${max}`) : ok(parsed);
}

/** Parses the list filters shared by /sagas and /tasks. */
export function parseListFilter(query: Record<string, string | undefined>, states: readonly string[]): Result<ListFilter> {
	const filter: ListFilter = { limit: 50 };
	if (query.state !== undefined) {
		if (!states.includes(query.state)) return bad(`\`state\` must be one of ${states.join(", ")}`);
		filter.state = query.state;
	}
	if (query.room !== undefined) {
		if (!isRoomId(query.room)) return bad("`room` must be a room id");
		filter.room = query.room;
	}
	if (query.kind !== undefined) {
		const kind = ALL_TASK_KINDS.find((known) => known === query.kind);
		if (kind === undefined) return bad(`\`kind\` must be one of ${ALL_TASK_KINDS.join(", ")}`);
		filter.kind = kind;
	}
	for (const [name, key] of [
		["limit", "limit"],
		["olderThanMs", "olderThanMs"],
		["newerThanMs", "newerThanMs"],
	] as const) {
		const value = integerParam(query[name], name, name === "limit" ? 1 : 0, name === "limit" ? 500 : 10 ** 13);
		if (!value.ok) return value;
		if (value.value !== undefined) filter[key] = value.value;
	}
	if (query.cursor !== undefined && query.cursor !== "") {
		const cursor = decodeCursor(query.cursor);
		if (cursor === undefined) return bad("`cursor` is not one this server gave out");
		filter.cursor = cursor;
	}
	return ok(filter);
}

/** A policy change's reason: optional, but 1..500 characters when given. */
export function parsePolicyReason(value: unknown): Result<string> {
	if (value === undefined) return ok("");
	const reason = typeof value === "string" ? value.trim() : "";
	const length = codePointLength(reason);
	if (typeof value !== "string" || length < 1 || length > 500) return bad("`reason`, when given, must be 1..500 chars");
	return ok(reason);
}

export function parseAction(body: Record<string, unknown>): Result<{ action: ManualAction; reason: string }> {
	const action = body.action;
	if (typeof action !== "string" || !MANUAL_ACTIONS.includes(action as ManualAction))
		return bad("`action` must be retry, skip or cancel");
	const reason = typeof body.reason === "string" ? body.reason.trim() : "";
	const length = codePointLength(reason);
	if (length < 1 || length > 500) return bad("a `reason` of 1..500 chars is required");
	return ok({ action: action as ManualAction, reason });
}

function limitParam(c: AppContext, fallback: number, max: number): number {
	return unwrap(integerParam(c.req.query("limit"), "limit", 1, max)) ?? fallback;
}

/** The caller's rooms claim: `null` for a global admin. */
function scopeOf(c: AppContext): Scope {
	return c.get("identity").rooms;
}

/** Refuses (403) a record or request naming a room outside a scoped admin's claim. */
function requireScope(c: AppContext, rooms: Iterable<string>, what: string): void {
	if (!withinScope(scopeOf(c), rooms)) throw new ParleyError("forbidden", `your token does not grant every room of ${what}`);
}

/** Refuses (403) a scoped admin on a deployment-wide route. */
function requireGlobal(c: AppContext, what: string): void {
	if (scopeOf(c) !== null) throw new ParleyError("forbidden", `${what} is for admins without a rooms claim`);
}

/** A list filter's `room`, when given, must be one the caller may see. */
function requireFilterRoom(c: AppContext, filter: ListFilter): void {
	if (filter.room !== undefined) requireScope(c, [filter.room], `room ${filter.room}`);
}

/**
 * Keeps the caller's `traceparent` as the parent link of a trace the server minted, where the
 * operator's trace view shows it. Only for cross-room work (which has a trace view): plain
 * chat never touches the index. Best effort, after the response.
 */
export function linkTraceParent(c: AppContext, traceId: string): void {
	const parent = parentFrom(c.req.header("traceparent"));
	if (parent === undefined) return;
	const shard = c.env.OPS_INDEX.getByName(shardNameFor(c, traceId));
	c.executionCtx.waitUntil(
		shard.linkParent(traceId, parent, Date.now()).catch((error: unknown) => {
			console.warn(JSON.stringify({ level: "warn", msg: "trace parent not linked", traceId, parent, error: String(error) }));
		}),
	);
}

type IndexShard = ReturnType<AppContext["env"]["OPS_INDEX"]["getByName"]>;

/** Asks every ops-index shard the same question, in parallel (lists span all of them). */
export async function askShards<T>(c: AppContext, ask: (shard: IndexShard, scope: Scope) => Promise<T>): Promise<T[]> {
	const count = c.get("config").opsIndexShards;
	const scope = scopeOf(c);
	return await Promise.all(Array.from({ length: count }, async (_, i) => await ask(c.env.OPS_INDEX.getByName(shardName(i)), scope)));
}

/** The shard name that holds `key` (a trace id, an author id), in the ops index or the author directory. */
function shardNameFor(c: AppContext, key: string): string {
	return shardName(shardOf(key, c.get("config").opsIndexShards));
}

/** Entries of every shard, newest first, at most `limit`. */
function newestFirst<T extends { at: number }>(pages: T[][], limit: number): T[] {
	return pages
		.flat()
		.sort((a, b) => b.at - a.at)
		.slice(0, limit);
}

/** A task id names every room of its task (origin and target), so this runs before any lookup. */
function requireTaskScope(c: AppContext, taskId: string): void {
	const rooms = taskRooms(taskId);
	if (rooms === undefined) throw new ParleyError("not_found", `no task ${taskId}`);
	requireScope(c, rooms, `task ${taskId}`);
}

/** The object that owns a task: its origin room, or its operator moderation. */
function taskOwner(c: AppContext, taskId: string) {
	const origin = originOfTaskId(taskId);
	if (origin === undefined) throw new ParleyError("not_found", `no task ${taskId}`);
	return origin.kind === "moderation" ? c.env.MODERATION.getByName(origin.id) : roomStub(c, origin.id);
}

/**
 * Operator moderations live under /v1/admin/moderations. They were called compensations
 * before, and /v1/admin/compensations stays as an alias answering the same (its list also
 * under the old key `compensations`), so old clients and links keep working.
 */
const MODERATION_ROUTES = ["/v1/admin/moderations", "/v1/admin/compensations"] as const;
const LEGACY_MODERATION_ROUTE = "/v1/admin/compensations";

export function registerAdminRoutes(app: Hono<AppEnv>): void {
	app.get("/v1/admin/rooms/:room/policy", async (c) => {
		return c.json(await roomStub(c, authorizedRoom(c)).getPolicy());
	});

	app.put("/v1/admin/rooms/:room/policy", async (c) => {
		const room = authorizedRoom(c);
		// The reason goes to the audit entry the room writes with the change (optional here, so
		// scripts keep working; the console always asks for one).
		const { reason, ...body } = await readJsonBody(c);
		const audit = unwrap(parsePolicyReason(reason));
		const patch = unwrap(parsePolicyPatch(body));
		return c.json(
			await roomStub(c, room).updatePolicy(patch, { actor: c.get("identity").id, reason: audit, traceId: c.get("trace").traceId }),
		);
	});

	app.get("/v1/admin/sagas", async (c) => {
		const filter = unwrap(parseListFilter(c.req.query(), SAGA_STATES));
		requireFilterRoom(c, filter);
		const pages = await askShards(c, async (shard, scope) => await shard.listSagas(filter, scope));
		const { items, cursor } = mergePages(pages, filter.limit, (s) => ({ createdAt: s.createdAt, id: s.sagaId }));
		return c.json({ sagas: items, cursor });
	});

	app.get("/v1/admin/sagas/:sagaId", async (c) => {
		const sagaId = c.req.param("sagaId");
		const origin = originOfSagaId(sagaId);
		if (origin === undefined) throw new ParleyError("not_found", `no saga ${sagaId}`);
		// The id names the origin: refused before any lookup. The targets are known after it.
		requireScope(c, [origin], `saga ${sagaId}`);
		const saga = await roomStub(c, origin).saga(sagaId);
		if (saga === undefined) throw new ParleyError("not_found", `no saga ${sagaId}`);
		requireScope(c, [origin, ...saga.steps.map((step) => step.room)], `saga ${sagaId}`);
		return c.json(saga);
	});

	app.get("/v1/admin/tasks", async (c) => {
		const filter = unwrap(parseListFilter(c.req.query(), TASK_STATES));
		requireFilterRoom(c, filter);
		const pages = await askShards(c, async (shard, scope) => await shard.listTasks(filter, scope));
		const { items, cursor } = mergePages(pages, filter.limit, (t) => ({ createdAt: t.createdAt, id: t.taskId }));
		return c.json({ tasks: items, cursor });
	});

	app.get("/v1/admin/tasks/:taskId", async (c) => {
		const taskId = c.req.param("taskId");
		const owner = taskOwner(c, taskId);
		requireTaskScope(c, taskId);
		const task = await owner.taskStatus(taskId);
		if (task === undefined) throw new ParleyError("not_found", `no task ${taskId}`);
		return c.json(task);
	});

	app.post("/v1/admin/tasks/:taskId/actions", async (c) => {
		const taskId = c.req.param("taskId");
		const owner = taskOwner(c, taskId);
		requireTaskScope(c, taskId);
		const { action, reason } = unwrap(parseAction(await readJsonBody(c)));
		const { task } = unwrap(await owner.taskAction(taskId, action, reason, c.get("identity").id));
		return c.json(task);
	});

	// Bulk retry of failed tasks, rate-limited so a recovering dependency is not flooded.
	app.post("/v1/admin/tasks/retry", async (c) => {
		const body = await readJsonBody(c);
		// A dry run (the console's preview) changes nothing, so it needs no reason.
		const dryRun = body.dryRun === true;
		const { reason } = dryRun ? { reason: "" } : unwrap(parseAction({ ...body, action: "retry" }));
		const filter = unwrap(
			parseListFilter(
				{
					state: "failed",
					room: typeof body.room === "string" ? body.room : undefined,
					limit: String(body.limit ?? BULK_RETRY_MAX),
				},
				TASK_STATES,
			),
		);
		if (filter.limit > BULK_RETRY_MAX) throw new ParleyError("bad_request", `\`limit\` must be 1..${BULK_RETRY_MAX}`);
		requireFilterRoom(c, filter);
		// A scoped admin retries only failed tasks whose every room is in its claim.
		const pages = await askShards(c, async (shard, scope) => await shard.listTasks(filter, scope));
		const failed = mergePages(pages, filter.limit, (t) => ({ createdAt: t.createdAt, id: t.taskId })).items;
		// A dry run previews what would be retried: no budget is taken, nothing changes.
		if (dryRun) return c.json({ dryRun: true, tasks: failed.map((t) => t.taskId), count: failed.length, limit: filter.limit });
		const grant = await c.env.CONTROL.getByName("global").takeBulkRetry(failed.length, Date.now());
		if (failed.length > 0 && grant.granted === 0) {
			throw new ParleyError("rate_limited", "bulk retries are rate-limited; try again later", grant.retryAfterMs);
		}
		const retried: string[] = [];
		const refused: Array<{ taskId: string; error: string }> = [];
		for (const task of failed.slice(0, grant.granted)) {
			const reply = await taskOwner(c, task.taskId).taskAction(task.taskId, "retry", reason, c.get("identity").id);
			if (reply.ok) retried.push(task.taskId);
			else refused.push({ taskId: task.taskId, error: reply.error.message });
		}
		return c.json({ retried, refused, deferred: failed.length - grant.granted, retryAfterMs: grant.retryAfterMs });
	});

	app.get("/v1/admin/audit", async (c) => {
		const limit = limitParam(c, 100, 500);
		const pages = await askShards(c, async (shard, scope) => await shard.audit(limit, scope));
		return c.json({ entries: newestFirst(pages, limit) });
	});

	app.get("/v1/admin/alerts", async (c) => {
		const limit = limitParam(c, 100, 500);
		const pages = await askShards(c, async (shard, scope) => await shard.alerts(limit, scope));
		return c.json({ alerts: newestFirst(pages, limit) });
	});

	app.get("/v1/admin/traces/:traceId", async (c) => {
		const traceId = c.req.param("traceId");
		if (!/^[0-9a-f]{32}$/.test(traceId)) throw new ParleyError("bad_request", "a trace id is 32 lowercase hex digits");
		const shard = c.env.OPS_INDEX.getByName(shardNameFor(c, traceId));
		const [rooms, moderations, sagas] = await Promise.all([
			shard.traceRooms(traceId),
			shard.traceModerations(traceId),
			shard.traceSagas(traceId),
		]);
		if (rooms.length === 0 && moderations.length === 0)
			throw new ParleyError("not_found", `no cross-room work is recorded for trace ${traceId}`);
		// Spans of one room name the others (targets, copies), so a trace is shown whole or not at all.
		requireScope(c, rooms, `trace ${traceId}`);
		const [perRoom, perModeration, parent] = await Promise.all([
			// A cross-post's origin keeps its spans in its rows: it is told which cross-posts to read.
			Promise.all(
				rooms.map(
					async (room) =>
						await roomStub(c, room).spans(
							traceId,
							sagas.filter((s) => s.originRoom === room).map((s) => s.sagaId),
						),
				),
			),
			Promise.all(moderations.map(async (id) => await c.env.MODERATION.getByName(id).spans(traceId))),
			shard.traceParent(traceId),
		]);
		const spans: Span[] = [...perRoom.flat(), ...perModeration.flat()].sort((a, b) => a.at - b.at);
		// `parent`: the caller's traceparent this trace came with, a link only (the id is ours).
		return c.json(parent === undefined ? { traceId, spans } : { traceId, parent, spans });
	});

	app.get("/v1/admin/stats", async (c) => {
		// Counts over the whole deployment: they would describe rooms outside a claim.
		requireGlobal(c, "deployment-wide stats");
		const perShard = await askShards(c, async (shard) => await shard.stats());
		return c.json(mergeStats(perShard, Date.now()));
	});

	// Operator moderation: bulk retract by author, room, time range or message ids.
	for (const base of MODERATION_ROUTES) {
		app.post(base, async (c) => await createModeration(c));
		app.get(base, async (c) => await listModerations(c, base === LEGACY_MODERATION_ROUTE));
		app.get(`${base}/:id`, async (c) => await moderationDetail(c, c.req.param("id")));
	}

	// Rows written so far (each object's storage meter, objects/storage-meter.ts) by these rooms,
	// these users' inboxes (v1.4), every ops index shard and every author directory shard: what
	// the bench reads around a cross-post, a mention or an inbox read.
	app.get("/v1/admin/meter", async (c) => {
		requireGlobal(c, "storage meters");
		const rooms = (c.req.query("rooms") ?? "").split(",").filter((room) => room !== "");
		if (rooms.length > 64 || !rooms.every(isRoomId)) throw new ParleyError("bad_request", "`rooms` must list 0..64 room ids");
		const inboxes = (c.req.query("inboxes") ?? "").split(",").filter((user) => user !== "");
		if (inboxes.length > 64 || !inboxes.every(isUserId)) throw new ParleyError("bad_request", "`inboxes` must list 0..64 user ids");
		const shards = Array.from({ length: c.get("config").opsIndexShards }, (_, i) => shardName(i));
		const readings = await Promise.all([
			...rooms.map(async (room) => [`room:${room}`, await roomStub(c, room).meterReading()] as const),
			...inboxes.map(async (user) => [`inbox:${user}`, await c.env.INBOX.getByName(user).meterReading()] as const),
			...shards.map(async (shard) => [`index:${shard}`, await c.env.OPS_INDEX.getByName(shard).meterReading()] as const),
			...shards.map(async (shard) => [`authors:${shard}`, await c.env.AUTHORS.getByName(shard).meterReading()] as const),
		]);
		return c.json({ objects: Object.fromEntries(readings) });
	});

	app.post("/v1/admin/faults", async (c) => {
		// A deployment-wide setting (its `rooms` list included): global admins only.
		requireGlobal(c, "fault injection");
		const faults = unwrap(parseFaults(await readJsonBody(c)));
		return c.json(await c.env.CONTROL.getByName("global").setFaults(faults));
	});
}

async function createModeration(c: AppContext): Promise<Response> {
	const request = unwrap(parseModerationRequest(await readJsonBody(c)));
	const { selector } = request;
	const scope = scopeOf(c);
	if (selector.room !== undefined) requireScope(c, [selector.room], `room ${selector.room}`);
	// By author alone, a scoped admin reaches the author's rooms within its claim, and only
	// those are asked: neither the plan nor the preview says anything of the others.
	const rooms =
		selector.room !== undefined
			? [selector.room]
			: roomsInScope(scope, await c.env.AUTHORS.getByName(shardNameFor(c, selector.author ?? "")).rooms(selector.author ?? ""));
	const plan: RoomPlan[] = await Promise.all(rooms.map(async (room) => await roomStub(c, room).moderationPlan(selector)));
	const tooMany = plan.find((p) => p.truncated);
	if (tooMany !== undefined) {
		throw new ParleyError(
			"bad_request",
			`the selector matches more than ${MAX_MESSAGES_PER_ROOM} messages in room ${tooMany.room}; narrow it (time range, room)`,
		);
	}
	const matched = plan.filter((p) => p.msgIds.length > 0);
	const copyRooms = new Map<string, number>();
	for (const p of matched) for (const copy of p.copies) copyRooms.set(copy.room, (copyRooms.get(copy.room) ?? 0) + 1);
	const preview = {
		messages: matched.reduce((n, p) => n + p.msgIds.length, 0),
		copies: matched.reduce((n, p) => n + p.copies.length, 0),
		rooms: matched.map((p) => ({ room: p.room, messages: p.msgIds.length, copies: p.copies.length })),
		// Copies are retracted wherever they are (as a delete would), but a scoped admin is
		// only told the names of rooms in its claim; the others are in the counts.
		copyRooms: [...copyRooms].filter(([room]) => withinScope(scope, [room])).map(([room, copies]) => ({ room, copies })),
	};
	const scoped = scope === null ? {} : { scope };
	if (request.dryRun) return c.json({ dryRun: true, selector, ...scoped, ...preview });
	const id = newModerationId();
	const traceId = traceIdFrom(c.req.header("traceparent"));
	const view = await c.env.MODERATION.getByName(id).start({
		id,
		actor: c.get("identity").id,
		reason: request.reason,
		traceId,
		selector,
		...scoped,
		plan: matched,
	});
	linkTraceParent(c, traceId);
	return c.json({ ...view, preview }, 201);
}

/** `legacy`: the old route, whose clients read the list under `compensations`. */
async function listModerations(c: AppContext, legacy: boolean): Promise<Response> {
	// A moderation is "running" or "done"; the index keeps "done" as the saga state "succeeded".
	const { state, ...rest } = c.req.query();
	if (state !== undefined && state !== "running" && state !== "done")
		throw new ParleyError("bad_request", "`state` must be running or done");
	const filter = unwrap(
		parseListFilter({ ...rest, ...(state === undefined ? {} : { state: state === "done" ? "succeeded" : "running" }) }, SAGA_STATES),
	);
	requireFilterRoom(c, filter);
	const pages = await askShards(c, async (shard, scope) => await shard.listModerations(filter, scope));
	const { items, cursor } = mergePages(pages, filter.limit, (m) => ({ createdAt: m.createdAt, id: m.id }));
	const moderations: ModerationSummary[] = items.map((m) => ({ ...m, state: m.state === "succeeded" ? "done" : m.state }));
	return c.json(legacy ? { moderations, compensations: moderations, cursor } : { moderations, cursor });
}

async function moderationDetail(c: AppContext, id: string): Promise<Response> {
	const view = isModerationId(id) ? await c.env.MODERATION.getByName(id).view() : undefined;
	if (view === undefined) throw new ParleyError("not_found", `no moderation ${id}`);
	// A moderation id names no room: the record is read first, then refused if need be.
	const rooms = [...view.tasks.map((task) => task.room), ...(view.selector.room === undefined ? [] : [view.selector.room])];
	requireScope(c, rooms, `moderation ${id}`);
	const pages = await askShards(c, async (shard, scope) => await shard.audit(500, scope));
	const audit = pages
		.flat()
		.filter((e) => e.traceId === view.traceId)
		.sort((a, b) => a.at - b.at);
	return c.json({ ...view, audit });
}
