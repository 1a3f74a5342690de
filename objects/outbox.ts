/**
 * The origin's side of cross-room work, over SQLite: the records tasks belong to and their
 * outbox tasks. A room's outbox holds its cross-posts' sagas; a moderation object's holds
 * that one moderation (`moderations`), whose tasks follow the same saga rules. This class
 * handles rows only: it reads them, asks src/saga/policy.ts what follows (settling,
 * compensation plans, attempts, dispatch, manual actions), checks each move against
 * src/saga/state-machine.ts, and writes the result.
 *
 * Every write happens inside a unit of work, `transact(fn)`, which returns what fn changed
 * (task and saga changes, alert requests, saga reports, tasks claimed for a direct attempt)
 * for the caller to record; a write outside one throws `OutsideUnitOfWork` before touching a
 * row. TaskEngine.write opens each unit inside `transactionSync`, so a unit's changes commit
 * or roll back with its rows, and none can leak into the next transaction.
 *
 * Rows cost money (docs/cost.md), so a unit writes each task row it changed once, at its end,
 * whatever moved it in between; the table has no secondary index; a cross-post's saga row is
 * written only when its state cannot be read off its tasks; and the spans of a cross-post's
 * commit, direct first attempt and end ride in its task rows (`notes`) instead of span rows
 * (the durable path's moves still get span rows, from OpsRecord). What no key reaches, the
 * live tasks, is kept in memory and found again from the event log when the object starts
 * (see `loadLive`).
 */
import { fail, ok, type Result } from "../src/errors.ts";
import {
	type MessageEvent,
	type RetractReason,
	type SagaState,
	type SagaStepSummary,
	seqOfMessageId,
	type TaskState,
} from "../src/protocol.ts";
import { backoffDelay } from "../src/saga/backoff.ts";
import {
	isSagaReportable,
	isTaskTerminal,
	sagaTransition,
	type SagaEvent,
	type TaskEvent,
	taskTransition,
} from "../src/saga/state-machine.ts";
import { CROSSPOST_TASK_KIND, inboxRunId, isInboxRun, ROOM_SAGA_ID, taskIdFor } from "../src/saga/ids.ts";
import { excerptOf, type InboxPayload, inboxTarget } from "../src/inbox-protocol.ts";
import type { SagaSummary } from "../src/ops/types.ts";
import { viaSpan } from "../src/trace.ts";
import type { ModerationRecord, ModerationStart, RoomPlan, Selector } from "../src/ops/moderation.ts";
import {
	ACTION_EVENTS,
	actionRefusal,
	allowedActions,
	type AttemptDecision,
	attemptDecision,
	compensationPlan,
	copyRooms,
	editTargets,
	deadLetterDecision,
	dueTasks,
	implicitSagaState,
	type LiveTask,
	nextDueAt,
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
	task_id: string;
	ord: number;
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
	notes: string;
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
	notes: string;
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

/** What the saga rules need of the record tasks belong to, whichever table holds it (or none). */
interface RunRow {
	id: string;
	state: string;
	/** False for a cross-post with no saga row (its state is read off its tasks). */
	stored: boolean;
}

/** A saga's fields, from its row or, without one, from its tasks. */
interface SagaInfo {
	sagaId: string;
	msgId: string;
	authorId: string;
	authorName: string;
	traceId: string;
	state: SagaState;
	createdAt: number;
	updatedAt: number;
	stored: boolean;
}

/** One trace span as a task row (or a saga row) keeps it; `room` is where it happened when that is not here. */
export interface Note {
	at: number;
	component: string;
	event: string;
	detail?: string;
	room?: string;
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
	/** The change's span is already in the task's row (a direct claim): no span row for it. */
	noted?: boolean;
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
	/** Deliveries claimed in this unit for the origin to attempt itself once it commits. */
	direct: TaskMessage[];
	/** The cross-posts whose rows this unit changed (the ops index must hear of them). */
	touched: string[];
}

/** A write was attempted with no unit of work open: a bug, refused before any row changed. */
export class OutsideUnitOfWork extends Error {
	constructor(what: string) {
		super(`outbox ${what} outside a unit of work (Outbox.transact)`);
		this.name = "OutsideUnitOfWork";
	}
}

/** A row the unit changed, written once when the unit ends. */
interface Pending<T> {
	row: T;
	insert: boolean;
}

interface OpenUnit {
	tasks: TaskChange[];
	sagas: SagaChange[];
	moderations: ModerationChange[];
	alerts: AlertRequest[];
	reported: Array<Omit<SagaFrameData, "steps">>;
	direct: TaskMessage[];
	rows: Map<string, Pending<TaskRow>>;
	sagaRows: Map<string, Pending<SagaRow>>;
	/** The state each row-less cross-post touched by this unit has reached in it. */
	implicit: Map<string, SagaState>;
	/** Rows as stored, read once per unit (its own changes wait in `rows` until it ends). */
	stored: Map<string, TaskRow[]>;
	storedSagas: Map<string, SagaRow | null>;
	/** A new `live_from` to write with the unit. */
	liveFrom?: number;
	/** A new `archived_from` to write with the unit. */
	archivedFrom?: number;
}

/** A claim at commit: the origin asks whether a delivery to this room may go out at once. */
export type DirectGate = (room: string, liveToRoom: number) => boolean;

/**
 * v1.4: one change to a message's inbox work (see Outbox.inboxWork). Who is mentioned is the
 * room's decision (objects/room.ts); the outbox only carries it.
 */
export interface InboxWork {
	/** The message (its latest text, for the excerpt). */
	message: Pick<MessageEvent, "seq" | "msgId" | "author" | "ts" | "text">;
	/** The seq of the change: the message's own, an edit's, or its retract's. */
	version: number;
	traceId: string;
	editedAt?: number;
	/** Users to mention with the message's text as it now is. */
	mention: readonly string[];
	/** Users it no longer mentions. */
	unmention: readonly string[];
	/** The message is gone (deleted, moderated): every unmention is final. */
	gone?: boolean;
}

/** Options of a cross-post's start. */
export interface SagaStart {
	/** When the message reached the server (the trace's first span). */
	receivedAt?: number;
	/** The W3C trace context of the call that brought the message (the Worker's span), for the ingress span. */
	traceparent?: string | undefined;
	/** Claims deliveries for a direct first attempt where it answers yes; none without it. */
	direct?: DirectGate;
}

/** A row as the saga rules see it. */
function facts(row: TaskRow): PlannedTask {
	return { taskId: row.task_id, kind: row.kind as TaskKind, state: row.state as TaskState, room: row.room, attempts: row.attempts };
}

function liveFacts(row: TaskRow): LiveTask {
	return {
		taskId: row.task_id,
		kind: row.kind as TaskKind,
		state: row.state as TaskState,
		room: row.room,
		ord: row.ord,
		nextAttemptAt: row.next_attempt_at,
		leaseUntil: row.lease_until,
		sagaId: row.saga_id,
	};
}

function isLive(row: TaskRow): boolean {
	return row.state === "pending" || row.state === "processing";
}

function parseNotes(text: string): Note[] {
	return JSON.parse(text) as Note[];
}

/** Later states win over earlier ones written in the same millisecond. */
const SAGA_STATE_ORDER: readonly SagaState[] = ["running", "compensating", "failed", "succeeded", "compensated"];

/** Steps of one saga per ord block: a delivery to each target (at most 10), then retracts. */
export const ORD_BLOCK = 1024;
const RETRACT_ORDS = 512;
/** A saga's edit tasks (v1.3) come after its deliveries and before its retracts. */
const EDIT_ORDS = 256;

/** Finished tasks are archived after this long. */
export const TASK_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/** Events the archiver reads per ticker run, at most. */
const ARCHIVE_SCAN = 2000;

/** The key range of a saga's tasks: every task id is `<sagaId>.<letter>.<room>`. */
function sagaRange(sagaId: string): [string, string] {
	return [`${sagaId}.`, `${sagaId}/`];
}

/** The saga a task id belongs to (`<sagaId>.<d|r|m>.<room>`, see src/saga/ids.ts). */
function sagaOfTask(taskId: string): string | undefined {
	return new RegExp(`^(${ROOM_SAGA_ID}|(?:mod|cmp)@[0-9a-f]{12})\\.(?:m|${CROSSPOST_TASK_KIND})\\.`).exec(taskId)?.[1];
}

export class IllegalTransition extends Error {
	constructor(what: string, state: string, event: string) {
		super(`${what} in state ${state} does not allow ${event}`);
		this.name = "IllegalTransition";
	}
}

export class Outbox {
	/** The unit of work in progress, if any; only `transact` opens and closes it. */
	private unit: OpenUnit | undefined;
	/** The live tasks as committed, by id; loaded on first use (see loadLive). */
	private live: Map<string, TaskRow> | undefined;
	/** No live task belongs to a saga whose original is older than this seq (rooms). */
	private liveFrom = 0;
	/** Reads outside a unit that share stored rows (see `reading`). */
	private scope: { stored: Map<string, TaskRow[]>; storedSagas: Map<string, SagaRow | null> } | undefined;
	/** Live deliveries per target room, as committed (kept with `live`). */
	private liveTo = new Map<string, number>();

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
	 * transaction (TaskEngine.write): on a throw the unit is dropped with the transaction, and
	 * a caller whose transaction fails after this returned calls `forgetLive`.
	 */
	transact<T>(work: () => T): { result: T; changes: OutboxChanges } {
		if (this.unit !== undefined) throw new Error("an outbox unit of work is already open");
		const unit: OpenUnit = {
			tasks: [],
			sagas: [],
			moderations: [],
			alerts: [],
			reported: [],
			direct: [],
			rows: new Map(),
			sagaRows: new Map(),
			implicit: new Map(),
			stored: new Map(),
			storedSagas: new Map(),
		};
		this.unit = unit;
		try {
			const result = work();
			const reports = unit.reported.map((report) => ({ ...report, steps: this.stepSummary(report.sagaId) }));
			const touched = this.owner === "room" ? [...new Set([...unit.rows.values()].map((p) => p.row.saga_id))] : [];
			this.flush(unit);
			return {
				result,
				changes: {
					tasks: unit.tasks,
					sagas: unit.sagas,
					moderations: unit.moderations,
					alerts: unit.alerts,
					reports,
					direct: unit.direct,
					touched,
				},
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

	/** Writes what the unit changed, each row once, and carries it into the live tasks. */
	private flush(unit: OpenUnit): void {
		// The live tasks are read before this unit's rows land, then carried forward with them.
		if (this.live === undefined && unit.rows.size > 0) this.live = this.loadLive();
		for (const { row, insert } of unit.rows.values()) {
			const values = [
				row.ord,
				row.saga_id,
				row.kind,
				row.room,
				row.state,
				row.attempts,
				row.next_attempt_at,
				row.lease_until,
				row.last_error,
				row.dedup_key,
				row.trace_id,
				row.payload,
				row.last_action,
				row.created_at,
				row.updated_at,
				row.done_at,
				row.version,
				row.alert_epoch,
				row.stuck_alert_epoch,
				row.live_since,
				row.last_action_version,
				row.result,
				row.notes,
				row.task_id,
			];
			if (insert) {
				this.sql.exec(
					`INSERT INTO outbox (ord, saga_id, kind, room, state, attempts, next_attempt_at, lease_until, last_error, dedup_key, trace_id,
					 payload, last_action, created_at, updated_at, done_at, version, alert_epoch, stuck_alert_epoch, live_since,
					 last_action_version, result, notes, task_id) VALUES (${values.map(() => "?").join(", ")})`,
					...values,
				);
			} else {
				this.sql.exec(
					`UPDATE outbox SET ord = ?, saga_id = ?, kind = ?, room = ?, state = ?, attempts = ?, next_attempt_at = ?, lease_until = ?,
					 last_error = ?, dedup_key = ?, trace_id = ?, payload = ?, last_action = ?, created_at = ?, updated_at = ?, done_at = ?,
					 version = ?, alert_epoch = ?, stuck_alert_epoch = ?, live_since = ?, last_action_version = ?, result = ?, notes = ?
					 WHERE task_id = ?`,
					...values,
				);
			}
		}
		for (const { row, insert } of unit.sagaRows.values()) {
			if (insert) {
				this.sql.exec(
					"INSERT INTO sagas (saga_id, msg_id, author_id, author_name, trace_id, state, created_at, updated_at, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
					row.saga_id,
					row.msg_id,
					row.author_id,
					row.author_name,
					row.trace_id,
					row.state,
					row.created_at,
					row.updated_at,
					row.notes,
				);
			} else {
				this.sql.exec(
					"UPDATE sagas SET state = ?, updated_at = ?, notes = ? WHERE saga_id = ?",
					row.state,
					row.updated_at,
					row.notes,
					row.saga_id,
				);
			}
		}
		// A task that turns live again (a retract, a retry) below the floor lowers it.
		if (this.owner === "room") {
			for (const { row } of unit.rows.values()) {
				const seq = this.seqOf(row);
				if (isLive(row) && seq !== undefined && seq < (unit.liveFrom ?? this.liveFrom)) unit.liveFrom = seq;
			}
			if (unit.liveFrom !== undefined && unit.liveFrom !== this.liveFrom) this.setMeta("live_from", String(unit.liveFrom));
			if (unit.archivedFrom !== undefined) this.setMeta("archived_from", String(unit.archivedFrom));
		}
		// The in-memory copy follows only what this unit wrote; TaskEngine.write drops it if the transaction fails later.
		if (unit.liveFrom !== undefined) this.liveFrom = unit.liveFrom;
		if (this.live !== undefined) {
			for (const { row } of unit.rows.values()) {
				const before = this.live.has(row.task_id);
				if (isLive(row)) this.live.set(row.task_id, row);
				else this.live.delete(row.task_id);
				if (row.kind === "deliver" && before !== isLive(row))
					this.liveTo.set(row.room, (this.liveTo.get(row.room) ?? 0) + (before ? -1 : 1));
			}
		}
	}

	/** After a transaction failed with this unit's rows: read the live tasks again when next needed. */
	forgetLive(): void {
		this.live = undefined;
	}

	// -------------------------------------------------------------------------------------
	// Reading
	// -------------------------------------------------------------------------------------

	private getMeta(key: string): string | undefined {
		return this.sql.exec<{ value: string }>("SELECT value FROM room_meta WHERE key = ?", key).toArray()[0]?.value;
	}

	private setMeta(key: string, value: string): void {
		this.sql.exec(
			"INSERT INTO room_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			key,
			value,
		);
	}

	/** The seq of the original a room's task copies (its payload names the message). */
	private seqOf(row: TaskRow): number | undefined {
		const payload = JSON.parse(row.payload) as Partial<CopyPayload>;
		return payload.msgId === undefined ? undefined : seqOfMessageId(payload.msgId);
	}

	/**
	 * Finds the live tasks. A moderation has few tasks: all are read. A room reads the sagas
	 * of the event log from `live_from` on (every cross-post's original names its saga), and
	 * their tasks; `live_from` only moves past sagas with nothing left to do.
	 */
	private loadLive(): Map<string, TaskRow> {
		const live = this.readLive();
		this.liveTo = new Map();
		for (const row of live.values()) if (row.kind === "deliver") this.liveTo.set(row.room, (this.liveTo.get(row.room) ?? 0) + 1);
		return live;
	}

	private readLive(): Map<string, TaskRow> {
		const live = new Map<string, TaskRow>();
		if (this.owner === "moderation") {
			for (const row of this.sql.exec<TaskRow>("SELECT * FROM outbox")) if (isLive(row)) live.set(row.task_id, row);
			return live;
		}
		this.liveFrom = Number(this.getMeta("live_from") ?? "0");
		const sagas = this.sql
			.exec<{ saga_id: string }>("SELECT saga_id FROM events WHERE seq >= ? AND saga_id IS NOT NULL", this.liveFrom)
			.toArray();
		for (const { saga_id } of sagas) {
			for (const row of this.storedTasks(saga_id)) if (isLive(row)) live.set(row.task_id, row);
		}
		// v1.4: messages' inbox runs are named by their seq, so one key range holds those from `live_from` on.
		for (const row of this.inboxRunRows(this.liveFrom)) if (isLive(row)) live.set(row.task_id, row);
		return live;
	}

	/** The live tasks as this unit sees them: committed ones, with the unit's own changes over them. */
	private liveRows(): TaskRow[] {
		// A moderation's few rows are read each time; a room's live tasks are kept.
		if (this.owner === "moderation") this.live = undefined;
		this.live ??= this.loadLive();
		const unit = this.unit;
		if (unit === undefined || unit.rows.size === 0) return [...this.live.values()];
		const merged = new Map(this.live);
		for (const { row } of unit.rows.values()) {
			if (isLive(row)) merged.set(row.task_id, row);
			else merged.delete(row.task_id);
		}
		return [...merged.values()];
	}

	/** The lowest seq of an original with a live task, if any (rooms). */
	liveFloor(): number | null {
		let floor: number | null = null;
		for (const row of this.liveRows()) {
			const seq = this.seqOf(row) ?? 0;
			floor = floor === null ? seq : Math.min(floor, seq);
		}
		return floor;
	}

	/** The floor persisted for the next start. */
	persistedLiveFrom(): number {
		this.live ??= this.loadLive();
		return this.liveFrom;
	}

	private storedTask(taskId: string): TaskRow | undefined {
		// Within a unit, its saga's rows are read together (and kept for the unit).
		const sagaId = this.unit === undefined && this.scope === undefined ? undefined : sagaOfTask(taskId);
		if (sagaId !== undefined) return this.storedTasks(sagaId).find((row) => row.task_id === taskId);
		return this.sql.exec<TaskRow>("SELECT * FROM outbox WHERE task_id = ?", taskId).toArray()[0];
	}

	private task(taskId: string): TaskRow | undefined {
		return this.unit?.rows.get(taskId)?.row ?? this.storedTask(taskId);
	}

	/** Runs reads with stored rows read once each (a unit does so for its whole length). */
	private reading<T>(read: () => T): T {
		if (this.unit !== undefined || this.scope !== undefined) return read();
		this.scope = { stored: new Map(), storedSagas: new Map() };
		try {
			return read();
		} finally {
			this.scope = undefined;
		}
	}

	private storedTasks(sagaId: string): TaskRow[] {
		const memo = (this.unit ?? this.scope)?.stored;
		const known = memo?.get(sagaId);
		if (known !== undefined) return known;
		const [from, to] = sagaRange(sagaId);
		const rows = this.sql.exec<TaskRow>("SELECT * FROM outbox WHERE task_id > ? AND task_id < ?", from, to).toArray();
		memo?.set(sagaId, rows);
		return rows;
	}

	/** A saga's tasks in step order, as this unit sees them. */
	private sagaTasks(sagaId: string): TaskRow[] {
		const rows = new Map(this.storedTasks(sagaId).map((row) => [row.task_id, row]));
		for (const { row } of this.unit?.rows.values() ?? []) if (row.saga_id === sagaId) rows.set(row.task_id, row);
		return [...rows.values()].sort((a, b) => a.ord - b.ord);
	}

	/** A room's saga row, if one was written (as this unit sees it). */
	private sagaRow(sagaId: string): SagaRow | undefined {
		if (this.owner !== "room") return undefined;
		const written = this.unit?.sagaRows.get(sagaId)?.row;
		if (written !== undefined) return written;
		const memo = (this.unit ?? this.scope)?.storedSagas;
		const known = memo?.get(sagaId);
		if (known !== undefined) return known ?? undefined;
		const row = this.sql.exec<SagaRow>("SELECT * FROM sagas WHERE saga_id = ?", sagaId).toArray()[0];
		memo?.set(sagaId, row ?? null);
		return row;
	}

	private moderation(id: string): ModerationRow | undefined {
		if (this.owner !== "moderation") return undefined;
		return this.sql.exec<ModerationRow>("SELECT * FROM moderations WHERE moderation_id = ?", id).toArray()[0];
	}

	/**
	 * The record a task belongs to, as the saga rules see it. A cross-post without a saga row
	 * has the state its committed tasks imply, or the one this unit moved it to.
	 */
	private run(id: string): RunRow | undefined {
		if (this.owner === "moderation") {
			const row = this.moderation(id);
			return row === undefined ? undefined : { id, state: row.state, stored: true };
		}
		const saga = this.sagaRow(id);
		if (saga !== undefined) return { id, state: saga.state, stored: true };
		const moved = this.unit?.implicit.get(id);
		if (moved !== undefined) return { id, state: moved, stored: false };
		const committed = this.storedTasks(id);
		if (committed.length === 0) return undefined;
		return { id, state: implicitSagaState(committed.map(facts)), stored: false };
	}

	/** A cross-post's fields, from its saga row or else from its tasks (they carry the original). */
	private sagaInfo(sagaId: string): SagaInfo | undefined {
		const run = this.run(sagaId);
		if (run === undefined || this.owner !== "room") return undefined;
		const row = this.sagaRow(sagaId);
		const tasks = this.sagaTasks(sagaId);
		if (row !== undefined) {
			return {
				sagaId,
				msgId: row.msg_id,
				authorId: row.author_id,
				authorName: row.author_name,
				traceId: row.trace_id,
				state: row.state as SagaState,
				createdAt: row.created_at,
				updatedAt: row.updated_at,
				stored: true,
			};
		}
		const first = tasks[0];
		if (first === undefined) return undefined;
		const payload = JSON.parse(first.payload) as CopyPayload;
		return {
			sagaId,
			msgId: payload.msgId,
			authorId: payload.author.id,
			authorName: payload.author.name,
			traceId: first.trace_id,
			state: run.state as SagaState,
			createdAt: first.created_at,
			updatedAt: Math.max(...tasks.map((t) => t.updated_at)),
			stored: false,
		};
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
		return this.reading(() => {
			const row = this.task(taskId);
			return row === undefined ? undefined : this.view(row);
		});
	}

	/** A task as the direct attempt checks it before going out: its state, attempt and lease. */
	leaseOf(taskId: string): { state: TaskState; attempts: number; leaseUntil: number | null } | undefined {
		// Outside a unit (where the direct line asks, once per task sent) only these three
		// columns are read: the whole row, notes and message included, cost ~4 % of a saturated
		// origin's thread.
		const row =
			this.unit === undefined && this.scope === undefined
				? this.sql
						.exec<Pick<TaskRow, "state" | "attempts" | "lease_until">>(
							"SELECT state, attempts, lease_until FROM outbox WHERE task_id = ?",
							taskId,
						)
						.toArray()[0]
				: this.task(taskId);
		return row === undefined ? undefined : { state: row.state as TaskState, attempts: row.attempts, leaseUntil: row.lease_until };
	}

	private sagaFields(info: SagaInfo): Omit<SagaView, "steps"> {
		return {
			sagaId: info.sagaId,
			originRoom: this.name(),
			msgId: info.msgId,
			traceId: info.traceId,
			state: info.state,
			createdAt: info.createdAt,
			updatedAt: info.updatedAt,
		};
	}

	getSaga(sagaId: string): SagaView | undefined {
		return this.reading(() => {
			const info = this.sagaInfo(sagaId);
			if (info === undefined) return undefined;
			return { ...this.sagaFields(info), steps: this.sagaTasks(sagaId).map((row) => this.view(row)) };
		});
	}

	/**
	 * A cross-post as the ops index keeps it: its summary, every task, and a version that
	 * grows with every change to it (each task move, each saga move).
	 */
	indexRecord(sagaId: string): { version: number; saga: SagaSummary; tasks: TaskView[] } | undefined {
		return this.reading(() => {
			const info = this.sagaInfo(sagaId);
			if (info === undefined) return undefined;
			const rows = this.sagaTasks(sagaId);
			const version = 8 * rows.reduce((n, row) => n + row.version + 1, 0) + SAGA_STATE_ORDER.indexOf(info.state);
			return {
				version,
				saga: { ...this.sagaFields(info), targets: [...new Set(rows.map((t) => t.room))] },
				tasks: rows.map((row) => this.view(row)),
			};
		});
	}

	/**
	 * The spans a cross-post's rows carry for this trace: its tasks' and its saga row's. An
	 * edit's tasks (v1.3) belong to the edit's own trace, the rest to the original's.
	 */
	notes(sagaId: string, traceId: string): Note[] {
		return this.reading(() => {
			const info = this.sagaInfo(sagaId);
			if (info === undefined) return [];
			const row = info.traceId === traceId ? this.sagaRow(sagaId) : undefined;
			const tasks = this.sagaTasks(sagaId).filter((t) => t.trace_id === traceId);
			return [...tasks.flatMap((t) => parseNotes(t.notes)), ...(row === undefined ? [] : parseNotes(row.notes))];
		});
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
		return nextDueAt(this.liveRows().map(liveFacts));
	}

	countLive(): number {
		return this.liveRows().length;
	}

	/** Unfinished deliveries to a room (a direct claim must not overtake one that went another way). */
	private liveDeliveriesTo(room: string): number {
		this.live ??= this.loadLive();
		let count = this.liveTo.get(room) ?? 0;
		// The unit's own changes over the committed count.
		for (const { row } of this.unit?.rows.values() ?? []) {
			if (row.kind !== "deliver" || row.room !== room) continue;
			const before = this.live.has(row.task_id);
			if (isLive(row) && !before) count++;
			else if (!isLive(row) && before) count--;
		}
		return count;
	}

	// -------------------------------------------------------------------------------------
	// Writing
	// -------------------------------------------------------------------------------------

	/** Queues a row for the unit's end; a row the unit inserted stays an insert. */
	private put(row: TaskRow, insert = false): void {
		const unit = this.open("task write");
		const pending = unit.rows.get(row.task_id);
		unit.rows.set(row.task_id, { row, insert: pending?.insert ?? insert });
	}

	/** Adds spans to a task row (a room's; a moderation's are span rows, see OpsRecord). */
	private noteOn(row: TaskRow, notes: readonly Note[]): TaskRow {
		if (this.owner !== "room" || notes.length === 0) return row;
		const next = { ...row, notes: JSON.stringify([...parseNotes(row.notes), ...notes]) };
		this.put(next);
		return next;
	}

	private move(
		row: TaskRow,
		event: TaskEvent,
		now: number,
		fields: Partial<
			Pick<
				TaskRow,
				| "attempts"
				| "next_attempt_at"
				| "lease_until"
				| "last_error"
				| "last_action"
				| "last_action_version"
				| "live_since"
				| "result"
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
		this.put(next);
		unit.tasks.push({ task: this.view(next), from, event, version: next.version });
		return next;
	}

	private moveSaga(run: RunRow, event: SagaEvent, now: number): void {
		const unit = this.open("saga move");
		const from = run.state as SagaState;
		const to = sagaTransition(from, event);
		if (to === undefined) throw new IllegalTransition(`saga ${run.id}`, from, event);
		if (to === from) return;
		const note: Note = { at: now, component: "saga", event: `saga.${to}`, detail: `${run.id} (was ${from})` };
		if (this.owner === "moderation") {
			this.sql.exec("UPDATE moderations SET state = ?, updated_at = ? WHERE moderation_id = ?", to, now, run.id);
		} else {
			const info = this.sagaInfo(run.id);
			if (info === undefined) throw new Error(`saga ${run.id} has no record`);
			const stored = this.sagaRow(run.id);
			if (stored !== undefined) {
				unit.sagaRows.set(run.id, {
					row: { ...stored, state: to, updated_at: now, notes: JSON.stringify([...parseNotes(stored.notes), note]) },
					insert: unit.sagaRows.get(run.id)?.insert ?? false,
				});
			} else if (from === "running" && to === "succeeded") {
				// Readable off its tasks: no saga row. The span goes with the task that finished it.
				unit.implicit.set(run.id, to);
				const last = [...unit.rows.values()].reverse().find((p) => p.row.saga_id === run.id)?.row;
				if (last !== undefined) this.noteOn(last, [note]);
			} else {
				unit.implicit.delete(run.id);
				unit.sagaRows.set(run.id, {
					row: {
						saga_id: run.id,
						msg_id: info.msgId,
						author_id: info.authorId,
						author_name: info.authorName,
						trace_id: info.traceId,
						state: to,
						created_at: info.createdAt,
						updated_at: now,
						notes: JSON.stringify([note]),
					},
					insert: true,
				});
			}
		}
		this.recordRun(run.id, from);
		// Only a cross-post has an author to tell; an operator follows a moderation in the console.
		const info = this.sagaInfo(run.id);
		if (info !== undefined && isSagaReportable(to)) unit.reported.push({ sagaId: run.id, state: to, authorId: info.authorId });
	}

	/** Records a saga's or moderation's change (as it now is) for traces and the index. */
	private recordRun(id: string, from: SagaState | null): void {
		const unit = this.open("saga record");
		const targets = [...new Set(this.sagaTasks(id).map((t) => t.room))];
		// Neither table has a version column: updated_at with the state order breaks ties.
		const version = (row: { state: string; updatedAt: number }) => row.updatedAt * 8 + SAGA_STATE_ORDER.indexOf(row.state as SagaState);
		const info = this.sagaInfo(id);
		if (info !== undefined) unit.sagas.push({ saga: { ...this.sagaFields(info), targets }, from, version: version(info) });
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
			unit.moderations.push({
				moderation: record,
				from,
				version: version({ state: moderation.state, updatedAt: moderation.updated_at }),
			});
		}
	}

	private insertTask(
		sagaId: string,
		kind: TaskKind,
		room: string,
		traceId: string,
		payload: TaskPayload,
		now: number,
		ord: number,
		notes: readonly Note[] = [],
		editSeq?: number,
	): TaskRow {
		const unit = this.open("task insert");
		const row: TaskRow = {
			task_id: taskIdFor(sagaId, kind, room, editSeq),
			ord,
			saga_id: sagaId,
			kind,
			room,
			state: "pending",
			attempts: 0,
			next_attempt_at: now,
			lease_until: null,
			last_error: null,
			dedup_key:
				kind === "edit" || kind === "mention" || kind === "unmention" ? `${sagaId}:${kind}:${editSeq ?? 0}` : `${sagaId}:${kind}`,
			trace_id: traceId,
			payload: JSON.stringify(payload),
			last_action: null,
			created_at: now,
			updated_at: now,
			done_at: null,
			version: 0,
			alert_epoch: 0,
			stuck_alert_epoch: null,
			live_since: now,
			last_action_version: null,
			result: null,
			notes: JSON.stringify(this.owner === "room" ? notes : []),
		};
		this.put(row, true);
		unit.tasks.push({ task: this.view(row), from: null, event: "create", version: row.version });
		return row;
	}

	private message(row: TaskRow): TaskMessage {
		return {
			taskId: row.task_id,
			sagaId: row.saga_id,
			kind: row.kind as TaskKind,
			origin: this.origin(),
			targetRoom: row.room,
			dedupKey: row.dedup_key,
			traceId: row.trace_id,
			attempt: row.attempts,
			payload: JSON.parse(row.payload) as TaskPayload,
		};
	}

	/**
	 * Starts a cross-post: one deliver task per target, in the caller's transaction (its saga
	 * row is written only if it ever needs one). With `direct`, a delivery it lets through is
	 * claimed at once (attempt 1, leased as the alarm would lease it) for the origin to attempt
	 * after the commit; the unit's `direct` lists them.
	 */
	startSaga(sagaId: string, message: MessageEvent, targets: readonly string[], now: number, start: SagaStart = {}): void {
		const unit = this.open("startSaga");
		unit.implicit.set(sagaId, "running");
		const payload: CopyPayload = { msgId: message.msgId, author: message.author, text: message.text, ts: message.ts };
		const received: Note[] = [
			{
				at: start.receivedAt ?? now,
				component: "ingress",
				event: "message.received",
				detail: `from ${message.author.id}, cross-post to ${targets.join(", ")}${viaSpan(start.traceparent)}`,
			},
			{ at: now, component: "room", event: "message.committed", detail: `seq ${message.seq}, saga ${sagaId}` },
		];
		targets.forEach((room, i) => {
			const direct = start.direct?.(room, this.liveDeliveriesTo(room)) === true;
			const row = this.insertTask(
				sagaId,
				"deliver",
				room,
				message.traceId,
				payload,
				now,
				message.seq * ORD_BLOCK + i,
				i === 0 ? received : [],
			);
			if (direct) this.claimAtCommit(row, now);
		});
		this.recordRun(sagaId, null);
	}

	/** Claims a task just inserted (attempt 1, leased as the alarm would lease it) for the origin to attempt after the commit. */
	private claimAtCommit(row: TaskRow, now: number): void {
		const unit = this.open("claimAtCommit");
		const claimed: TaskRow = { ...row, state: "processing", attempts: 1, lease_until: now + this.settings.leaseMs, version: 1 };
		const note: Note = {
			at: now,
			component: "outbox",
			event: "task.dispatch",
			detail: `${row.kind} to ${row.room}: pending → processing, attempt 1, direct`,
		};
		const noted = { ...claimed, notes: JSON.stringify([...parseNotes(claimed.notes), note]) };
		this.put(noted);
		unit.tasks.push({ task: this.view(noted), from: "pending", event: "claim", version: noted.version, noted: true });
		unit.direct.push(this.message(noted));
	}

	/**
	 * Carries an edit of a cross-posted original to its copies (v1.3), in the caller's
	 * transaction: every delivery not yet succeeded gets the new text (so an attempt still to
	 * come, an operator's retry included, makes the copy with it), and every room where a copy
	 * may be already gets an edit task (see editTargets), which waits behind that room's live
	 * delivery. Nothing is sent for a saga that is compensating or done compensating: its copies
	 * are being retracted. With `direct`, an edit whose copy's delivery is done is claimed for a
	 * direct attempt where the gate lets it (as a cross-post's deliveries are). Returns how many
	 * edit tasks it made.
	 */
	editCopies(
		sagaId: string,
		edit: { editSeq: number; editedAt: number; text: string; traceId: string },
		now: number,
		direct?: DirectGate,
	): number {
		this.open("editCopies");
		const run = this.run(sagaId);
		if (run === undefined || (run.state !== "running" && run.state !== "succeeded")) return 0;
		const rows = this.sagaTasks(sagaId);
		const fresh = (row: TaskRow): CopyPayload => ({
			...(JSON.parse(row.payload) as CopyPayload),
			text: edit.text,
			editSeq: edit.editSeq,
			editedAt: edit.editedAt,
		});
		for (const row of rows) {
			if (row.kind === "deliver" && row.state !== "succeeded") this.put({ ...row, payload: JSON.stringify(fresh(row)) });
		}
		const made = editTargets(rows.map(facts));
		for (const room of made) {
			const delivery = rows.find((row) => row.kind === "deliver" && row.room === room);
			if (delivery === undefined) continue;
			// After the saga's deliveries (steps 0..), before its retracts (RETRACT_ORDS on), in edit order.
			const earlier = rows.filter((row) => row.kind === "edit" && row.room === room).length;
			const ord = Math.floor(delivery.ord / ORD_BLOCK) * ORD_BLOCK + EDIT_ORDS + Math.min(earlier, RETRACT_ORDS - EDIT_ORDS - 1);
			const row = this.insertTask(sagaId, "edit", room, edit.traceId, fresh(delivery), now, ord, [], edit.editSeq);
			// Behind a live delivery it waits for the alarm (dueTasks); after one, it may go at once.
			if (!isLive(delivery) && direct?.(room, this.liveDeliveriesTo(room)) === true) this.claimAtCommit(row, now);
		}
		if (made.length > 0) this.recordRun(sagaId, run.state as SagaState);
		return made.length;
	}

	/**
	 * v1.4: a change to a message's inbox work, in the caller's transaction: a `mention` task per
	 * user to (re)mention with the excerpt of the text as it now is, and an `unmention` per user no
	 * longer mentioned (final once the message is gone). They belong to the message's inbox run (inboxRunId), named by the change's seq
	 * (`version`), by which each inbox orders what it applies: so they need no order among
	 * themselves, and each may go out at once, directly, where the gate lets it. The run has no
	 * saga row: its state is read off its tasks (running while any is live). Returns how many
	 * tasks it made.
	 */
	inboxWork(work: InboxWork, now: number, direct?: DirectGate): number {
		this.open("inboxWork");
		const { message, version } = work;
		const runId = inboxRunId(this.name(), message.seq);
		const existed = this.sagaTasks(runId).length > 0;
		const base: InboxPayload = {
			msgId: message.msgId,
			author: message.author,
			text: "",
			ts: message.ts,
			version,
			...(work.editedAt === undefined ? {} : { editedAt: work.editedAt }),
		};
		const made: Array<{ kind: "mention" | "unmention"; user: string; payload: InboxPayload }> = [];
		const excerpt = excerptOf(message.text);
		for (const user of work.mention) made.push({ kind: "mention", user, payload: { ...base, text: excerpt } });
		for (const user of work.unmention)
			made.push({ kind: "unmention", user, payload: work.gone === true ? { ...base, gone: true } : base });
		made.forEach(({ kind, user, payload }, i) => {
			const target = inboxTarget(user);
			const row = this.insertTask(runId, kind, target, work.traceId, payload, now, version * ORD_BLOCK + i, [], version);
			if (direct?.(target, 0) === true) this.claimAtCommit(row, now);
		});
		if (made.length > 0) this.recordRun(runId, existed ? (this.run(runId)?.state as SagaState) : null);
		return made.length;
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
		start.plan.forEach(({ room, msgIds }, i) => {
			if (msgIds.length > 0) this.insertTask(start.id, "moderate", room, start.traceId, { msgIds, reason: "moderated" }, now, i);
		});
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
	 * Claims every due task (see dueTasks): pending ones whose time has come and processing
	 * ones whose lease ran out, which may have been lost with a runtime. Each claim is an attempt.
	 */
	claimDue(now: number, limit = 100): TaskMessage[] {
		this.open("claimDue");
		const due = dueTasks(this.liveRows().map(liveFacts), now, limit);
		const claimed: TaskMessage[] = [];
		for (const taskId of due) {
			const row = this.task(taskId);
			if (row === undefined || !isLive(row)) continue;
			const moved = this.move(row, "claim", now, { attempts: row.attempts + 1, lease_until: now + this.settings.leaseMs });
			claimed.push(this.message(moved));
		}
		return claimed;
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
	 * Records what a target room did with a task (see attemptDecision), with the spans of how
	 * it went (`notes`): a report for a task that is no longer waiting for that attempt
	 * changes nothing.
	 */
	complete(taskId: string, attempt: number, outcome: TaskOutcome, now: number, notes: readonly Note[] = []): TaskView | undefined {
		this.open("complete");
		const row = this.task(taskId);
		if (row === undefined) return undefined;
		const decision = attemptDecision(facts(row), attempt, outcome.status, this.settings.maxAttempts);
		const noted = decision.action === "ignore" ? row : this.noteOn(row, notes);
		const withResult = decision.action === "succeed" ? { ...noted, result: JSON.stringify(outcome) } : noted;
		this.decide(withResult, decision, outcome.status === "ok" ? null : `${outcome.code}: ${outcome.message}`, now);
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
		// An inbox run (v1.4) never moves: its state is read off its tasks; the index hears of it.
		if (isInboxRun(sagaId)) {
			this.recordRun(sagaId, null);
			return;
		}
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
			const row = this.task(taskId);
			if (row !== undefined) this.move(row, "cancel", now);
		}
		// Edits still on their way would only change copies about to be retracted (v1.3).
		for (const row of rows) {
			const current = this.task(row.task_id);
			if (current !== undefined && current.kind === "edit" && isLive(current)) this.move(current, "cancel", now);
		}
		const base = Math.floor((rows[0]?.ord ?? 0) / ORD_BLOCK) * ORD_BLOCK + RETRACT_ORDS;
		let next = rows.filter((row) => row.kind === "retract").length;
		for (const { room, delivery } of plan.retract) {
			const row = byId.get(delivery);
			if (row === undefined) continue;
			// A retract finds its copy through the barrier: it never carries the text.
			const payload: CopyPayload = { ...(JSON.parse(row.payload) as CopyPayload), text: "", reason };
			this.insertTask(
				saga.id,
				"retract",
				room,
				row.trace_id,
				payload,
				now,
				this.owner === "room" ? base + next++ : rows.length + next++,
			);
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
		for (const row of this.sagaTasks(sagaId)) {
			const payload = JSON.parse(row.payload) as Partial<CopyPayload>;
			if (typeof payload.text === "string" && payload.text !== "")
				this.put({ ...row, payload: JSON.stringify({ ...payload, text: "" }) });
		}
	}

	/**
	 * Archives finished tasks past retention; done lazily, so it never needs its own alarm. A
	 * room walks its cross-posts in commit order from `archived_from` (the event log is in
	 * time order), so a run reads only what may be old enough.
	 */
	archiveOld(now: number): number {
		const unit = this.open("archiveOld");
		const cutoff = now - TASK_RETENTION_MS;
		const old = (row: TaskRow) => ["succeeded", "failed", "skipped", "cancelled"].includes(row.state) && (row.done_at ?? now) < cutoff;
		let archived = 0;
		if (this.owner === "moderation") {
			for (const row of this.sql.exec<TaskRow>("SELECT * FROM outbox").toArray()) {
				if (old(row) && archived < 500) {
					this.move(row, "archive", now);
					archived++;
				}
			}
			return archived;
		}
		const from = Number(this.getMeta("archived_from") ?? "0");
		let through = from;
		let blocked = false;
		const events = this.sql.exec<{ seq: number; saga_id: string | null; ts: number }>(
			"SELECT seq, saga_id, ts FROM events WHERE seq >= ? ORDER BY seq LIMIT ?",
			from,
			ARCHIVE_SCAN,
		);
		for (const event of events) {
			if (event.ts >= cutoff || archived >= 500) break;
			// A message's cross-post and (v1.4) its inbox run, if it has them.
			for (const runId of [event.saga_id, inboxRunId(this.name(), event.seq)]) {
				if (runId === null) continue;
				const rows = this.sagaTasks(runId);
				for (const row of rows) {
					if (!old(row)) continue;
					this.move(row, "archive", now);
					archived++;
				}
				// A saga with a task not yet old enough (or live) holds the mark back.
				if (rows.some((row) => row.state !== "archived" && !old(row))) blocked = true;
			}
			if (!blocked) through = event.seq + 1;
		}
		if (through !== from) unit.archivedFrom = through;
		return archived;
	}

	/** The seq after the newest event (rooms): what `live_from` may move up to at most. */
	nextSeq(): number {
		return (this.sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM events").one().seq ?? 0) + 1;
	}

	/** The cross-posts and inbox runs a start must assume unshipped to the index: those from `live_from` on. */
	recentSagas(): string[] {
		if (this.owner !== "room") return [];
		const from = this.persistedLiveFrom();
		const sagas = this.sql
			.exec<{ saga_id: string }>("SELECT saga_id FROM events WHERE seq >= ? AND saga_id IS NOT NULL", from)
			.toArray()
			.map((row) => row.saga_id);
		return [...sagas, ...new Set(this.inboxRunRows(from).map((row) => row.saga_id))];
	}

	/** The task rows of this room's inbox runs for messages from `seq` on (one key range). */
	private inboxRunRows(seq: number): TaskRow[] {
		return this.sql
			.exec<TaskRow>("SELECT * FROM outbox WHERE task_id >= ? AND task_id < ?", inboxRunId(this.name(), seq), `${this.name()}~o`)
			.toArray();
	}

	/** Moves `live_from` up to `seq` (never past a live task), for the next start to read less. */
	advanceLiveFrom(seq: number): void {
		const unit = this.open("advanceLiveFrom");
		if (this.owner !== "room") return;
		const floor = this.liveFloor();
		const to = Math.min(seq, floor ?? seq);
		if (to > this.persistedLiveFrom()) unit.liveFrom = to;
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
		const rows = this.liveRows()
			.filter((row) => (row.live_since ?? now) <= now - stuckMs && row.stuck_alert_epoch !== row.alert_epoch)
			.slice(0, 100);
		for (const row of rows) {
			this.put({ ...row, stuck_alert_epoch: row.alert_epoch });
			unit.alerts.push({ kind: "task_stuck", task: this.view(row), epoch: row.alert_epoch });
		}
		return rows.length;
	}

	/** When the next stuck alert falls due, if any live task is heading there. */
	nextStuckAt(stuckMs: number): number | null {
		let at: number | null = null;
		for (const row of this.liveRows()) {
			if (row.live_since === null || row.stuck_alert_epoch === row.alert_epoch) continue;
			at = at === null ? row.live_since + stuckMs : Math.min(at, row.live_since + stuckMs);
		}
		return at;
	}
}
