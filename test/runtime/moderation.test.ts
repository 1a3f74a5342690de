import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, it, vi } from "vitest";
import type { Identity } from "../../src/auth.ts";
import { MIGRATIONS, MODERATION_MIGRATIONS, OPS_INDEX_MIGRATIONS } from "../../migrations/index.ts";
import { applyMigrations } from "../../objects/migrate.ts";
import type { ModerationRecord, ModerationSummary, ModerationView } from "../../src/ops/moderation.ts";
import type { AuditEntry, IndexUpdate } from "../../src/ops/types.ts";
import type { MessageEvent, RoomEvent } from "../../src/protocol.ts";
import type { TaskMessage, TaskView } from "../../src/saga/types.ts";
import { api, applyTask, errorCode, freshRoom, token } from "./helpers.ts";

/** A fresh spammer per test: moderations by author reach every room the author posted in. */
let spammer: Identity;
beforeEach(() => {
	spammer = { id: `spam-${crypto.randomUUID().slice(0, 8)}`, name: "Spammer", admin: false, rooms: null, guest: false };
});
const bystander: Identity = { id: "bystander", name: "B", admin: false, rooms: null, guest: false };
const adminToken = await token({ sub: "mod", name: "Mod", role: "admin" });

async function post(path: string, body: unknown, auth = adminToken): Promise<Response> {
	return await api(path, { method: "POST", body: JSON.stringify(body), token: auth });
}

async function say(room: string, who: Identity, text: string, crossPost?: string[]) {
	const posted = await env.ROOM.getByName(room).post(
		who,
		{ id: crypto.randomUUID(), text, ...(crossPost ? { crossPost } : {}) },
		crypto.randomUUID().replaceAll("-", ""),
	);
	if (!posted.ok) throw new Error(JSON.stringify(posted));
	return posted.value;
}

async function events(room: string): Promise<RoomEvent[]> {
	return (await env.ROOM.getByName(room).events({ after: 0, limit: 500 })).events;
}

const live = (list: RoomEvent[], authorId: string) =>
	list.filter((e): e is MessageEvent => e.type === "message" && e.author.id === authorId && e.retractedBy === undefined);

async function waitFor<T>(what: () => Promise<T | undefined | false>, timeout = 15_000): Promise<T> {
	return (await vi.waitUntil(async () => (await what()) || undefined, { timeout, interval: 30 })) as T;
}

async function view(id: string): Promise<ModerationView> {
	const response = await api(`/v1/admin/moderations/${id}`, { token: adminToken });
	return (await response.json()) as ModerationView;
}

/** Two rooms with the spammer's messages, one of them cross-posted to a third room. */
async function spamWave() {
	const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
	await say(a, spammer, "spam 1");
	await say(a, bystander, "a real message");
	const crossPosted = await say(a, spammer, "spam everywhere", [c]);
	await say(b, spammer, "spam 2");
	await say(b, spammer, "spam 3");
	await waitFor(async () => (await env.ROOM.getByName(a).saga(crossPosted.sagaId ?? ""))?.state === "succeeded");
	// Wait for the author directory to know both rooms.
	await waitFor(async () => {
		const rooms = await runInDurableObject(
			env.ROOM.getByName(a),
			(_i, s) => s.storage.sql.exec("SELECT COUNT(*) AS n FROM ops_feed").one().n,
		);
		const roomsB = await runInDurableObject(
			env.ROOM.getByName(b),
			(_i, s) => s.storage.sql.exec("SELECT COUNT(*) AS n FROM ops_feed").one().n,
		);
		return rooms === 0 && roomsB === 0;
	});
	return { a, b, c, sagaId: crossPosted.sagaId ?? "" };
}

describe("operator moderation", () => {
	it("previews a dry run without changing anything", async ({ expect }) => {
		const { a, b, c } = await spamWave();
		const before = await Promise.all([a, b, c].map(events));
		const response = await post("/v1/admin/moderations", {
			selector: { author: spammer.id },
			action: "retract",
			reason: "spam wave",
			dryRun: true,
		});
		expect(response.status).toBe(200);
		const preview = (await response.json()) as {
			messages: number;
			copies: number;
			rooms: Array<{ room: string; messages: number }>;
			copyRooms: Array<{ room: string; copies: number }>;
		};
		expect(preview.messages).toBe(4);
		expect(preview.copies).toBe(1);
		expect(preview.rooms.sort((x, y) => x.room.localeCompare(y.room))).toEqual(
			[
				{ room: a, messages: 2, copies: 1 },
				{ room: b, messages: 2, copies: 0 },
			].sort((x, y) => x.room.localeCompare(y.room)),
		);
		expect(preview.copyRooms).toEqual([{ room: c, copies: 1 }]);
		expect(await Promise.all([a, b, c].map(events))).toEqual(before);
	});

	it("retracts every matching message and every copy exactly once, with reason moderated", async ({ expect }) => {
		const { a, b, c, sagaId } = await spamWave();
		const response = await post("/v1/admin/moderations", { selector: { author: spammer.id }, action: "retract", reason: "spam wave" });
		expect(response.status).toBe(201);
		const created = (await response.json()) as ModerationView;
		expect(created).toMatchObject({ actor: "mod", reason: "spam wave", progress: { matched: { messages: 4, copies: 1, rooms: 2 } } });
		expect(created.id).toMatch(/^mod@[0-9a-f]{12}$/);
		// Its tasks name their origin as a moderation, never as a room.
		expect(created.tasks.map((t) => [t.kind, t.origin, t.originRoom])).toEqual([
			["moderate", { kind: "moderation", id: created.id }, undefined],
			["moderate", { kind: "moderation", id: created.id }, undefined],
		]);
		const done = await waitFor(async () => {
			const v = await view(created.id);
			return v.state === "done" && v.progress.done.sagasCompensated === 1 ? v : undefined;
		});
		expect(done.progress.done).toMatchObject({ messages: 4, rooms: 2, sagasCompensated: 1 });
		for (const room of [a, b, c]) {
			const list = await events(room);
			expect(live(list, spammer.id)).toEqual([]);
			const retracts = list.filter((e) => e.type === "retract");
			expect(retracts.every((r) => r.type === "retract" && r.reason === "moderated")).toBe(true);
			// Exactly one retract per spam message.
			const retracted = retracts.map((r) => r.msgId);
			expect(new Set(retracted).size).toBe(retracted.length);
		}
		expect(live(await events(a), bystander.id)).toHaveLength(1);
		expect((await env.ROOM.getByName(a).saga(sagaId))?.state).toBe("compensated");
		// Its tasks are ordinary tasks: listed with the others once indexed.
		const indexed = await waitFor(async () => {
			const list = (await (await api(`/v1/admin/tasks?kind=moderate&limit=500`, { token: adminToken })).json()) as {
				tasks: TaskView[];
			};
			const mine = list.tasks.filter((t) => t.taskId.startsWith(created.id));
			return mine.length === 2 ? mine : undefined;
		});
		expect(indexed.every((t) => t.origin.kind === "moderation" && t.origin.id === created.id && t.originRoom === undefined)).toBe(true);
		// A cross-post's task keeps its origin room beside its origin.
		const delivered = (await (await api(`/v1/admin/tasks?kind=deliver&room=${c}&limit=500`, { token: adminToken })).json()) as {
			tasks: TaskView[];
		};
		expect(delivered.tasks.find((t) => t.sagaId === sagaId)).toMatchObject({ origin: { kind: "room", id: a }, originRoom: a });
		const audit = (await view(created.id)) as ModerationView & { audit: Array<{ action: string; actor: string; reason: string }> };
		expect(audit.audit).toEqual([expect.objectContaining({ action: "moderate", actor: "mod", reason: "spam wave" })]);
		const list = (await (await api("/v1/admin/moderations", { token: adminToken })).json()) as { moderations: Array<{ id: string }> };
		expect(list.moderations.map((x) => x.id)).toContain(created.id);
	});

	it("applies a moderate task once, however often it is delivered, also across eviction", async ({ expect }) => {
		const room = freshRoom("m");
		const first = await say(room, spammer, "one");
		const second = await say(room, spammer, "two");
		const task: TaskMessage = {
			taskId: `mod@000000000001.m.${room}`,
			sagaId: "mod@000000000001",
			kind: "moderate",
			origin: { kind: "moderation", id: "mod@000000000001" },
			targetRoom: room,
			dedupKey: "mod@000000000001:moderate",
			traceId: "d".repeat(32),
			attempt: 1,
			payload: { msgIds: [first.msgId, second.msgId, "99-aaaaaaaaaa"], reason: "moderated" },
		};
		const stub = env.ROOM.getByName(room);
		const outcomes = await Promise.all([1, 2, 3].map(() => applyTask(stub, task, false)));
		await evictDurableObject(stub);
		outcomes.push(await applyTask(stub, task, false));
		expect(outcomes[0]).toMatchObject({ status: "ok", counts: { retracted: 2, alreadyGone: 0, missing: 1 } });
		for (const outcome of outcomes.slice(1)) expect(outcome).toMatchObject({ status: "ok", detail: expect.stringContaining("repeat") });
		expect((await events(room)).filter((e) => e.type === "retract")).toHaveLength(2);
	});

	it("narrows by room and time range", async ({ expect }) => {
		const room = freshRoom("t");
		await say(room, spammer, "old");
		const cut = Date.now() + 1;
		await new Promise((r) => setTimeout(r, 5));
		await say(room, spammer, "new");
		await say(room, bystander, "new too");
		const response = await post("/v1/admin/moderations", {
			selector: { room, from: cut },
			action: "retract",
			reason: "leak",
			dryRun: true,
		});
		expect(((await response.json()) as { messages: number }).messages).toBe(2);
		const byAuthor = await post("/v1/admin/moderations", {
			selector: { room, author: spammer.id, from: cut },
			action: "retract",
			reason: "leak",
			dryRun: true,
		});
		expect(((await byAuthor.json()) as { messages: number }).messages).toBe(1);
	});

	it("refuses unbounded or malformed selectors, and non-admins", async ({ expect }) => {
		for (const body of [
			{ selector: {}, action: "retract", reason: "x" },
			{ selector: { from: 1, to: 2 }, action: "retract", reason: "x" },
			{ selector: { author: "u" }, action: "delete", reason: "x" },
			{ selector: { author: "u" }, action: "retract" },
			{ selector: { room: "BAD!" }, action: "retract", reason: "x" },
			{ selector: { msgIds: ["1-aaaaaaaaaa"] }, action: "retract", reason: "x" },
			{ selector: { room: "r", from: 5, to: 1 }, action: "retract", reason: "x" },
			{ selector: { author: "u" }, action: "retract", reason: "x", dryRun: "yes" },
		]) {
			const response = await post("/v1/admin/moderations", body);
			expect([JSON.stringify(body), response.status, await errorCode(response)]).toEqual([JSON.stringify(body), 400, "bad_request"]);
		}
		const user = await post(
			"/v1/admin/moderations",
			{ selector: { author: "u" }, action: "retract", reason: "x" },
			await token({ sub: "u" }),
		);
		expect(user.status).toBe(403);
		for (const id of ["mod@ffffffffffff", "cmp@ffffffffffff", "garbage"]) {
			expect([id, (await api(`/v1/admin/moderations/${id}`, { token: adminToken })).status]).toEqual([id, 404]);
		}
	});
});

describe("the routes and records from before the rename", () => {
	it("answers the same under /v1/admin/compensations, its list also as `compensations`", async ({ expect }) => {
		const room = freshRoom("alias");
		await say(room, spammer, "spam");
		const body = { selector: { room, author: spammer.id }, action: "retract", reason: "alias" };
		const dry = [
			await post("/v1/admin/moderations", { ...body, dryRun: true }),
			await post("/v1/admin/compensations", { ...body, dryRun: true }),
		];
		const [newDry, oldDry] = await Promise.all(dry.map(async (r) => [r.status, await r.json()]));
		expect(oldDry).toEqual(newDry);
		const response = await post("/v1/admin/compensations", body);
		expect(response.status).toBe(201);
		const created = (await response.json()) as ModerationView;
		// New ids are `mod@…`, whichever route made them.
		expect(created.id).toMatch(/^mod@[0-9a-f]{12}$/);
		await waitFor(async () => (await view(created.id)).state === "done");
		const [byNew, byOld] = await Promise.all(
			[`/v1/admin/moderations/${created.id}`, `/v1/admin/compensations/${created.id}`].map(
				async (path) => await (await api(path, { token: adminToken })).json(),
			),
		);
		expect(byOld).toEqual(byNew);
		const lists = await waitFor(async () => {
			const [fresh, legacy] = (await Promise.all(
				["/v1/admin/moderations?limit=500", "/v1/admin/compensations?limit=500"].map(
					async (path) => await (await api(path, { token: adminToken })).json(),
				),
			)) as [
				{ moderations: ModerationSummary[]; compensations?: unknown },
				{ moderations: ModerationSummary[]; compensations: ModerationSummary[] },
			];
			return fresh.moderations.some((m) => m.id === created.id && m.state === "done") ? { fresh, legacy } : undefined;
		});
		expect(lists.fresh.compensations).toBeUndefined();
		expect(lists.legacy.moderations).toEqual(lists.fresh.moderations);
		expect(lists.legacy.compensations).toEqual(lists.fresh.moderations);
		expect(lists.fresh.moderations.find((m) => m.id === created.id)).toEqual({
			id: created.id,
			actor: "mod",
			reason: "alias",
			traceId: created.traceId,
			state: "done",
			rooms: [room],
			createdAt: created.createdAt,
			updatedAt: expect.any(Number),
		});
		// A room filter keeps moderations with a task in the room.
		const inRoom = (await (await api(`/v1/admin/moderations?room=${room}`, { token: adminToken })).json()) as {
			moderations: ModerationSummary[];
		};
		expect(inRoom.moderations.map((m) => m.id)).toEqual([created.id]);
	});

	it("upgrades a `cmp@…` object kept on the room schema: record, tasks, audit and routes", async ({ expect }) => {
		const room = freshRoom("old");
		const spam = await say(room, spammer, "old spam");
		const id = `cmp@${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
		const traceId = "e".repeat(32);
		const stub = env.MODERATION.getByName(id);
		// Rebuild the object as a build before the rename left it: room schema v1-v4, the record
		// in a `sagas` row (actor in author_id, msg_id '') and in room_meta, its task done.
		const tables = await runInDurableObject(stub, (_instance, state) => {
			const sql = state.storage.sql;
			for (const table of ["moderations", "outbox", "spans", "audit", "alerts", "ops_feed", "_migrations"])
				sql.exec(`DROP TABLE ${table}`);
			applyMigrations(
				state.storage,
				MIGRATIONS.filter((m) => m.version <= 4),
			);
			const plan = [{ room, msgIds: [spam.msgId], copies: [], truncated: false }];
			sql.exec(
				"INSERT INTO sagas (saga_id, msg_id, author_id, author_name, trace_id, state, created_at, updated_at, kind, reason) VALUES (?, '', 'old-mod', 'old-mod', ?, 'running', 1, 2, 'compensation', 'old reason')",
				id,
				traceId,
			);
			sql.exec("INSERT INTO room_meta (key, value) VALUES ('compensation', ?)", JSON.stringify({ selector: { room }, plan }));
			sql.exec(
				`INSERT INTO outbox (task_id, saga_id, kind, room, state, attempts, next_attempt_at, dedup_key, trace_id, payload, created_at, updated_at, live_since)
				 VALUES (?, ?, 'moderate', ?, 'pending', 0, 1, ?, ?, ?, 1, 1, 1)`,
				`${id}.m.${room}`,
				id,
				room,
				`${id}:moderate`,
				traceId,
				JSON.stringify({ msgIds: [spam.msgId], reason: "moderated" }),
			);
			sql.exec(
				"INSERT INTO audit (at, actor, task_id, action, reason, from_state, to_state, trace_id) VALUES (1, 'old-mod', ?, 'compensate', 'old reason', 'none', 'running', ?)",
				id,
				traceId,
			);
			applyMigrations(state.storage, MODERATION_MIGRATIONS);
			return sql
				.exec<{ name: string }>(
					"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name",
				)
				.toArray()
				.map((row) => row.name);
		});
		expect(tables).toEqual(["alerts", "audit", "moderations", "ops_feed", "outbox", "spans"]);
		const stored = await runInDurableObject(stub, (_instance, state) =>
			state.storage.sql.exec("SELECT actor, reason, selector, scope, state FROM moderations").toArray(),
		);
		expect(stored).toEqual([
			{ actor: "old-mod", reason: "old reason", selector: JSON.stringify({ room }), scope: null, state: "running" },
		]);
		const audited = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec("SELECT action FROM audit").toArray());
		expect(audited).toEqual([{ action: "moderate" }]);
		// The old id still parses: its detail and its task are found, and its task still runs.
		const before = await view(id);
		expect(before).toMatchObject({
			id,
			actor: "old-mod",
			reason: "old reason",
			selector: { room },
			traceId,
			progress: { matched: { messages: 1, rooms: 1 } },
		});
		expect(before.tasks).toEqual([expect.objectContaining({ taskId: `${id}.m.${room}`, origin: { kind: "moderation", id } })]);
		const task = (await (
			await api(`/v1/admin/tasks/${encodeURIComponent(`${id}.m.${room}`)}`, { token: adminToken })
		).json()) as TaskView;
		expect(task).toMatchObject({ kind: "moderate", origin: { kind: "moderation", id } });
		await runInDurableObject(stub, async (instance) => await instance.engine.armAlarm());
		const done = await waitFor(async () => {
			const v = await view(id);
			return v.state === "done" ? v : undefined;
		});
		expect(done.progress.done).toMatchObject({ messages: 1, rooms: 1 });
		expect(live(await events(room), spammer.id)).toEqual([]);
	});

	it("moves an ops index shard's moderation rows out of `sagas`, and reads feeds queued before the rename", async ({ expect }) => {
		const shard = env.OPS_INDEX.getByName(`legacy-${crypto.randomUUID().slice(0, 8)}`);
		const [old, queued] = ["cmp@00000000000a", "cmp@00000000000b"];
		const room = freshRoom("idx");
		const traceId = "f".repeat(32);
		await runInDurableObject(shard, (_instance, state) => {
			const sql = state.storage.sql;
			// Back to version 2: its tables go, and so do those of the versions after it.
			const later = ["moderations", "metric_counters", "metric_sockets", "metric_minutes", "crossposts"];
			for (const table of ["sagas", "tasks", "trace_rooms", "audit", "alerts", ...later, "_migrations"])
				sql.exec(`DROP TABLE ${table}`);
			applyMigrations(
				state.storage,
				OPS_INDEX_MIGRATIONS.filter((m) => m.version <= 2),
			);
			sql.exec(
				`INSERT INTO sagas (saga_id, origin_room, msg_id, trace_id, state, targets, created_at, updated_at, version, kind, actor, reason)
				 VALUES (?, ?, '', ?, 'succeeded', ?, 5, 6, 48, 'compensation', 'old-mod', 'old reason')`,
				old,
				old,
				traceId,
				JSON.stringify([room]),
			);
			sql.exec("INSERT INTO trace_rooms (trace_id, room) VALUES (?, ?), (?, ?)", traceId, old, traceId, room);
			sql.exec(
				`INSERT INTO tasks (task_id, saga_id, origin_room, room, kind, state, attempts, next_attempt_at, last_error, trace_id, created_at, updated_at, done_at, version)
				 VALUES (?, ?, ?, ?, 'moderate', 'succeeded', 1, NULL, NULL, ?, 5, 6, 6, 3)`,
				`${old}.m.${room}`,
				old,
				old,
				room,
				traceId,
			);
			sql.exec(
				"INSERT INTO audit (entry_id, at, actor, task_id, action, reason, from_state, to_state, trace_id, saga_id) VALUES ('x:1', 5, 'old-mod', ?, 'compensate', 'old reason', 'none', 'running', ?, ?)",
				old,
				traceId,
				old,
			);
			applyMigrations(state.storage, OPS_INDEX_MIGRATIONS);
		});
		// A feed an old object queued before the rename: its moderation as a saga, its task by originRoom.
		const legacySaga = {
			sagaId: queued,
			originRoom: queued,
			msgId: "",
			traceId,
			state: "running",
			createdAt: 7,
			updatedAt: 7,
			targets: [room],
			kind: "compensation",
			actor: "queued-mod",
			reason: "queued",
		};
		const legacyTask = {
			taskId: `${queued}.m.${room}`,
			sagaId: queued,
			room,
			kind: "moderate",
			state: "pending",
			attempts: 0,
			nextAttemptAt: 7,
			lastError: null,
			actions: [],
			originRoom: queued,
			traceId,
			createdAt: 7,
			updatedAt: 7,
		};
		const legacyAudit = {
			at: 7,
			actor: "queued-mod",
			taskId: queued,
			sagaId: queued,
			action: "compensate",
			reason: "queued",
			from: "none",
			to: "running",
			traceId,
		};
		// Shaped as the old build wrote them, so typed by what the ingest is handed over RPC.
		const updates = JSON.parse(
			JSON.stringify([
				{ type: "saga", version: 56, saga: legacySaga },
				{ type: "task", version: 1, task: legacyTask },
				{ type: "audit", entryId: "y:1", entry: legacyAudit },
			]),
		) as IndexUpdate[];
		await shard.ingest(updates);
		const moderations: ModerationRecord[] = await shard.listModerations({ limit: 10 });
		expect(moderations).toEqual([
			{ id: queued, actor: "queued-mod", reason: "queued", traceId, state: "running", rooms: [room], createdAt: 7, updatedAt: 7 },
			{ id: old, actor: "old-mod", reason: "old reason", traceId, state: "succeeded", rooms: [room], createdAt: 5, updatedAt: 6 },
		]);
		expect(await shard.listSagas({ limit: 10 })).toEqual([]);
		const tasks: TaskView[] = await shard.listTasks({ limit: 10 });
		expect(tasks.map((t) => [t.taskId, t.origin, t.originRoom, t.actions])).toEqual([
			[`${queued}.m.${room}`, { kind: "moderation", id: queued }, undefined, ["skip", "cancel"]],
			[`${old}.m.${room}`, { kind: "moderation", id: old }, undefined, []],
		]);
		const audit: AuditEntry[] = await shard.audit(10);
		expect(audit.map((e) => e.action)).toEqual(["moderate", "moderate"]);
		expect(await shard.traceRooms(traceId)).toEqual([room]);
		expect((await shard.traceModerations(traceId)).sort()).toEqual([old, queued]);
		// A scoped admin of the room sees both moderations, one of another room sees neither.
		expect((await shard.listModerations({ limit: 10 }, [room])).length).toBe(2);
		expect(await shard.listModerations({ limit: 10 }, ["elsewhere"])).toEqual([]);
	});
});
