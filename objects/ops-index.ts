/**
 * One shard of the ops index: a read model of sagas, operator moderations, tasks, audit
 * entries, alerts and which rooms a trace touched, across all rooms. Rooms and moderations
 * feed it through their outboxes (batched per alarm run), so chat messages never reach it and
 * an update is never lost. Upserts keep the newest version they have seen, so repeated or
 * reordered feeds cannot move a record back.
 *
 * Lists take the caller's scope (a scoped admin's rooms claim) and return only the records it
 * reaches, filtered here so that limits and cursors page over what the caller may see. The
 * shard also keeps, per trace, the caller's `traceparent` the trace was started with (a
 * parent link, in the object's key-value storage: one small entry per linked trace).
 */
import { DurableObject } from "cloudflare:workers";
import { OPS_INDEX_MIGRATIONS } from "../migrations/index.ts";
import type { AuditEntry, AlertView, IndexUpdate, ListFilter, SagaSummary, ShardStats } from "../src/ops/types.ts";
import type { ModerationRecord } from "../src/ops/moderation.ts";
import { LATENCY_BUCKETS_MS } from "../src/ops/types.ts";
import { isRoomId, type SagaState, type TaskState } from "../src/protocol.ts";
import type { TaskKind, TaskOrigin, TaskView } from "../src/saga/types.ts";
import { allowedActions } from "../src/saga/policy.ts";
import { type Scope, taskRooms, withinScope } from "../src/ops/scope.ts";
import { isModerationId, originOfRecord, originRooms } from "../src/saga/ids.ts";
import { acceptSample, type CounterSample, HISTORY_COLUMNS, type MinuteSample, type ShardMetrics, seriesKey } from "../src/ops/metrics.ts";
import type { MeterBatch } from "./meter.ts";
import { roomOfPolicyTarget } from "../src/ops/policy-audit.ts";
import { type MeterReading, meteredSql, StorageMeter } from "./storage-meter.ts";
import { applyMigrations } from "./migrate.ts";

/** The room a policy change's audit entry names (`policy@<room>`). */
function policyRooms(target: string): string[] | undefined {
	const room = roomOfPolicyTarget(target);
	return room === undefined ? undefined : [room];
}

/** The deliveries inside the cross-post records, one row each (`d.value` is a delivery). */
const DELIVERIES = "FROM crossposts, json_each(crossposts.deliveries) AS d";

/** Per-minute history kept for the console's charts. */
const HISTORY_KEEP_MS = 2 * 60 * 60_000;

interface TaskRecord extends Record<string, SqlStorageValue> {
	task_id: string;
	saga_id: string;
	origin_kind: string;
	origin_id: string;
	room: string;
	kind: string;
	state: string;
	attempts: number;
	next_attempt_at: number | null;
	last_error: string | null;
	trace_id: string;
	created_at: number;
	updated_at: number;
}

interface SagaRecord extends Record<string, SqlStorageValue> {
	saga_id: string;
	origin_room: string;
	msg_id: string;
	trace_id: string;
	state: string;
	targets: string;
	created_at: number;
	updated_at: number;
}

interface ModerationRow extends Record<string, SqlStorageValue> {
	moderation_id: string;
	actor: string;
	reason: string;
	trace_id: string;
	state: string;
	rooms: string;
	created_at: number;
	updated_at: number;
}

interface CrosspostRecord extends Record<string, SqlStorageValue> {
	created_at: number;
	saga_id: string;
	origin_room: string;
	msg_id: string;
	trace_id: string;
	state: string;
	targets: string;
	deliveries: string;
	updated_at: number;
	version: number;
}

/** A delivery as a cross-post's record keeps it: its view without the actions (they follow the saga's state). */
type StoredDelivery = Omit<TaskView, "actions">;

function crosspostSummary(row: CrosspostRecord): SagaSummary {
	return {
		sagaId: row.saga_id,
		originRoom: row.origin_room,
		msgId: row.msg_id,
		traceId: row.trace_id,
		state: row.state as SagaState,
		createdAt: row.created_at,
		updatedAt: row.updated_at,
		targets: JSON.parse(row.targets) as string[],
	};
}

function deliveriesOf(row: CrosspostRecord): TaskView[] {
	const sagaState = row.state as SagaState;
	return (JSON.parse(row.deliveries) as StoredDelivery[]).map((t) => ({
		...t,
		actions: allowedActions({ kind: t.kind, state: t.state, sagaState }),
	}));
}

/** Newest first, the order of every list: by creation, then by id. */
function newerFirst(a: { createdAt: number; id: string }, b: { createdAt: number; id: string }): number {
	return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** A task row with its saga's (or moderation's) state beside it (null when the index holds neither). */
type TaskWithSaga = TaskRecord & { saga_state: string | null };

function rowOrigin(row: TaskRecord): TaskOrigin {
	return { kind: row.origin_kind === "moderation" ? "moderation" : "room", id: row.origin_id };
}

/** The rooms a task names: its origin room (a moderation has none) and its target. */
function taskRowRooms(row: TaskRecord): string[] {
	return [...originRooms(rowOrigin(row)), row.room];
}

function taskView(row: TaskWithSaga): TaskView {
	const kind = row.kind as TaskKind;
	const state = row.state as TaskState;
	const origin = rowOrigin(row);
	return {
		taskId: row.task_id,
		sagaId: row.saga_id,
		room: row.room,
		kind,
		state,
		attempts: row.attempts,
		nextAttemptAt: row.next_attempt_at,
		lastError: row.last_error,
		actions: allowedActions({ kind, state, sagaState: (row.saga_state ?? undefined) as SagaState | undefined }),
		origin,
		...(origin.kind === "room" ? { originRoom: origin.id } : {}),
		traceId: row.trace_id,
		createdAt: row.created_at,
		updatedAt: row.updated_at,
	};
}

function sagaSummary(row: SagaRecord): SagaSummary {
	const summary: SagaSummary = {
		sagaId: row.saga_id,
		originRoom: row.origin_room,
		msgId: row.msg_id,
		traceId: row.trace_id,
		state: row.state as SagaState,
		createdAt: row.created_at,
		updatedAt: row.updated_at,
		targets: JSON.parse(row.targets) as string[],
	};
	return summary;
}

function moderationRecord(row: ModerationRow): ModerationRecord {
	return {
		id: row.moderation_id,
		actor: row.actor,
		reason: row.reason,
		traceId: row.trace_id,
		state: row.state as SagaState,
		rooms: JSON.parse(row.rooms) as string[],
		createdAt: row.created_at,
		updatedAt: row.updated_at,
	};
}

/** A stored alert; one recorded before alerts had an `origin` names it in `originRoom` only. */
function alertOf(body: string): AlertView {
	const alert = JSON.parse(body) as AlertView;
	const origin = originOfRecord(alert);
	const { originRoom: _named, ...rest } = alert;
	return { ...rest, origin, ...(origin.kind === "room" ? { originRoom: origin.id } : {}) };
}

/**
 * A saga update as builds before the rename fed it for a moderation: a saga of kind
 * "compensation", its id in `originRoom` and its rooms in `targets`. Read as a moderation.
 */
function legacyModeration(saga: SagaSummary): ModerationRecord | undefined {
	const legacy: SagaSummary & { kind?: string; actor?: string; reason?: string } = saga;
	if (legacy.kind !== "compensation") return undefined;
	return {
		id: legacy.sagaId,
		actor: legacy.actor ?? "",
		reason: legacy.reason ?? "",
		traceId: legacy.traceId,
		state: legacy.state,
		rooms: legacy.targets,
		createdAt: legacy.createdAt,
		updatedAt: legacy.updatedAt,
	};
}

/** SQL conditions and bindings for a list filter over a table with these columns. */
function where(filter: ListFilter, id: string, rooms: string[], now: number): { clause: string; args: SqlStorageValue[] } {
	const parts: string[] = [];
	const args: SqlStorageValue[] = [];
	if (filter.state !== undefined) {
		parts.push("state = ?");
		args.push(filter.state);
	}
	if (filter.kind !== undefined) {
		parts.push("kind = ?");
		args.push(filter.kind);
	}
	if (filter.room !== undefined) {
		parts.push(`(${rooms.map((column) => `${column} = ?`).join(" OR ")})`);
		for (const _ of rooms) args.push(filter.room);
	}
	if (filter.olderThanMs !== undefined) {
		parts.push("created_at <= ?");
		args.push(now - filter.olderThanMs);
	}
	if (filter.newerThanMs !== undefined) {
		parts.push("created_at >= ?");
		args.push(now - filter.newerThanMs);
	}
	if (filter.cursor !== undefined) {
		parts.push(`(created_at < ? OR (created_at = ? AND ${id} < ?))`);
		args.push(filter.cursor.createdAt, filter.cursor.createdAt, filter.cursor.id);
	}
	return { clause: parts.length === 0 ? "" : `WHERE ${parts.join(" AND ")}`, args };
}

export class OpsIndex extends DurableObject<Env> {
	private readonly sql: SqlStorage;
	readonly storageMeter = new StorageMeter();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		applyMigrations(ctx.storage, OPS_INDEX_MIGRATIONS);
		this.sql = meteredSql(ctx.storage.sql, this.storageMeter);
	}

	/** Rows this shard has written since it started (see objects/storage-meter.ts). */
	async meterReading(): Promise<MeterReading> {
		return this.storageMeter.reading();
	}

	/** Applies a batch of updates in one transaction. Idempotent. */
	async ingest(updates: IndexUpdate[]): Promise<number> {
		this.ctx.storage.transactionSync(() => {
			for (const update of updates) this.apply(update);
		});
		return updates.length;
	}

	private apply(update: IndexUpdate): void {
		switch (update.type) {
			case "task": {
				const t = update.task;
				// A feed queued before the rename names the origin in `originRoom` only.
				const origin = originOfRecord(t);
				this.sql.exec(
					`INSERT INTO tasks (task_id, saga_id, origin_kind, origin_id, room, kind, state, attempts, next_attempt_at, last_error, trace_id, created_at, updated_at, done_at, version)
					 VALUES (?1, ?2, ?15, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
					 ON CONFLICT (task_id) DO UPDATE SET state = ?6, attempts = ?7, next_attempt_at = ?8, last_error = ?9, updated_at = ?12,
					 done_at = ?13, version = ?14 WHERE excluded.version > tasks.version`,
					t.taskId,
					t.sagaId,
					origin.id,
					t.room,
					t.kind,
					t.state,
					t.attempts,
					t.nextAttemptAt,
					t.lastError,
					t.traceId,
					t.createdAt,
					t.updatedAt,
					["succeeded", "failed", "skipped", "cancelled", "archived"].includes(t.state) ? t.updatedAt : null,
					update.version,
					origin.kind,
				);
				return;
			}
			case "crosspost": {
				const s = update.saga;
				const deliveries: StoredDelivery[] = update.tasks
					.filter((t) => t.kind === "deliver")
					.map(({ actions: _actions, ...rest }) => rest);
				this.sql.exec(
					`INSERT INTO crossposts (created_at, saga_id, origin_room, msg_id, trace_id, state, targets, deliveries, updated_at, version)
					 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
					 ON CONFLICT (created_at, saga_id) DO UPDATE SET state = ?6, targets = ?7, deliveries = ?8, updated_at = ?9, version = ?10
					 WHERE excluded.version > crossposts.version`,
					s.createdAt,
					s.sagaId,
					s.originRoom,
					s.msgId,
					s.traceId,
					s.state,
					JSON.stringify(s.targets),
					JSON.stringify(deliveries),
					s.updatedAt,
					update.version,
				);
				// Compensation's retracts keep a row each, with the saga's state beside them.
				for (const task of update.tasks) {
					if (task.kind === "deliver") continue;
					this.apply({ type: "task", version: update.version, task });
					this.sql.exec(
						"UPDATE tasks SET saga_state = ? WHERE task_id = ? AND version = ? AND saga_state IS NOT ?",
						s.state,
						task.taskId,
						update.version,
						s.state,
					);
				}
				// A saga fed before this table existed moves here whole.
				this.sql.exec("DELETE FROM sagas WHERE saga_id = ?", s.sagaId);
				for (const task of deliveries) this.sql.exec("DELETE FROM tasks WHERE task_id = ?", task.taskId);
				return;
			}
			case "saga": {
				const s = update.saga;
				const legacy = legacyModeration(s);
				if (legacy !== undefined) {
					this.apply({ type: "moderation", version: update.version, moderation: legacy });
					return;
				}
				this.sql.exec(
					`INSERT INTO sagas (saga_id, origin_room, msg_id, trace_id, state, targets, created_at, updated_at, version)
					 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
					 ON CONFLICT (saga_id) DO UPDATE SET state = ?5, targets = ?6, updated_at = ?8, version = ?9 WHERE excluded.version > sagas.version`,
					s.sagaId,
					s.originRoom,
					s.msgId,
					s.traceId,
					s.state,
					JSON.stringify(s.targets),
					s.createdAt,
					s.updatedAt,
					update.version,
				);
				for (const room of [s.originRoom, ...s.targets]) {
					this.sql.exec("INSERT OR IGNORE INTO trace_rooms (trace_id, room) VALUES (?, ?)", s.traceId, room);
				}
				return;
			}
			case "moderation": {
				const m = update.moderation;
				this.sql.exec(
					`INSERT INTO moderations (moderation_id, actor, reason, trace_id, state, rooms, created_at, updated_at, version)
					 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
					 ON CONFLICT (moderation_id) DO UPDATE SET state = ?5, rooms = ?6, updated_at = ?8, version = ?9 WHERE excluded.version > moderations.version`,
					m.id,
					m.actor,
					m.reason,
					m.traceId,
					m.state,
					JSON.stringify(m.rooms),
					m.createdAt,
					m.updatedAt,
					update.version,
				);
				// The moderation's own spans are found through its row (traceModerations).
				for (const room of m.rooms)
					this.sql.exec("INSERT OR IGNORE INTO trace_rooms (trace_id, room) VALUES (?, ?)", m.traceId, room);
				return;
			}
			case "audit": {
				// A feed queued before the rename audits a moderation's start as `compensate`.
				const e = update.entry.action === "compensate" ? { ...update.entry, action: "moderate" } : update.entry;
				this.sql.exec(
					"INSERT OR IGNORE INTO audit (entry_id, at, actor, task_id, action, reason, from_state, to_state, trace_id, saga_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
					update.entryId,
					e.at,
					e.actor,
					e.taskId,
					e.action,
					e.reason,
					e.from,
					e.to,
					e.traceId,
					e.sagaId ?? null,
				);
				return;
			}
			case "alert":
				this.sql.exec(
					`INSERT INTO alerts (alert_id, body, at, version) VALUES (?1, ?2, ?3, ?4)
					 ON CONFLICT (alert_id) DO UPDATE SET body = ?2, version = ?4 WHERE excluded.version > alerts.version`,
					update.alert.alertId,
					JSON.stringify(update.alert),
					update.alert.at,
					update.version,
				);
				return;
		}
	}

	/**
	 * The first `limit` rows of an ordered query that `keep` accepts. Without `keep` the limit
	 * is the query's; with it, rows are read in order until enough are kept.
	 */
	private firstRows<T extends Record<string, SqlStorageValue>>(
		query: string,
		args: SqlStorageValue[],
		limit: number,
		keep?: (row: T) => boolean,
	): T[] {
		if (keep === undefined) return this.sql.exec<T>(`${query} LIMIT ?`, ...args, limit).toArray();
		const kept: T[] = [];
		if (limit <= 0) return kept;
		for (const row of this.sql.exec<T>(query, ...args)) {
			if (!keep(row)) continue;
			kept.push(row);
			if (kept.length >= limit) break;
		}
		return kept;
	}

	/**
	 * Cross-post records newest first that may hold matches of the filter (by time, room and
	 * a delivery's state), read one at a time until `enough` says stop.
	 */
	private *crossposts(filter: ListFilter, now: number, deliveryState?: string): Generator<CrosspostRecord> {
		const parts: string[] = [];
		const args: SqlStorageValue[] = [];
		if (filter.olderThanMs !== undefined) {
			parts.push("created_at <= ?");
			args.push(now - filter.olderThanMs);
		}
		if (filter.newerThanMs !== undefined) {
			parts.push("created_at >= ?");
			args.push(now - filter.newerThanMs);
		}
		if (filter.cursor !== undefined) {
			parts.push("created_at <= ?");
			args.push(filter.cursor.createdAt);
		}
		if (filter.room !== undefined) {
			parts.push("(origin_room = ? OR EXISTS (SELECT 1 FROM json_each(crossposts.targets) WHERE value = ?))");
			args.push(filter.room, filter.room);
		}
		if (deliveryState !== undefined) {
			parts.push("EXISTS (SELECT 1 FROM json_each(crossposts.deliveries) WHERE json_extract(value, '$.state') = ?)");
			args.push(deliveryState);
		}
		const clause = parts.length === 0 ? "" : `WHERE ${parts.join(" AND ")}`;
		yield* this.sql.exec<CrosspostRecord>(`SELECT * FROM crossposts ${clause} ORDER BY created_at DESC, saga_id DESC`, ...args);
	}

	/** Whether a (createdAt, id) position lies strictly past the filter's cursor. */
	private static pastCursor(filter: ListFilter, createdAt: number, id: string): boolean {
		const cursor = filter.cursor;
		return cursor === undefined || createdAt < cursor.createdAt || (createdAt === cursor.createdAt && id < cursor.id);
	}

	/**
	 * Tasks, newest first; a scope keeps those whose origin and target rooms it reaches.
	 * Deliveries of cross-posts come from their records, every other task from its own row;
	 * both are read newest first and merged.
	 */
	async listTasks(filter: ListFilter, scope: Scope = null): Promise<TaskView[]> {
		// A room id never equals a moderation's id (room ids hold no `@`): origin_id = room is a room origin.
		const now = Date.now();
		const { clause, args } = where(filter, "task_id", ["room", "origin_id"], now);
		const keep = scope === null ? undefined : (row: TaskWithSaga) => withinScope(scope, taskRowRooms(row));
		const rows = this.firstRows<TaskWithSaga>(
			`SELECT tasks.*, COALESCE(tasks.saga_state, (SELECT state FROM sagas WHERE sagas.saga_id = tasks.saga_id),
			 (SELECT state FROM moderations WHERE moderations.moderation_id = tasks.saga_id)) AS saga_state
			 FROM tasks ${clause} ORDER BY created_at DESC, task_id DESC`,
			args,
			filter.limit,
			keep,
		).map(taskView);
		const deliveries: TaskView[] = [];
		if (filter.kind === undefined || filter.kind === "deliver") {
			for (const record of this.crossposts(filter, now, filter.state)) {
				// Every delivery of a cross-post shares its creation time: once enough are found, older records cannot come first.
				if (deliveries.length >= filter.limit && (deliveries.at(-1)?.createdAt ?? 0) > record.created_at) break;
				const matching = deliveriesOf(record)
					.filter((task) => filter.state === undefined || task.state === filter.state)
					.filter((task) => filter.room === undefined || task.room === filter.room || record.origin_room === filter.room)
					.filter((task) => OpsIndex.pastCursor(filter, task.createdAt, task.taskId))
					.filter((task) => scope === null || withinScope(scope, [record.origin_room, task.room]))
					.sort((a, b) => (a.taskId < b.taskId ? 1 : -1));
				deliveries.push(...matching);
			}
		}
		return [...rows, ...deliveries]
			.sort((a, b) => newerFirst({ createdAt: a.createdAt, id: a.taskId }, { createdAt: b.createdAt, id: b.taskId }))
			.slice(0, filter.limit);
	}

	/** Cross-post sagas, newest first. A scope keeps those whose every room (origin and targets) it reaches. */
	async listSagas(filter: ListFilter, scope: Scope = null): Promise<SagaSummary[]> {
		// A task kind means nothing to a saga: the list ignores one.
		const sagaFilter: ListFilter = { ...filter, kind: undefined };
		const { clause, args } = where(sagaFilter, "saga_id", ["origin_room"], Date.now());
		const keep =
			scope === null
				? undefined
				: (row: SagaRecord) => withinScope(scope, [row.origin_room, ...(JSON.parse(row.targets) as string[])]);
		const rows = this.firstRows(`SELECT * FROM sagas ${clause} ORDER BY created_at DESC, saga_id DESC`, args, filter.limit, keep);
		// A room filter also matches sagas that reached the room as a target.
		if (filter.room !== undefined) {
			const { clause: targetClause, args: targetArgs } = where({ ...sagaFilter, room: undefined }, "saga_id", [], Date.now());
			const joiner = targetClause === "" ? "WHERE" : `${targetClause} AND`;
			const targeted = this.firstRows(
				`SELECT * FROM sagas ${joiner} EXISTS (SELECT 1 FROM json_each(sagas.targets) WHERE value = ?) ORDER BY created_at DESC, saga_id DESC`,
				[...targetArgs, filter.room],
				filter.limit,
				keep,
			);
			const seen = new Set(rows.map((r) => r.saga_id));
			for (const row of targeted) if (!seen.has(row.saga_id)) rows.push(row);
			rows.sort((a, b) => b.created_at - a.created_at || (a.saga_id < b.saga_id ? 1 : -1));
		}
		const older = rows.slice(0, filter.limit).map(sagaSummary);
		const recent: SagaSummary[] = [];
		for (const record of this.crossposts({ ...sagaFilter, cursor: filter.cursor }, Date.now())) {
			if (recent.length >= filter.limit) break;
			if (filter.state !== undefined && record.state !== filter.state) continue;
			if (!OpsIndex.pastCursor(filter, record.created_at, record.saga_id)) continue;
			const summary = crosspostSummary(record);
			if (scope !== null && !withinScope(scope, [summary.originRoom, ...summary.targets])) continue;
			recent.push(summary);
		}
		return [...older, ...recent]
			.sort((a, b) => newerFirst({ createdAt: a.createdAt, id: a.sagaId }, { createdAt: b.createdAt, id: b.sagaId }))
			.slice(0, filter.limit);
	}

	/**
	 * Operator moderations, newest first; a room filter keeps those with a task in the room. A
	 * scope keeps those whose every room (its tasks' rooms) it reaches.
	 */
	async listModerations(filter: ListFilter, scope: Scope = null): Promise<ModerationRecord[]> {
		const { clause, args } = where({ ...filter, kind: undefined, room: undefined }, "moderation_id", [], Date.now());
		const inRoom = "EXISTS (SELECT 1 FROM json_each(moderations.rooms) WHERE value = ?)";
		const query =
			filter.room === undefined
				? `SELECT * FROM moderations ${clause}`
				: `SELECT * FROM moderations ${clause === "" ? "WHERE" : `${clause} AND`} ${inRoom}`;
		const keep = scope === null ? undefined : (row: ModerationRow) => withinScope(scope, JSON.parse(row.rooms) as string[]);
		return this.firstRows<ModerationRow>(
			`${query} ORDER BY created_at DESC, moderation_id DESC`,
			filter.room === undefined ? args : [...args, filter.room],
			filter.limit,
			keep,
		).map(moderationRecord);
	}

	/** The rooms an operator moderation names (its tasks' rooms), from its record here. */
	private moderationRooms(id: string): string[] {
		const row = this.sql.exec<{ rooms: string }>("SELECT rooms FROM moderations WHERE moderation_id = ?", id).toArray()[0];
		return row === undefined ? [] : (JSON.parse(row.rooms) as string[]);
	}

	/**
	 * Audit entries, newest first. A scope keeps those about a task it reaches, or about a
	 * moderation whose every room it reaches (the moderation's record shares the entry's
	 * trace id, so it is in this shard too).
	 */
	async audit(limit: number, scope: Scope = null): Promise<AuditEntry[]> {
		type AuditRow = {
			at: number;
			actor: string;
			task_id: string;
			action: string;
			reason: string;
			from_state: string;
			to_state: string;
			trace_id: string;
			saga_id: string | null;
		};
		const keep =
			scope === null
				? undefined
				: (row: AuditRow) =>
						withinScope(
							scope,
							taskRooms(row.task_id) ??
								policyRooms(row.task_id) ??
								(isModerationId(row.task_id) ? this.moderationRooms(row.task_id) : []),
						);
		return this.firstRows<AuditRow>("SELECT * FROM audit ORDER BY at DESC", [], limit, keep).map((row) => ({
			at: row.at,
			actor: row.actor,
			taskId: row.task_id,
			...(row.saga_id === null ? {} : { sagaId: row.saga_id }),
			action: row.action,
			reason: row.reason,
			from: row.from_state,
			to: row.to_state,
			traceId: row.trace_id,
		}));
	}

	/** Alerts, newest first; a scope keeps those whose origin and target rooms it reaches. */
	async alerts(limit: number, scope: Scope = null): Promise<AlertView[]> {
		const keep =
			scope === null
				? undefined
				: (row: { body: string }) => {
						const alert = alertOf(row.body);
						return withinScope(scope, [...originRooms(alert.origin), alert.room]);
					};
		return this.firstRows<{ body: string }>("SELECT body FROM alerts ORDER BY at DESC", [], limit, keep).map((row) =>
			alertOf(row.body),
		);
	}

	/**
	 * Records the caller's `traceparent` a trace the server minted was started with. A trace id
	 * is minted per request, so a trace has one parent; the first link stays.
	 */
	async linkParent(traceId: string, parent: string, at: number): Promise<void> {
		const key = `parent:${traceId}`;
		if (this.ctx.storage.kv.get(key) === undefined) this.ctx.storage.kv.put(key, { parent, at });
	}

	/** The caller's `traceparent` this trace was started with, if it came with one. */
	async traceParent(traceId: string): Promise<string | undefined> {
		return this.ctx.storage.kv.get<{ parent: string }>(`parent:${traceId}`)?.parent;
	}

	/**
	 * The cross-posts of a trace (a trace has one): found by reading the records newest first,
	 * since no index is kept for it (each entry would be a row written per cross-post).
	 */
	async traceSagas(traceId: string): Promise<Array<{ sagaId: string; originRoom: string; targets: string[] }>> {
		return this.sql
			.exec<{ saga_id: string; origin_room: string; targets: string }>(
				"SELECT saga_id, origin_room, targets FROM crossposts WHERE trace_id = ? ORDER BY created_at DESC",
				traceId,
			)
			.toArray()
			.map((row) => ({ sagaId: row.saga_id, originRoom: row.origin_room, targets: JSON.parse(row.targets) as string[] }));
	}

	/** The rooms a trace touched: those recorded for it, and its cross-posts' origin and targets. */
	async traceRooms(traceId: string): Promise<string[]> {
		const rooms = this.sql
			.exec<{ room: string }>("SELECT room FROM trace_rooms WHERE trace_id = ?", traceId)
			.toArray()
			.map((row) => row.room);
		for (const saga of await this.traceSagas(traceId)) rooms.push(saga.originRoom, ...saga.targets);
		// An inbox run's targets are users' inboxes (v1.4), which keep no spans: its origin has them.
		return [...new Set(rooms)].filter(isRoomId);
	}

	/** The operator moderations a trace belongs to (each records spans of its own). */
	async traceModerations(traceId: string): Promise<string[]> {
		return this.sql
			.exec<{ id: string }>("SELECT moderation_id AS id FROM moderations WHERE trace_id = ?", traceId)
			.toArray()
			.map((row) => row.id);
	}

	async stats(): Promise<ShardStats> {
		const count = (from: string): Record<string, number> =>
			Object.fromEntries(
				this.sql
					.exec<{ state: string; n: number }>(`SELECT state, COUNT(*) AS n FROM ${from} GROUP BY state`)
					.toArray()
					.map((row) => [row.state, row.n]),
			);
		const latency = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
		const cases = LATENCY_BUCKETS_MS.map((bound, i) => `WHEN done_at - created_at <= ${bound} THEN ${i}`).join(" ");
		for (const row of this.sql.exec<{ bucket: number; n: number }>(
			`SELECT CASE ${cases} ELSE ${LATENCY_BUCKETS_MS.length} END AS bucket, COUNT(*) AS n
			 FROM tasks WHERE done_at IS NOT NULL AND state = 'succeeded' GROUP BY bucket`,
		)) {
			latency[row.bucket] = row.n;
		}
		// Cross-posts' deliveries are inside their records.
		const tasks = count("tasks");
		const sagas = count("sagas");
		for (const { state, n } of this.crosspostStates()) sagas[state] = (sagas[state] ?? 0) + n;
		for (const { state, n } of this.deliveryStates()) tasks[state] = (tasks[state] ?? 0) + n;
		const took = "json_extract(d.value, '$.updatedAt') - json_extract(d.value, '$.createdAt')";
		const innerCases = LATENCY_BUCKETS_MS.map((bound, i) => `WHEN ${took} <= ${bound} THEN ${i}`).join(" ");
		for (const row of this.sql.exec<{ bucket: number; n: number }>(
			`SELECT CASE ${innerCases} ELSE ${LATENCY_BUCKETS_MS.length} END AS bucket, COUNT(*) AS n ${DELIVERIES}
			 WHERE json_extract(d.value, '$.state') = 'succeeded' GROUP BY bucket`,
		)) {
			latency[row.bucket] = (latency[row.bucket] ?? 0) + row.n;
		}
		return { tasks, sagas, latency, oldestPendingCreatedAt: this.oldestPendingAt() };
	}

	/** Cross-post records by saga state. */
	private crosspostStates(): Array<{ state: string; n: number }> {
		return this.sql.exec<{ state: string; n: number }>("SELECT state, COUNT(*) AS n FROM crossposts GROUP BY state").toArray();
	}

	/** The deliveries inside cross-post records, by state (they are all of kind `deliver`). */
	private deliveryStates(): Array<{ state: string; n: number }> {
		return this.sql
			.exec<{ state: string; n: number }>(
				`SELECT json_extract(d.value, '$.state') AS state, COUNT(*) AS n ${DELIVERIES} GROUP BY state`,
			)
			.toArray();
	}

	/** When the oldest unfinished task was created: task rows, and deliveries inside cross-post records. */
	private oldestPendingAt(): number | null {
		const oldest = this.sql
			.exec<{ at: number | null }>("SELECT MIN(created_at) AS at FROM tasks WHERE state IN ('pending', 'processing')")
			.one().at;
		const oldestDelivery = this.sql
			.exec<{ at: number | null }>(
				`SELECT MIN(json_extract(d.value, '$.createdAt')) AS at ${DELIVERIES} WHERE json_extract(d.value, '$.state') IN ('pending', 'processing')`,
			)
			.one().at;
		return oldest === null ? oldestDelivery : oldestDelivery === null ? oldest : Math.min(oldest, oldestDelivery);
	}

	/**
	 * Adds a room's (or compensation's) counter increments, and keeps its socket count. Series
	 * Parley does not define are dropped (acceptSample), so the table's size is bounded by the
	 * families' label sets, whoever calls.
	 */
	async recordMetrics(batch: MeterBatch): Promise<void> {
		const minute = Math.floor(batch.at / 60_000) * 60_000;
		const before = this.storageMeter.rowsWritten;
		try {
			this.writeMetrics(batch, minute);
		} finally {
			this.storageMeter.metricsRows += this.storageMeter.rowsWritten - before;
		}
	}

	private writeMetrics(batch: MeterBatch, minute: number): void {
		this.ctx.storage.transactionSync(() => {
			const history = { messages: 0, attempts: 0, failures: 0 };
			for (const sample of batch.counters) {
				if (!acceptSample(sample)) continue;
				this.sql.exec(
					`INSERT INTO metric_counters (series, name, part, labels, value) VALUES (?, ?, ?, ?, ?)
					 ON CONFLICT (series) DO UPDATE SET value = value + excluded.value`,
					seriesKey(sample),
					sample.name,
					sample.part ?? null,
					JSON.stringify(sample.labels),
					sample.value,
				);
				const column = HISTORY_COLUMNS[sample.name];
				if (column !== undefined) history[column] += sample.value;
			}
			if (history.messages + history.attempts + history.failures > 0) {
				this.sql.exec(
					`INSERT INTO metric_minutes (minute, messages, attempts, failures) VALUES (?1, ?2, ?3, ?4)
					 ON CONFLICT (minute) DO UPDATE SET messages = messages + ?2, attempts = attempts + ?3, failures = failures + ?4`,
					minute,
					history.messages,
					history.attempts,
					history.failures,
				);
				this.sql.exec("DELETE FROM metric_minutes WHERE minute < ?", minute - HISTORY_KEEP_MS);
			}
			if (batch.sockets !== undefined) {
				// A room with no socket left needs no row: the sum is the same without it.
				if (batch.sockets > 0) {
					this.sql.exec(
						"INSERT INTO metric_sockets (source, sockets, at) VALUES (?1, ?2, ?3) ON CONFLICT (source) DO UPDATE SET sockets = ?2, at = ?3 WHERE excluded.at >= metric_sockets.at",
						batch.source,
						batch.sockets,
						batch.at,
					);
				} else {
					this.sql.exec("DELETE FROM metric_sockets WHERE source = ? AND at <= ?", batch.source, batch.at);
				}
			}
		});
	}

	/** This shard's part of a scrape: counter totals, sockets, and counts from its own rows. */
	async metrics(): Promise<ShardMetrics> {
		const counters: CounterSample[] = this.sql
			.exec<{ name: string; part: string | null; labels: string; value: number }>(
				"SELECT name, part, labels, value FROM metric_counters",
			)
			.toArray()
			.map((row) => {
				const sample = {
					name: row.name,
					labels: JSON.parse(row.labels) as Record<string, string>,
					value: row.value,
				} as CounterSample;
				if (row.part === "bucket" || row.part === "sum" || row.part === "count") sample.part = row.part;
				return sample;
			});
		const sockets = this.sql.exec<{ n: number | null }>("SELECT SUM(sockets) AS n FROM metric_sockets").one().n ?? 0;
		// Cross-posts' deliveries and saga states are inside their records (one row each).
		const tasks = [
			...this.sql
				.exec<{ state: string; kind: string; n: number }>("SELECT state, kind, COUNT(*) AS n FROM tasks GROUP BY state, kind")
				.toArray(),
			...this.deliveryStates().map(({ state, n }) => ({ state, kind: "deliver", n })),
		];
		const sagas = [
			...this.sql.exec<{ state: string; n: number }>("SELECT state, COUNT(*) AS n FROM sagas GROUP BY state").toArray(),
			...this.crosspostStates(),
		];
		const alerts = this.sql
			.exec<{ status: string; n: number }>(
				"SELECT json_extract(body, '$.status') AS status, COUNT(*) AS n FROM alerts GROUP BY status",
			)
			.toArray();
		return { counters, sockets, tasks, sagas, alerts, oldestPendingCreatedAt: this.oldestPendingAt() };
	}

	/** Minutes since `since` (Unix ms), oldest first. */
	async metricsHistory(since: number): Promise<MinuteSample[]> {
		return this.sql
			.exec<{ minute: number; messages: number; attempts: number; failures: number }>(
				"SELECT * FROM metric_minutes WHERE minute >= ? ORDER BY minute",
				since,
			)
			.toArray()
			.map((row) => ({ at: row.minute, messages: row.messages, attempts: row.attempts, failures: row.failures }));
	}

	/** The cross-post saga of a message id, if this shard holds one (a search by message id). */
	async sagaOfMessage(msgId: string): Promise<SagaSummary | undefined> {
		// A cross-post record has no index by message id (each entry would be a row written per
		// cross-post): a search, rare and an operator's, reads the records instead.
		const record = this.sql
			.exec<CrosspostRecord>("SELECT * FROM crossposts WHERE msg_id = ? ORDER BY created_at DESC LIMIT 1", msgId)
			.toArray()[0];
		if (record !== undefined) return crosspostSummary(record);
		const row = this.sql.exec<SagaRecord>("SELECT * FROM sagas WHERE msg_id = ? ORDER BY created_at DESC LIMIT 1", msgId).toArray()[0];
		return row === undefined ? undefined : sagaSummary(row);
	}
}
