/**
 * The origin's side of cross-room work, over SQLite: the records tasks belong to and their
 * outbox tasks. A room's outbox holds its cross-posts' sagas (`sagas`); a moderation object's
 * holds that one moderation (`moderations`), whose tasks follow the same saga rules. This
 * class handles rows only: it reads them, asks src/saga/policy.ts what follows (settling,
 * compensation plans, attempts, manual actions), checks each move against
 * src/saga/state-machine.ts, and writes the result.
 *
 * Every write happens inside a unit of work, `transact(fn)`, which returns what fn changed
 * (task and saga changes, alert requests, saga reports) for the caller to record; a write
 * outside one throws `OutsideUnitOfWork` before touching a row. TaskEngine.write opens each
 * unit inside `transactionSync`, so a unit's changes commit or roll back with its rows, and
 * none can leak into the next transaction.
 */
import { fail, ok, type Result } from "../src/errors.ts";
import type { MessageEvent, RetractReason, SagaState, SagaStepSummary, TaskState } from "../src/protocol.ts";
import { backoffDelay } from "../src/saga/backoff.ts";
import {
	isSagaReportable,
	isTaskTerminal,
	sagaTransition,
	type SagaEvent,
	type TaskEvent,
	taskTransition,
} from "../src/saga/state-machine.ts";
import { taskIdFor } from "../src/saga/ids.ts";
import type { SagaSummary } from "../src/ops/types.ts";
import type { ModerationRecord, ModerationStart, RoomPlan, Selector } from "../src/ops/moderation.ts";
import {
	ACTION_EVENTS,
	actionRefusal,
	allowedActions,
	type AttemptDecision,
	attemptDecision,
	compensationPlan,
	copyRooms,
	deadLetterDecision,
	type PlannedTask,
	settleEvent,
} from "../src/saga/policy.ts";
import type {
	CopyPayload,
	ManualAction,
	SagaFrameData,
	SagaView,
	TaskKind,
	TaskMessage,
	TaskOrigin,
	TaskOutcome,
	TaskPayload,
	TaskView,
} from "../src/saga/types.ts";

export interface OutboxSettings {
	baseDelayMs: number;
	maxAttempts: number;
	leaseMs: number;
}

interface TaskRow extends Record<string, SqlStorageValue> {
	ord: number;
	task_id: string;
	saga_id: string;
	kind: string;
	room: string;
	state: string;
	attempts: number;
	next_attempt_at: number;
	lease_until: number | null;
	last_error: string | null;
	dedup_key: string;
	trace_id: string;
	payload: string;
	last_action: string | null;
	created_at: number;
	updated_at: number;
	done_at: number | null;
	version: number;
	alert_epoch: number;
	stuck_alert_epoch: number | null;
	live_since: number | null;
	last_action_version: number | null;
	result: string | null;
}

interface SagaRow extends Record<string, SqlStorageValue> {
	saga_id: string;
	msg_id: string;
	author_id: string;
	author_name: string;
	trace_id: string;
	state: string;
	created_at: number;
	updated_at: number;
}

interface ModerationRow extends Record<string, SqlStorageValue> {
	moderation_id: string;
	actor: string;
	reason: string;
	trace_id: string;
	selector: string;
	scope: string | null;
	plan: string;
	state: string;
	created_at: number;
	updated_at: number;
}

/** What the saga rules need of the record tasks belong to, whichever table holds it. */
interface RunRow extends Record<string, SqlStorageValue> {
	id: string;
	state: string;
}

/** A moderation's record as its object keeps it (see src/ops/moderation.ts). */
export interface StoredModeration {
	id: string;
	actor: string;
	reason: string;
	traceId: string;
	selector: Selector;
	scope?: string[];
	plan: RoomPlan[];
	state: SagaState;
	createdAt: number;
	updatedAt: number;
}

/** A task's state change, for traces and the ops index. */
export interface TaskChange {
	task: TaskView;
	/** `null` for a task just created. */
	from: TaskState | null;
	event: TaskEvent | "create";
	version: number;
}

/** A saga's state change, for traces and the ops index. */
export interface SagaChange {
	saga: SagaSummary;
	from: SagaState | null;
	version: number;
}

/** A moderation's state change, for traces and the ops index. */
export interface ModerationChange {
	moderation: ModerationRecord;
	from: SagaState | null;
	version: number;
}

export type AlertKind = "task_failed" | "task_stuck";

/** An alert the outbox asks for; raised at most once per (task, kind, epoch). */
export interface AlertRequest {
	kind: AlertKind;
	task: TaskView;
	epoch: number;
}

/** An operator action taken (or repeated): the task after it, and the move it made. */
export interface ActionTaken {
	task: TaskView;
	repeated: boolean;
	from: TaskState;
	to: TaskState;
}

/** What one unit of work changed, in order, for traces, the index, alerts and sockets. */
export interface OutboxChanges {
	tasks: TaskChange[];
	sagas: SagaChange[];
	moderations: ModerationChange[];
	alerts: AlertRequest[];
	/** Sagas that reached a state their author hears about, with their steps as the unit left them. */
	reports: SagaFrameData[];
}

/** A write was attempted with no unit of work open: a bug, refused before any row changed. */
export class OutsideUnitOfWork extends Error {
	constructor(what: string) {
		super(`outbox ${what} outside a unit of work (Outbox.transact)`);
		this.name = "OutsideUnitOfWork";
	}
}

interface OpenUnit {
	tasks: TaskChange[];
	sagas: SagaChange[];
	moderations: ModerationChange[];
	alerts: AlertRequest[];
	reported: Array<Omit<SagaFrameData, "steps">>;
}

/** A row as the saga rules see it. */
function facts(row: TaskRow): PlannedTask {
	return { taskId: row.task_id, kind: row.kind as TaskKind, state: row.state as TaskState, room: row.room, attempts: row.attempts };
}

/** Later states win over earlier ones written in the same millisecond. */
const SAGA_STATE_ORDER: readonly SagaState[] = ["running", "compensating", "failed", "succeeded", "compensated"];

/**
 * Deliveries from this room to one target go out in commit order, so copies from one origin
 * show in origin order. A delivery waits while an earlier one to the same room is in flight,
 * or is pending and not yet due; all due deliveries to a room are claimed together and
 * travel as one batch, so ordering costs no throughput.
 */
const CLAIMABLE = `NOT (o.kind = 'deliver' AND EXISTS (
	SELECT 1 FROM outbox p WHERE p.kind = 'deliver' AND p.room = o.room AND p.ord < o.ord
	AND (p.state = 'processing' OR (p.state = 'pending' AND p.next_attempt_at > ?1))))`;

/** The head of each target's delivery line (and every other pending task) decides wake-ups. */
const AT_HEAD = `NOT (o.kind = 'deliver' AND EXISTS (
	SELECT 1 FROM outbox p WHERE p.kind = 'deliver' AND p.room = o.room AND p.ord < o.ord AND p.state IN ('pending', 'processing')))`;

/** Finished tasks are archived after this long. */
export const TASK_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export class IllegalTransition extends Error {
	constructor(what: string, state: string, event: string) {
		super(`${what} in state ${state} does not allow ${event}`);
		this.name = "IllegalTransition";
	}
}

export class Outbox {
	/** The unit of work in progress, if any; only `transact` opens and closes it. */
	private unit: OpenUnit | undefined;

	private readonly sql: SqlStorage;
	private readonly name: () => string;
	private readonly settings: OutboxSettings;
	/** Whose outbox this is: a room's (sagas), or a moderation object's (its moderation). */
	private readonly owner: TaskOrigin["kind"];

	constructor(sql: SqlStorage, name: () => string, settings: OutboxSettings, owner: TaskOrigin["kind"] = "room") {
		this.sql = sql;
		this.name = name;
		this.settings = settings;
		this.owner = owner;
	}

	/** The object that owns these tasks, as tasks and queue messages name it. */
	private origin(): TaskOrigin {
		return { kind: this.owner, id: this.name() };
	}

	// -------------------------------------------------------------------------------------
	// The unit of work
	// -------------------------------------------------------------------------------------

	/**
	 * Runs `work` as one unit of work and returns what it changed. The caller holds the SQLite
	 * transaction (TaskEngine.write): on a throw the unit is dropped with the transaction.
	 */
	transact<T>(work: () => T): { result: T; changes: OutboxChanges } {
		if (this.unit !== undefined) throw new Error("an outbox unit of work is already open");
		const unit: OpenUnit = { tasks: [], sagas: [], moderations: [], alerts: [], reported: [] };
		this.unit = unit;
		try {
			const result = work();
			const reports = unit.reported.map((report) => ({ ...report, steps: this.stepSummary(report.sagaId) }));
			return {
				result,
				changes: { tasks: unit.tasks, sagas: unit.sagas, moderations: unit.moderations, alerts: unit.alerts, reports },
			};
		} finally {
			this.unit = undefined;
		}
	}

	/** The open unit. Every write asks for it first, so none happens outside one. */
	private open(what: string): OpenUnit {
		if (this.unit === undefined) throw new OutsideUnitOfWork(what);
		return this.unit;
	}

	// -------------------------------------------------------------------------------------
	// Reading
	// -------------------------------------------------------------------------------------

	private task(taskId: string): TaskRow | undefined {
		return this.sql.exec<TaskRow>("SELECT * FROM outbox WHERE task_id = ?", taskId).toArray()[0];
	}

	/** A room's saga row (a moderation object has none). */
	private saga(sagaId: string): SagaRow | undefined {
		if (this.owner !== "room") return undefined;
		return this.sql.exec<SagaRow>("SELECT * FROM sagas WHERE saga_id = ?", sagaId).toArray()[0];
	}

	private moderation(id: string): ModerationRow | undefined {
		if (this.owner !== "moderation") return undefined;
		return this.sql.exec<ModerationRow>("SELECT * FROM moderations WHERE moderation_id = ?", id).toArray()[0];
	}

	/** The record a task belongs to, from its owner's table, as the saga rules see it. */
	private run(id: string): RunRow | undefined {
		const query =
			this.owner === "room"
				? "SELECT saga_id AS id, state FROM sagas WHERE saga_id = ?"
				: "SELECT moderation_id AS id, state FROM moderations WHERE moderation_id = ?";
		return this.sql.exec<RunRow>(query, id).toArray()[0];
	}

	private sagaTasks(sagaId: string): TaskRow[] {
		return this.sql.exec<TaskRow>("SELECT * FROM outbox WHERE saga_id = ? ORDER BY ord", sagaId).toArray();
	}

	view(row: TaskRow): TaskView {
		return {
			taskId: row.task_id,
			sagaId: row.saga_id,
			room: row.room,
			kind: row.kind as TaskKind,
			state: row.state as TaskState,
			attempts: row.attempts,
			nextAttemptAt: row.state === "pending" ? row.next_attempt_at : row.state === "processing" ? row.lease_until : null,
			lastError: row.last_error,
			actions: allowedActions({
				kind: row.kind as TaskKind,
				state: row.state as TaskState,
				sagaState: this.run(row.saga_id)?.state as SagaState | undefined,
			}),
			origin: this.origin(),
			...(this.owner === "room" ? { originRoom: this.name() } : {}),
			traceId: row.trace_id,
			createdAt: row.created_at,
			updatedAt: row.updated_at,
		};
	}

	getTask(taskId: string): TaskView | undefined {
		const row = this.task(taskId);
		return row === undefined ? undefined : this.view(row);
	}

	private sagaFields(saga: SagaRow): Omit<SagaView, "steps"> {
		return {
			sagaId: saga.saga_id,
			originRoom: this.name(),
			msgId: saga.msg_id,
			traceId: saga.trace_id,
			state: saga.state as SagaState,
			createdAt: saga.created_at,
			updatedAt: saga.updated_at,
		};
	}

	getSaga(sagaId: string): SagaView | undefined {
		const saga = this.saga(sagaId);
		if (saga === undefined) return undefined;
		return { ...this.sagaFields(saga), steps: this.sagaTasks(sagaId).map((row) => this.view(row)) };
	}

	/** Per target room, the task that decides what that room shows: the retract if any. */
	private stepSummary(sagaId: string): SagaStepSummary[] {
		const byRoom = new Map<string, SagaStepSummary>();
		for (const row of this.sagaTasks(sagaId)) {
			const step: SagaStepSummary = { room: row.room, state: row.state as TaskState };
			if (row.last_error !== null) step.error = row.last_error;
			if (row.kind === "retract" || !byRoom.has(row.room)) byRoom.set(row.room, step);
		}
		return [...byRoom.values()];
	}

	/** The next time the alarm must run: the earliest claimable task or expiring lease. */
	nextWakeAt(): number | null {
		const row = this.sql
			.exec<{ at: number | null }>(
				`SELECT MIN(at) AS at FROM (
					SELECT MIN(o.next_attempt_at) AS at FROM outbox o WHERE o.state = 'pending' AND ${AT_HEAD}
					UNION ALL SELECT MIN(lease_until) AS at FROM outbox WHERE state = 'processing')`,
			)
			.one();
		return row.at;
	}

	countLive(): number {
		return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE state IN ('pending', 'processing')").one().n;
	}

	// -------------------------------------------------------------------------------------
	// Writing
	// -------------------------------------------------------------------------------------

	private move(
		row: TaskRow,
		event: TaskEvent,
		now: number,
		fields: Partial<
			Pick<
				TaskRow,
				"attempts" | "next_attempt_at" | "lease_until" | "last_error" | "last_action" | "last_action_version" | "live_since"
			>
		> = {},
	): TaskRow {
		const unit = this.open("task move");
		const from = row.state as TaskState;
		const to = taskTransition(from, event);
		if (to === undefined) throw new IllegalTransition(`task ${row.task_id}`, from, event);
		const manual = event.startsWith("manual_");
		const next: TaskRow = {
			...row,
			...fields,
			state: to,
			updated_at: now,
			done_at: isTaskTerminal(to) ? now : null,
			version: row.version + 1,
			// Alerts are once per epoch; finishing or an operator's action starts a new one.
			alert_epoch: row.alert_epoch + (manual || (isTaskTerminal(to) && to !== "archived") ? 1 : 0),
		};
		if (to !== "processing") next.lease_until = null;
		this.sql.exec(
			`UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, lease_until = ?, last_error = ?, last_action = ?,
			 last_action_version = ?, updated_at = ?, done_at = ?, version = ?, alert_epoch = ?, live_since = ? WHERE task_id = ?`,
			next.state,
			next.attempts,
			next.next_attempt_at,
			next.lease_until,
			next.last_error,
			next.last_action,
			next.last_action_version,
			next.updated_at,
			next.done_at,
			next.version,
			next.alert_epoch,
			next.live_since,
			next.task_id,
		);
		unit.tasks.push({ task: this.view(next), from, event, version: next.version });
		return next;
	}

	private moveSaga(run: RunRow, event: SagaEvent, now: number): void {
		const unit = this.open("saga move");
		const from = run.state as SagaState;
		const to = sagaTransition(from, event);
		if (to === undefined) throw new IllegalTransition(`saga ${run.id}`, from, event);
		if (to === from) return;
		const update =
			this.owner === "room"
				? "UPDATE sagas SET state = ?, updated_at = ? WHERE saga_id = ?"
				: "UPDATE moderations SET state = ?, updated_at = ? WHERE moderation_id = ?";
		this.sql.exec(update, to, now, run.id);
		this.recordRun(run.id, from);
		// Only a cross-post has an author to tell; an operator follows a moderation in the console.
		const saga = this.saga(run.id);
		if (saga !== undefined && isSagaReportable(to)) unit.reported.push({ sagaId: saga.saga_id, state: to, authorId: saga.author_id });
	}

	/** Records a saga's or moderation's change (as it now is) for traces and the index. */
	private recordRun(id: string, from: SagaState | null): void {
		const unit = this.open("saga record");
		const targets = [...new Set(this.sagaTasks(id).map((t) => t.room))];
		// Neither table has a version column: updated_at with the state order breaks ties.
		const version = (row: { state: string; updated_at: number }) =>
			row.updated_at * 8 + SAGA_STATE_ORDER.indexOf(row.state as SagaState);
		const saga = this.saga(id);
		if (saga !== undefined) unit.sagas.push({ saga: { ...this.sagaFields(saga), targets }, from, version: version(saga) });
		const moderation = this.moderation(id);
		if (moderation !== undefined) {
			const record: ModerationRecord = {
				id: moderation.moderation_id,
				actor: moderation.actor,
				reason: moderation.reason,
				traceId: moderation.trace_id,
				state: moderation.state as SagaState,
				rooms: targets,
				createdAt: moderation.created_at,
				updatedAt: moderation.updated_at,
			};
			unit.moderations.push({ moderation: record, from, version: version(moderation) });
		}
	}

	private insertTask(sagaId: string, kind: TaskKind, room: string, traceId: string, payload: TaskPayload, now: number): void {
		const unit = this.open("task insert");
		const taskId = taskIdFor(sagaId, kind, room);
		this.sql.exec(
			`INSERT INTO outbox (task_id, saga_id, kind, room, state, attempts, next_attempt_at, dedup_key, trace_id, payload, created_at, updated_at, live_since)
			 VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?, ?)`,
			taskId,
			sagaId,
			kind,
			room,
			now,
			`${sagaId}:${kind}`,
			traceId,
			JSON.stringify(payload),
			now,
			now,
			now,
		);
		const row = this.task(taskId);
		if (row !== undefined) unit.tasks.push({ task: this.view(row), from: null, event: "create", version: row.version });
	}

	/** Starts a cross-post: the saga and one deliver task per target, in the caller's transaction. */
	startSaga(sagaId: string, message: MessageEvent, targets: readonly string[], now: number): void {
		this.open("startSaga");
		this.sql.exec(
			"INSERT INTO sagas (saga_id, msg_id, author_id, author_name, trace_id, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
			sagaId,
			message.msgId,
			message.author.id,
			message.author.name,
			message.traceId,
			now,
			now,
		);
		const payload: CopyPayload = { msgId: message.msgId, author: message.author, text: message.text, ts: message.ts };
		for (const room of targets) this.insertTask(sagaId, "deliver", room, message.traceId, payload, now);
		this.recordRun(sagaId, null);
	}

	/**
	 * Starts a moderation object's moderation: its record and one moderate task per room with
	 * matches, listing the messages to retract there (fixed now, so a resumed run does exactly
	 * the planned work).
	 */
	startModeration(start: ModerationStart, now: number): void {
		this.open("startModeration");
		if (this.owner !== "moderation") throw new Error("only a moderation object's outbox holds a moderation");
		this.sql.exec(
			`INSERT INTO moderations (moderation_id, actor, reason, trace_id, selector, scope, plan, state, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)`,
			start.id,
			start.actor,
			start.reason,
			start.traceId,
			JSON.stringify(start.selector),
			start.scope === undefined ? null : JSON.stringify(start.scope),
			JSON.stringify(start.plan),
			now,
			now,
		);
		for (const { room, msgIds } of start.plan) {
			if (msgIds.length > 0) this.insertTask(start.id, "moderate", room, start.traceId, { msgIds, reason: "moderated" }, now);
		}
		this.recordRun(start.id, null);
		// A selector that matched nothing is done at once.
		this.settle(start.id, now);
	}

	/** This object's moderation record, if it has been started. */
	getModeration(id: string): StoredModeration | undefined {
		const row = this.moderation(id);
		if (row === undefined) return undefined;
		return {
			id: row.moderation_id,
			actor: row.actor,
			reason: row.reason,
			traceId: row.trace_id,
			selector: JSON.parse(row.selector) as Selector,
			...(row.scope === null ? {} : { scope: JSON.parse(row.scope) as string[] }),
			plan: JSON.parse(row.plan) as RoomPlan[],
			state: row.state as SagaState,
			createdAt: row.created_at,
			updatedAt: row.updated_at,
		};
	}

	/** Rooms where a saga's copy may exist (see mayHaveCopy). */
	copyRooms(sagaId: string): string[] {
		return copyRooms(this.sagaTasks(sagaId).map(facts));
	}

	sagaState(sagaId: string): SagaState | undefined {
		return this.run(sagaId)?.state as SagaState | undefined;
	}

	/** What each finished task's target reported, for progress. */
	results(sagaId: string): Array<{ task: TaskView; result: TaskOutcome | null }> {
		return this.sagaTasks(sagaId).map((row) => ({
			task: this.view(row),
			result: row.result === null ? null : (JSON.parse(row.result) as TaskOutcome),
		}));
	}

	/**
	 * Claims every due task: pending ones whose time has come (deliveries only when no
	 * earlier delivery to the same room is unfinished) and processing ones whose lease ran
	 * out, which may have been lost with a runtime. Each claim is an attempt.
	 */
	claimDue(now: number, limit = 100): TaskMessage[] {
		this.open("claimDue");
		const rows = this.sql
			.exec<TaskRow>(
				`SELECT * FROM outbox o WHERE (o.state = 'pending' AND o.next_attempt_at <= ?1 AND ${CLAIMABLE})
				 OR (o.state = 'processing' AND o.lease_until <= ?1) ORDER BY o.ord LIMIT ?2`,
				now,
				limit,
			)
			.toArray();
		return rows.map((row) => {
			const claimed = this.move(row, "claim", now, {
				attempts: row.attempts + 1,
				lease_until: now + this.settings.leaseMs,
			});
			return {
				taskId: claimed.task_id,
				sagaId: claimed.saga_id,
				kind: claimed.kind as TaskKind,
				origin: this.origin(),
				targetRoom: claimed.room,
				dedupKey: claimed.dedup_key,
				traceId: claimed.trace_id,
				attempt: claimed.attempts,
				payload: JSON.parse(claimed.payload) as TaskPayload,
			};
		});
	}

	/** A queue send failed: the claimed tasks go back to pending with backoff, as a transient failure would. */
	releaseUnsent(taskIds: readonly string[], error: string, now: number): void {
		this.open("releaseUnsent");
		for (const taskId of taskIds) {
			const row = this.task(taskId);
			if (row === undefined) continue;
			this.decide(row, attemptDecision(facts(row), row.attempts, "transient", this.settings.maxAttempts), error, now);
		}
	}

	/**
	 * Records what a target room did with a task (see attemptDecision): a report for a task
	 * that is no longer waiting for that attempt changes nothing.
	 */
	complete(taskId: string, attempt: number, outcome: TaskOutcome, now: number): TaskView | undefined {
		this.open("complete");
		const row = this.task(taskId);
		if (row === undefined) return undefined;
		const decision = attemptDecision(facts(row), attempt, outcome.status, this.settings.maxAttempts);
		if (decision.action === "succeed") {
			this.sql.exec("UPDATE outbox SET result = ? WHERE task_id = ?", JSON.stringify(outcome), taskId);
		}
		this.decide(row, decision, outcome.status === "ok" ? null : `${outcome.code}: ${outcome.message}`, now);
		return this.getTask(taskId);
	}

	/** The dead-letter queue gave up on a task: it fails, whatever attempts remain. */
	deadLetter(taskId: string, error: string, now: number): TaskView | undefined {
		this.open("deadLetter");
		const row = this.task(taskId);
		if (row === undefined) return undefined;
		this.decide(row, deadLetterDecision(row.state as TaskState), error, now);
		return this.getTask(taskId);
	}

	/** Writes an attempt decision; a task that ended lets its saga settle. */
	private decide(row: TaskRow, decision: AttemptDecision, error: string | null, now: number): void {
		const unit = this.open("attempt decision");
		switch (decision.action) {
			case "ignore":
				return;
			case "defer":
				// Not an attempt: the claim is given back, and the task is due again at once.
				this.move(row, "retry_later", now, { attempts: Math.max(0, row.attempts - 1), next_attempt_at: now });
				return;
			case "retry":
				this.move(row, "retry_later", now, {
					next_attempt_at: now + backoffDelay(row.attempts, this.settings.baseDelayMs),
					last_error: error,
				});
				return;
			case "succeed":
				this.move(row, "succeed", now, { last_error: null });
				break;
			case "fail": {
				const failed = this.move(row, "fail", now, { last_error: error });
				if (decision.alert) unit.alerts.push({ kind: "task_failed", task: this.view(failed), epoch: failed.alert_epoch });
				break;
			}
		}
		this.settle(row.saga_id, now);
	}

	/**
	 * Applies the saga event its tasks imply (settleEvent) until none follows. At most two
	 * follow one change; a runaway would be a bug in the policy, so the unit throws.
	 */
	private settle(sagaId: string, now: number): void {
		for (let step = 0; ; step++) {
			const run = this.run(sagaId);
			if (run === undefined) return;
			const event = settleEvent(run.state as SagaState, this.sagaTasks(sagaId).map(facts));
			if (event === undefined) return;
			if (step === 4) throw new Error(`saga ${sagaId} does not settle: ${run.state} -${event}->`);
			if (event === "compensate") this.startCompensating(run, "compensated", now);
			else this.moveSaga(run, event, now);
		}
	}

	/**
	 * Turns a saga to compensating and carries out its compensation plan: live deliveries are
	 * cancelled, and every room where a copy may exist gets a retract task, newest step first.
	 */
	private startCompensating(saga: RunRow, reason: RetractReason, now: number): void {
		this.scrubText(saga.id);
		this.moveSaga(saga, "compensate", now);
		const rows = this.sagaTasks(saga.id);
		const byId = new Map(rows.map((row) => [row.task_id, row]));
		const plan = compensationPlan(rows.map(facts));
		for (const taskId of plan.cancel) {
			const row = byId.get(taskId);
			if (row !== undefined) this.move(row, "cancel", now);
		}
		for (const { room, delivery } of plan.retract) {
			const row = byId.get(delivery);
			if (row === undefined) continue;
			// A retract finds its copy through the barrier: it never carries the text.
			const payload: CopyPayload = { ...(JSON.parse(row.payload) as CopyPayload), text: "", reason };
			this.insertTask(saga.id, "retract", room, row.trace_id, payload, now);
		}
	}

	/**
	 * Compensates a saga on request (its original was deleted or moderated): true when that
	 * turned it to compensating, false when its state does not allow it (already failed or
	 * compensated). Its text is scrubbed either way.
	 */
	compensate(sagaId: string, reason: RetractReason, now: number): boolean {
		this.open("compensate");
		// Whatever the saga's state, no task of it delivers again, so none needs the text.
		this.scrubText(sagaId);
		const saga = this.run(sagaId);
		if (saga === undefined || sagaTransition(saga.state as SagaState, "compensate") === undefined) return false;
		this.startCompensating(saga, reason, now);
		this.settle(sagaId, now);
		return true;
	}

	/**
	 * Removes the message text from every task of a saga, archived ones included. Called on
	 * every compensation, and so on every retract of a cross-posted original (a delete or an
	 * operator's moderation), even when the saga had already ended compensated: a retracted
	 * message must not stay readable in the outbox either. Copies in the target rooms are
	 * scrubbed by their own retracts; queue messages already sent are transient.
	 */
	scrubText(sagaId: string): void {
		this.open("scrubText");
		this.sql.exec(
			"UPDATE outbox SET payload = json_set(payload, '$.text', '') WHERE saga_id = ? AND json_extract(payload, '$.text') != ''",
			sagaId,
		);
	}

	/** Archives finished tasks past retention; done lazily, so it never needs its own alarm. */
	archiveOld(now: number): number {
		this.open("archiveOld");
		const rows = this.sql
			.exec<TaskRow>(
				"SELECT * FROM outbox WHERE state IN ('succeeded', 'failed', 'skipped', 'cancelled') AND done_at < ? LIMIT 500",
				now - TASK_RETENTION_MS,
			)
			.toArray();
		for (const row of rows) this.move(row, "archive", now);
		return rows.length;
	}

	/**
	 * An operator's retry, skip or cancel, if actionRefusal allows it; then the saga settles
	 * (a cancelled delivery compensates, a retried retract resumes a failed compensation, a
	 * skip may finish either). Repeating the task's last action while nothing has changed it
	 * since answers the same task without a new effect.
	 */
	act(taskId: string, action: ManualAction, now: number): Result<ActionTaken> {
		this.open("act");
		const row = this.task(taskId);
		if (row === undefined) return fail("not_found", `no task ${taskId}`);
		const state = row.state as TaskState;
		if (row.last_action === action && row.last_action_version === row.version) {
			return ok({ task: this.view(row), repeated: true, from: state, to: state });
		}
		const sagaState = this.run(row.saga_id)?.state as SagaState | undefined;
		const refusal = actionRefusal({ kind: row.kind as TaskKind, state, sagaState }, action);
		if (refusal !== undefined) return fail("conflict", refusal);
		// A retry starts over: fresh attempts, due now, and a new stuck clock.
		const fields = action === "retry" ? { attempts: 0, next_attempt_at: now, live_since: now } : {};
		const moved = this.move(row, ACTION_EVENTS[action], now, { ...fields, last_action: action, last_action_version: row.version + 1 });
		this.settle(row.saga_id, now);
		return ok({ task: this.view(moved), repeated: false, from: state, to: moved.state as TaskState });
	}

	/** Live tasks unfinished for longer than `stuckMs` that have not been alerted in this epoch. */
	raiseStuck(now: number, stuckMs: number): number {
		const unit = this.open("raiseStuck");
		const rows = this.sql
			.exec<TaskRow>(
				`SELECT * FROM outbox WHERE state IN ('pending', 'processing') AND live_since <= ?
				 AND stuck_alert_epoch IS NOT alert_epoch LIMIT 100`,
				now - stuckMs,
			)
			.toArray();
		for (const row of rows) {
			this.sql.exec("UPDATE outbox SET stuck_alert_epoch = ? WHERE task_id = ?", row.alert_epoch, row.task_id);
			unit.alerts.push({ kind: "task_stuck", task: this.view(row), epoch: row.alert_epoch });
		}
		return rows.length;
	}

	/** When the next stuck alert falls due, if any live task is heading there. */
	nextStuckAt(stuckMs: number): number | null {
		return this.sql
			.exec<{ at: number | null }>(
				`SELECT MIN(live_since) + ? AS at FROM outbox WHERE state IN ('pending', 'processing')
				 AND stuck_alert_epoch IS NOT alert_epoch`,
				stuckMs,
			)
			.one().at;
	}
}
