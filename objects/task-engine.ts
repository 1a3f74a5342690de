/**
 * The machinery every object with an outbox shares (a room, an operator moderation):
 * transactions that open the outbox's unit of work and record what it changed for traces,
 * the index and alerts; the alarm ticker that dispatches due tasks to the queue with leases,
 * ships index updates and posts alerts; and the origin-side calls of the queue consumer and
 * the operators.
 */
import { ok, type Result } from "../src/errors.ts";
import type { Config } from "../src/config.ts";
import { shardName } from "../src/ops/shard.ts";
import type { AlertView, Span } from "../src/ops/types.ts";
import { withTimeout } from "../src/saga/errors.ts";
import { batchTasks } from "../src/saga/batches.ts";
import type { ManualAction, SagaFrameData, TaskBatch, TaskReport, TaskView } from "../src/saga/types.ts";
import type { MeterReading, StorageMeter } from "./meter.ts";
import type { OpsRecord } from "./ops-record.ts";
import { type Outbox, type OutboxChanges, TASK_RETENTION_MS } from "./outbox.ts";

/** Queue sends and index feeds from the alarm give up after this; the rows stay and retry. */
const OUTBOUND_TIMEOUT_MS = 10_000;
/** An alert webhook that has not answered by then counts as a failed delivery. */
const WEBHOOK_TIMEOUT_MS = 5_000;

/** What the queue consumer saw of one delivery, for the trace. */
export interface DeliveryNote {
	receivedAt: number;
	queueAttempts: number;
}

/** What an operator's action answers: the task after it, and whether it only repeated the last one. */
export type ActionReply = Result<{ task: TaskView; repeated: boolean }>;

/** Where claimed tasks go: the OUTBOX queue binding, or a test's stand-in. */
export interface TaskQueue {
	sendBatch(messages: Array<{ body: TaskBatch }>): Promise<unknown>;
}

export interface EngineHost {
	ctx: DurableObjectState;
	/** Counts the object's rows written; the engine adds the alarms it sets and deletes. */
	meter: StorageMeter;
	env(): Env;
	config: Config;
	outbox: Outbox;
	ops: OpsRecord;
	/** The object's name, for logs. */
	name(): string;
	/** Puts in-memory state back in step after a rolled-back transaction. */
	onRollback?(): void;
	/** Tells interested sockets about sagas that reached an end state, once committed. */
	onSagaReports?(reports: SagaFrameData[]): void;
}

export class TaskEngine {
	/**
	 * The object's clock: every outbox and ops write this engine makes, its alarm schedule, and
	 * the room's own timestamps (events, limits, sockets). Production keeps Date.now; a test
	 * moves time on by replacing it (runInDurableObject), instead of editing times in the tables.
	 */
	now: () => number = () => Date.now();
	/** Where the ticker sends claimed tasks; a test replaces it to hold or fail sends. */
	queue: () => TaskQueue = () => this.host.env().OUTBOX;

	private readonly host: EngineHost;

	constructor(host: EngineHost) {
		this.host = host;
	}

	/**
	 * Runs a write as one SQLite transaction and one outbox unit of work, together with the
	 * spans, index updates and alerts its changes imply. On a throw nothing of it stays; once
	 * it has committed, sockets hear about the sagas it ended.
	 */
	write<T>(work: () => T): T {
		const { ctx, outbox, ops } = this.host;
		let unit: { result: T; changes: OutboxChanges };
		try {
			unit = ctx.storage.transactionSync(() => {
				const done = outbox.transact(work);
				const now = this.now();
				ops.recordChanges(done.changes.tasks, done.changes.sagas, done.changes.moderations, now);
				ops.raiseAlerts(done.changes.alerts, now);
				return done;
			});
		} catch (error) {
			this.host.onRollback?.();
			throw error;
		}
		if (unit.changes.reports.length > 0) this.host.onSagaReports?.(unit.changes.reports);
		return unit.result;
	}

	/** Whether anything needs the alarm; checked on start, since a fired alarm is used up. */
	needsAlarm(): boolean {
		return this.host.outbox.countLive() > 0 || this.host.ops.nextWakeAt() !== null;
	}

	/** Whether any work is unfinished: live tasks or anything still to ship (tests wait on it). */
	busy(): boolean {
		return this.needsAlarm();
	}

	/**
	 * Sets the alarm to the next due time (a task, an index update, an alert, a stuck
	 * deadline), or clears it when nothing is due. The schedule itself lives in SQLite.
	 */
	async armAlarm(notBefore = 0): Promise<void> {
		const { ctx, outbox, ops, config } = this.host;
		const times = [outbox.nextWakeAt(), ops.nextWakeAt(), outbox.nextStuckAt(config.alertStuckMs)].filter(
			(t): t is number => t !== null,
		);
		const current = await ctx.storage.getAlarm();
		if (times.length === 0) {
			if (current !== null) {
				this.host.meter.alarmWrites++;
				await ctx.storage.deleteAlarm();
			}
			return;
		}
		// The schedule is in the engine's time, the alarm in real time; they differ only in tests.
		const next = Math.max(Math.min(...times), notBefore) - (this.now() - Date.now());
		if (current !== next) {
			this.host.meter.alarmWrites++;
			await ctx.storage.setAlarm(next);
		}
	}

	/** After an outbox change: re-arm for what is due next. */
	async afterWrite(notBefore = 0): Promise<void> {
		await this.armAlarm(notBefore);
	}

	/**
	 * The ticker: claims due tasks with a lease and sends them to the queue, ships index
	 * updates, posts alerts. It never throws: the platform's own alarm retries are limited,
	 * so failures become task backoff and the next alarm is always computed from the table.
	 */
	async alarm(): Promise<void> {
		const { outbox, config } = this.host;
		const now = this.now();
		// After a failed run the next one waits a base delay, so a persistent fault cannot spin.
		let notBefore = 0;
		try {
			const claimed = this.write(() => {
				outbox.archiveOld(now);
				this.host.ops.pruneSpans(now - TASK_RETENTION_MS);
				outbox.raiseStuck(now, config.alertStuckMs);
				return outbox.claimDue(now);
			});
			const batches = batchTasks(claimed);
			for (let i = 0; i < batches.length; i += 100) {
				const chunk = batches.slice(i, i + 100);
				try {
					await withTimeout("queue send", OUTBOUND_TIMEOUT_MS, this.queue().sendBatch(chunk.map((body) => ({ body }))));
				} catch (error) {
					const message = `queue send failed: ${error instanceof Error ? error.message : String(error)}`;
					const taskIds = chunk.flatMap((batch) => batch.tasks.map((t) => t.taskId));
					console.error(JSON.stringify({ level: "error", msg: message, origin: this.host.name(), tasks: taskIds, traceId: chunk[0]?.tasks[0]?.traceId }));
					this.write(() => outbox.releaseUnsent(taskIds, message, this.now()));
				}
			}
			await this.shipFeed();
			await this.deliverAlerts();
		} catch (error) {
			notBefore = this.now() + config.outboxBaseDelayMs;
			console.error(JSON.stringify({ level: "error", msg: "outbox alarm failed", origin: this.host.name(), error: String(error) }));
		} finally {
			await this.afterWrite(notBefore);
		}
	}

	/** Sends due feed rows to their shards; a shard that fails keeps its rows for later. */
	private async shipFeed(): Promise<void> {
		const { ops } = this.host;
		for (const batch of ops.dueFeed(this.now())) {
			try {
				const env = this.host.env();
				const ingest =
					batch.sink === "authors"
						? env.AUTHORS.getByName(shardName(batch.shard)).ingest(batch.updates)
						: env.OPS_INDEX.getByName(shardName(batch.shard)).ingest(batch.updates);
				await withTimeout(`${batch.sink} feed`, OUTBOUND_TIMEOUT_MS, ingest);
				this.write(() => ops.feedShipped(batch));
			} catch (error) {
				console.warn(JSON.stringify({ level: "warn", msg: "feed failed", origin: this.host.name(), sink: batch.sink, shard: batch.shard, error: String(error) }));
				this.write(() => ops.feedFailed(batch, this.now()));
			}
		}
	}

	/** Posts due alerts to the webhook, each retried with backoff and recorded either way. */
	private async deliverAlerts(): Promise<void> {
		const { ops, config } = this.host;
		const url = config.alertWebhookUrl;
		if (url === "") return;
		for (const { alertId, payload } of ops.dueAlerts(this.now())) {
			let error: string | undefined;
			try {
				const response = await fetch(url, {
					method: "POST",
					headers: { "Content-Type": "application/json" },
					body: JSON.stringify(payload),
					signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
				});
				if (!response.ok) error = `webhook answered ${response.status}`;
				await response.body?.cancel();
			} catch (thrown) {
				error = `webhook unreachable: ${thrown instanceof Error ? thrown.message : String(thrown)}`;
			}
			const at = this.now();
			this.write(() => (error === undefined ? ops.alertDelivered(alertId, at) : ops.alertUndelivered(alertId, error, at)));
			if (error !== undefined) console.error(JSON.stringify({ level: "error", msg: "alert delivery failed", traceId: payload.traceId, alertId, error }));
		}
	}

	/** Records what a target did with a batch of tasks, and moves their sagas on. */
	async completeTasks(reports: readonly TaskReport[], delivery?: DeliveryNote): Promise<Array<TaskView | undefined>> {
		const { outbox, ops } = this.host;
		const views = this.write(() =>
			reports.map(({ taskId, attempt, outcome }) => {
				const task = outbox.getTask(taskId);
				if (task !== undefined && delivery !== undefined) {
					ops.span(task.traceId, delivery.receivedAt, "queue", "queue.delivered", `${task.kind} to ${task.room}, attempt ${attempt}, queue try ${delivery.queueAttempts}`);
				}
				return outbox.complete(taskId, attempt, outcome, this.now());
			}),
		);
		await this.afterWrite();
		return views;
	}

	/** The dead-letter queue gave up on a task. */
	async deadLetterTask(taskId: string, error: string): Promise<TaskView | undefined> {
		const view = this.write(() => this.host.outbox.deadLetter(taskId, error, this.now()));
		await this.afterWrite();
		return view;
	}

	/** An operator's retry, skip or cancel, with its audit entry. */
	async taskAction(taskId: string, action: ManualAction, reason: string, actor: string): Promise<ActionReply> {
		const { outbox, ops } = this.host;
		const now = this.now();
		const reply = this.write((): ActionReply => {
			const result = outbox.act(taskId, action, now);
			if (!result.ok) return result;
			const { task, repeated, from, to } = result.value;
			if (!repeated) ops.audit({ at: now, actor, taskId, sagaId: task.sagaId, action, reason, from, to, traceId: task.traceId }, now);
			return ok({ task, repeated });
		});
		if (reply.ok && !reply.value.repeated) await this.afterWrite();
		return reply;
	}

	meterReading(): MeterReading {
		return this.host.meter.reading();
	}

	taskStatus(taskId: string): TaskView | undefined {
		return this.host.outbox.getTask(taskId);
	}

	spans(traceId: string): Span[] {
		return this.host.ops.spans(traceId);
	}

	/** The alerts this object raised, newest first (the index lists them across objects). */
	alerts(limit: number): AlertView[] {
		return this.host.ops.listAlerts(limit);
	}
}
