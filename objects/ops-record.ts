/**
 * An outbox object's operational record (a room's, a moderation's): the spans it saw, its
 * audit entries, the alerts it raised, and the feed of updates for the ops index. All of it is
 * written inside the transaction of the change it describes; the alarm ships the feed and the
 * alerts afterwards.
 */
import type { AuditEntry, AlertPayload, AlertStatus, AlertView, IndexUpdate, Span } from "../src/ops/types.ts";
import { shardOf } from "../src/ops/shard.ts";
import { backoffDelay } from "../src/saga/backoff.ts";
import type { TaskOrigin } from "../src/saga/types.ts";
import type { AlertRequest, ModerationChange, SagaChange, TaskChange } from "./outbox.ts";

/** Webhook deliveries of one alert before it is marked failed (visible in the console). */
export const ALERT_MAX_ATTEMPTS = 6;

/** Where a feed row goes: the ops index, or the author directory. */
export type FeedSink = "index" | "authors";

/** One author's first message in a room, for the author directory. */
export interface AuthorRoom {
	authorId: string;
	room: string;
	at: number;
	/** v1.4: the author's name then, for their inbox (absent in entries queued by older builds). */
	authorName?: string;
}

interface FeedRow extends Record<string, SqlStorageValue> {
	key: string;
	sink: string;
	shard: number;
	rev: number;
	payload: string;
	attempts: number;
}

interface AlertRow extends Record<string, SqlStorageValue> {
	alert_id: string;
	task_id: string;
	kind: string;
	state: string;
	attempts: number;
	payload: string;
	last_error: string | null;
	created_at: number;
	updated_at: number;
}

export interface RecorderSettings {
	shards: number;
	webhook: boolean;
	baseDelayMs: number;
}

export type FeedBatch = { shard: number; rows: Array<{ key: string; rev: number }> } & (
	| { sink: "index"; updates: IndexUpdate[] }
	| { sink: "authors"; updates: AuthorRoom[] }
);

export class OpsRecord {
	private readonly sql: SqlStorage;
	private readonly room: () => string;
	private readonly settings: RecorderSettings;
	/** Whose record this is: a room's, or a moderation object's (whose name is no room). */
	private readonly owner: TaskOrigin["kind"];

	constructor(sql: SqlStorage, room: () => string, settings: RecorderSettings, owner: TaskOrigin["kind"] = "room") {
		this.sql = sql;
		this.room = room;
		this.settings = settings;
		this.owner = owner;
	}

	/** The object this record belongs to, as alerts name it. */
	private origin(): { origin: TaskOrigin; originRoom?: string } {
		const id = this.room();
		return this.owner === "room" ? { origin: { kind: "room", id }, originRoom: id } : { origin: { kind: "moderation", id } };
	}

	span(traceId: string, at: number, component: string, event: string, detail?: string): void {
		this.sql.exec(
			"INSERT INTO spans (trace_id, at, component, event, detail) VALUES (?, ?, ?, ?, ?)",
			traceId,
			at,
			component,
			event,
			detail ?? null,
		);
	}

	/** Drops spans past retention, a batch at a time; run with the outbox's archiving. */
	pruneSpans(before: number, limit = 500): number {
		return this.sql.exec("DELETE FROM spans WHERE id IN (SELECT id FROM spans WHERE at < ? ORDER BY id LIMIT ?)", before, limit)
			.rowsWritten;
	}

	spans(traceId: string): Span[] {
		const where = this.owner === "room" ? { room: this.room() } : { moderation: this.room() };
		return this.sql
			.exec<{ at: number; component: string; event: string; detail: string | null }>(
				"SELECT at, component, event, detail FROM spans WHERE trace_id = ? ORDER BY at, id",
				traceId,
			)
			.toArray()
			.map((row) =>
				row.detail === null
					? { at: row.at, component: row.component, ...where, event: row.event }
					: { at: row.at, component: row.component, ...where, event: row.event, detail: row.detail },
			);
	}

	/** Queues one update; a newer update for the same record replaces an unsent one. */
	private feed(key: string, shardKey: string, update: IndexUpdate | AuthorRoom, now: number, sink: FeedSink = "index"): void {
		this.sql.exec(
			`INSERT INTO ops_feed (key, sink, shard, rev, payload, next_attempt_at, attempts) VALUES (?1, ?2, ?3, 1, ?4, ?5, 0)
			 ON CONFLICT (key) DO UPDATE SET rev = rev + 1, payload = ?4, next_attempt_at = MIN(next_attempt_at, ?5)`,
			key,
			sink,
			shardOf(shardKey, this.settings.shards),
			JSON.stringify(update),
			now,
		);
	}

	/** Registers an author's first message in this room with the author directory. */
	authorPosted(author: { id: string; name: string }, now: number): void {
		const room = this.room();
		this.feed(`author:${author.id}`, author.id, { authorId: author.id, room, at: now, authorName: author.name }, now, "authors");
	}

	/**
	 * Records task, saga and moderation changes: spans for the trace, updates for the index.
	 * A room's cross-posts get no feed rows: the engine ships each to the index as one record
	 * (TaskEngine.shipOnce), and the spans of their commit, direct attempts and saga moves are
	 * in their own rows (`noted`). What the durable path does to their tasks still gets spans.
	 */
	recordChanges(
		tasks: readonly TaskChange[],
		_sagas: readonly SagaChange[],
		moderations: readonly ModerationChange[],
		now: number,
	): void {
		for (const change of tasks) {
			const { task } = change;
			// A new task needs no span of its own (the commit or the moderation's start names
			// it), nor does a success (the target's own span and the delivery already say so).
			if (change.event !== "create" && change.event !== "succeed" && change.noted !== true) {
				const detail = `${task.kind} to ${task.room}: ${change.from ?? "new"} → ${task.state}, attempt ${task.attempts}${task.lastError === null ? "" : `, ${task.lastError}`}`;
				this.span(task.traceId, now, "outbox", `task.${change.event === "claim" ? "dispatch" : change.event}`, detail);
			}
			if (task.origin.kind !== "room")
				this.feed(`task:${task.taskId}`, task.traceId, { type: "task", version: change.version, task }, now);
		}
		for (const change of moderations) {
			const { moderation } = change;
			if (change.from !== null)
				this.span(moderation.traceId, now, "moderation", `moderation.${moderation.state}`, `${moderation.id} (was ${change.from})`);
			this.feed(`moderation:${moderation.id}`, moderation.traceId, { type: "moderation", version: change.version, moderation }, now);
		}
	}

	audit(entry: AuditEntry, now: number): void {
		const result = this.sql.exec(
			"INSERT INTO audit (at, actor, task_id, action, reason, from_state, to_state, trace_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
			entry.at,
			entry.actor,
			entry.taskId,
			entry.action,
			entry.reason,
			entry.from,
			entry.to,
			entry.traceId,
		);
		const id = (result.one() as { id: number }).id;
		const entryId = `${this.room()}:${id}`;
		this.span(
			entry.traceId,
			now,
			"operator",
			`manual.${entry.action}`,
			`${entry.actor}: ${entry.from} → ${entry.to} (${entry.reason})`,
		);
		this.feed(`audit:${entryId}`, entry.traceId, { type: "audit", entryId, entry }, now);
	}

	/** Records alerts once per (task, kind, epoch); the alarm delivers them. */
	raiseAlerts(requests: readonly AlertRequest[], now: number): void {
		for (const request of requests) {
			const { task } = request;
			const payload: AlertPayload = {
				kind: request.kind,
				taskId: task.taskId,
				sagaId: task.sagaId,
				room: task.room,
				traceId: task.traceId,
				attempts: task.attempts,
				error: task.lastError,
				at: now,
				text:
					request.kind === "task_failed"
						? `Parley: ${task.kind} task ${task.taskId} to room ${task.room} failed after ${task.attempts} attempts: ${task.lastError ?? "unknown error"}`
						: `Parley: ${task.kind} task ${task.taskId} to room ${task.room} is still ${task.state} after ${task.attempts} attempts`,
			};
			const alertId = `${task.taskId}#${request.kind}#${request.epoch}`;
			const state: AlertStatus = this.settings.webhook ? "pending" : "unsent";
			const inserted = this.sql.exec(
				`INSERT OR IGNORE INTO alerts (alert_id, task_id, kind, epoch, state, attempts, next_attempt_at, payload, created_at, updated_at)
				 VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`,
				alertId,
				task.taskId,
				request.kind,
				request.epoch,
				state,
				state === "pending" ? now : null,
				JSON.stringify(payload),
				now,
				now,
			);
			if (inserted.rowsWritten === 0) continue;
			this.span(task.traceId, now, "alert", `alert.${request.kind}`, payload.text);
			this.feedAlert(alertId, now);
		}
	}

	private alertRow(alertId: string): AlertRow | undefined {
		return this.sql.exec<AlertRow>("SELECT * FROM alerts WHERE alert_id = ?", alertId).toArray()[0];
	}

	private feedAlert(alertId: string, now: number): void {
		const row = this.alertRow(alertId);
		if (row === undefined) return;
		const payload = JSON.parse(row.payload) as AlertPayload;
		const { text: _text, ...body } = payload;
		const alert: AlertView = {
			...body,
			alertId,
			...this.origin(),
			status: row.state as AlertStatus,
			deliveryAttempts: row.attempts,
			lastError: row.last_error,
		};
		this.feed(`alert:${alertId}`, payload.traceId, { type: "alert", version: row.updated_at * 8 + row.attempts, alert }, now);
	}

	dueAlerts(now: number, limit = 20): Array<{ alertId: string; payload: AlertPayload }> {
		return this.sql
			.exec<AlertRow>("SELECT * FROM alerts WHERE state = 'pending' AND next_attempt_at <= ? LIMIT ?", now, limit)
			.toArray()
			.map((row) => ({ alertId: row.alert_id, payload: JSON.parse(row.payload) as AlertPayload }));
	}

	alertDelivered(alertId: string, now: number): void {
		const row = this.alertRow(alertId);
		if (row?.state !== "pending") return;
		this.sql.exec(
			"UPDATE alerts SET state = 'sent', attempts = attempts + 1, updated_at = ?, last_error = NULL WHERE alert_id = ?",
			now,
			alertId,
		);
		this.span((JSON.parse(row.payload) as AlertPayload).traceId, now, "alert", "alert.sent", alertId);
		this.feedAlert(alertId, now);
	}

	/** A webhook delivery failed: retry with backoff, then give up visibly. */
	alertUndelivered(alertId: string, error: string, now: number): void {
		const row = this.alertRow(alertId);
		if (row?.state !== "pending") return;
		const attempts = row.attempts + 1;
		const failed = attempts >= ALERT_MAX_ATTEMPTS;
		this.sql.exec(
			"UPDATE alerts SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE alert_id = ?",
			failed ? "failed" : "pending",
			attempts,
			failed ? null : now + backoffDelay(attempts, Math.max(this.settings.baseDelayMs, 1000)),
			error,
			now,
			alertId,
		);
		this.span(
			(JSON.parse(row.payload) as AlertPayload).traceId,
			now,
			"alert",
			failed ? "alert.webhook_failed" : "alert.webhook_retry",
			`${alertId}: ${error}`,
		);
		this.feedAlert(alertId, now);
	}

	listAlerts(limit: number): AlertView[] {
		return this.sql
			.exec<AlertRow>("SELECT * FROM alerts ORDER BY created_at DESC LIMIT ?", limit)
			.toArray()
			.map((row) => {
				const { text: _text, ...body } = JSON.parse(row.payload) as AlertPayload;
				return {
					...body,
					alertId: row.alert_id,
					...this.origin(),
					status: row.state as AlertStatus,
					deliveryAttempts: row.attempts,
					lastError: row.last_error,
				};
			});
	}

	/** Due feed rows, grouped per sink and shard. */
	dueFeed(now: number, limit = 500): FeedBatch[] {
		const rows = this.sql
			.exec<FeedRow>("SELECT key, sink, shard, rev, payload, attempts FROM ops_feed WHERE next_attempt_at <= ? LIMIT ?", now, limit)
			.toArray();
		const batches = new Map<string, FeedBatch>();
		for (const row of rows) {
			const sink: FeedSink = row.sink === "authors" ? "authors" : "index";
			const id = `${sink}:${row.shard}`;
			let batch = batches.get(id);
			if (batch === undefined) {
				batch =
					sink === "authors"
						? { sink, shard: row.shard, rows: [], updates: [] }
						: { sink, shard: row.shard, rows: [], updates: [] };
				batches.set(id, batch);
			}
			batch.rows.push({ key: row.key, rev: row.rev });
			if (batch.sink === "authors") batch.updates.push(JSON.parse(row.payload) as AuthorRoom);
			else batch.updates.push(JSON.parse(row.payload) as IndexUpdate);
		}
		return [...batches.values()];
	}

	/** Shipped: drop the rows, unless one was rewritten while it was in flight. */
	feedShipped(batch: FeedBatch): void {
		for (const row of batch.rows) this.sql.exec("DELETE FROM ops_feed WHERE key = ? AND rev = ?", row.key, row.rev);
	}

	feedFailed(batch: FeedBatch, now: number): void {
		for (const row of batch.rows) {
			this.sql.exec(
				"UPDATE ops_feed SET attempts = attempts + 1, next_attempt_at = ? + (? * MIN(64, 1 << MIN(attempts, 6))) WHERE key = ?",
				now,
				Math.max(this.settings.baseDelayMs, 500),
				row.key,
			);
		}
	}

	/** The earliest time the feed or an alert needs the alarm. */
	nextWakeAt(): number | null {
		return this.sql
			.exec<{ at: number | null }>(
				`SELECT MIN(at) AS at FROM (SELECT MIN(next_attempt_at) AS at FROM ops_feed
				 UNION ALL SELECT MIN(next_attempt_at) AS at FROM alerts WHERE state = 'pending')`,
			)
			.one().at;
	}
}
