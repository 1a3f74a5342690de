/**
 * The machinery every object with an outbox shares (a room, an operator moderation):
 * transactions that open the outbox's unit of work and record what it changed for traces,
 * the index and alerts; the alarm ticker that dispatches due tasks to the queue with leases,
 * ships index updates and posts alerts; and the origin-side calls of the queue consumer and
 * the operators.
 */
import { ok, type Result } from "../src/errors.ts";
import type { Config } from "../src/config.ts";
import { postAlert } from "../src/ops/alert-delivery.ts";
import { shardName, shardOf } from "../src/ops/shard.ts";
import type { AlertView, IndexUpdate, Span } from "../src/ops/types.ts";
import { inboxUserOf } from "../src/inbox-protocol.ts";
import { seqOfMessageId } from "../src/protocol.ts";
import { attempt, loadFaults } from "../src/queue.ts";
import { backoffDelay } from "../src/saga/backoff.ts";
import { withTimeout } from "../src/saga/errors.ts";
import { batchTasks } from "../src/saga/batches.ts";
import { NO_FAULTS } from "../src/saga/faults.ts";
import { mayAttemptDirectly, mayClaimAtCommit } from "../src/saga/policy.ts";
import type { ManualAction, SagaFrameData, TaskBatch, TaskMessage, TaskOutcome, TaskReport, TaskView } from "../src/saga/types.ts";
import { attemptTraceparent, viaSpan } from "../src/trace.ts";
import { Meter } from "./meter.ts";
import type { MeterReading, StorageMeter } from "./storage-meter.ts";
import type { OpsRecord } from "./ops-record.ts";
import { type Note, type Outbox, type OutboxChanges, TASK_RETENTION_MS } from "./outbox.ts";

/** Queue sends and index feeds from the alarm give up after this; the rows stay and retry. */
const OUTBOUND_TIMEOUT_MS = 10_000;

/**
 * While deliveries wait for their direct attempt, the alarm is set no later than this after
 * the commit: if the runtime dies meanwhile it wakes the object, which re-claims them once
 * their lease runs out; if nothing died, it finds nothing to do and the room goes idle.
 */
const DIRECT_CHECK_MS = 1000;
/**
 * How long a finished round waits for a write to ride along with (a room's next group commit,
 * which a busy room makes every few ms) before it is written on its own: a commit of its own
 * would hold the room's output (every ack and broadcast) for one more commit. Only the saga's
 * end waits (its frame, the index); the copies are made by then.
 */
const ROUND_WAIT_MS = 50;
/** How long a shipment to the index waits for more cross-posts to end and go with it. */
const SHIP_GATHER_MS = 20;
/** A read of a cross-post waits this long at most for its record to reach the index. */
const SHIP_WAIT_MS = 2000;
/** `live_from` moves after this many cross-posts have settled and shipped (one row each time). */
const LIVE_FROM_EVERY = 32;

/** One commit's direct attempts: they complete together, in one write (one row per task). */
interface Round {
	waiting: number;
	reports: Array<TaskReport & { notes: Note[] }>;
	/** Its cross-posts: the index hears of them when the round is written, not before. */
	sagas: Set<string>;
}

/** A room's line of direct attempts from this origin: one batch in flight at a time, in commit order. */
interface Line {
	busy: boolean;
	queued: Array<{ task: TaskMessage; round: Round }>;
	inFlight: number;
}

/** What the queue consumer saw of one delivery, for the trace. */
export interface DeliveryNote {
	receivedAt: number;
	queueAttempts: number;
	/** The consumer's span (W3C `traceparent`) that carried this report. */
	traceparent?: string;
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
	storageMeter: StorageMeter;
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
	/** The object's counters (a room shares its own); the engine makes one when none is given. */
	meter?: Meter;
}

/**
 * The span of what a target room did with an attempt, as its origin records it; `via` is the
 * trace context the target was called with (the attempt's span), as the target's own span of
 * a queued attempt names the consumer's.
 */
function targetNote(kind: string, room: string, attempt: number, outcome: TaskOutcome, at: number, via?: string): Note {
	const detail = outcome.status === "ok" ? outcome.detail : `${outcome.code}: ${outcome.message}`;
	const event = outcome.status === "transient" && outcome.code === "fault" ? `${kind}.fault_injected` : `${kind}.${outcome.status}`;
	// The target is a room, or (v1.4) a user's inbox (`@<user>`).
	const component = inboxUserOf(room) === undefined ? "room" : "inbox";
	return { at, component, event, detail: `attempt ${attempt}: ${detail}${viaSpan(via)}`, room };
}

/**
 * The spans of one direct attempt: it reached its target (with no queue hop), and what the
 * target did; both name the attempt's span, the hop that carried it.
 */
function directNotes(task: TaskMessage, outcome: TaskOutcome, sentAt: number, doneAt: number): Note[] {
	const detail = `${task.kind} to ${task.targetRoom}, attempt ${task.attempt}, direct (no queue hop)${viaSpan(task.traceparent)}`;
	return [
		{ at: sentAt, component: "queue", event: "queue.delivered", detail },
		targetNote(task.kind, task.targetRoom, task.attempt, outcome, doneAt, task.traceparent),
	];
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
	/**
	 * Whether a commit's deliveries get a direct first attempt from this object. A test that
	 * drives attempts through the queue by hand turns it off (test/runtime/helpers.ts).
	 */
	attemptDirectly = true;
	/**
	 * How a direct attempt reaches its target: the same call the queue consumer makes
	 * (src/queue.ts `attempt`). A test replaces it to lose an answer or hold an attempt.
	 */
	directAttempt: (tasks: TaskMessage[]) => Promise<TaskOutcome[]> = async (tasks) => await this.attemptDirect(tasks);

	private readonly host: EngineHost;
	/** Counts attempts, failures, dead letters, alert deliveries and alarm lag (objects/meter.ts). */
	readonly meter: Meter;
	/** Direct attempts by target room (in memory: a crash leaves their tasks leased, for the alarm). */
	private readonly lines = new Map<string, Line>();
	/** Rounds not yet written. */
	private readonly openRounds = new Set<Round>();
	/** Rounds with every answer in, waiting for the next write. */
	private finished: Round[] = [];
	private roundsScheduled = false;
	/** Rounds already tried once on their own after a failed write. */
	private readonly retried = new WeakSet<Round>();
	/** Direct claims the open write has made, per room, before they join a line. */
	private provisional = new Map<string, number>();
	/** Cross-posts changed since the index last heard of them, with a change count. */
	private readonly unshipped = new Map<string, number>();
	/** The index shipment in flight, if any. */
	private shipping: Promise<void> | undefined;
	/** Ends the current shipment's gathering wait at once. */
	private shipNow: (() => void) | undefined;
	private shipAgain = false;
	private shipFailedAt: number | undefined;
	private shipFailures = 0;
	/** Whether this incarnation has re-shipped what an earlier one may have left unshipped. */
	private reshipped = false;
	/** Cross-posts settled and shipped since `live_from` last moved. */
	private settledSinceFloor = 0;

	constructor(host: EngineHost) {
		this.host = host;
		this.meter =
			host.meter ??
			new Meter({
				env: () => host.env(),
				name: () => host.name(),
				shards: host.config.opsIndexShards,
				flushMs: host.config.metricsFlushMs,
				labelledRooms: host.config.metricsRooms,
			});
	}

	/**
	 * The gate a cross-post's start asks before claiming a delivery for a direct attempt: yes
	 * while every unfinished delivery to that room is in this origin's direct line (policy's
	 * mayClaimAtCommit), so a direct copy never overtakes one on the durable path.
	 */
	readonly directGate = (room: string, liveToRoom: number): boolean => {
		if (!this.attemptDirectly) return false;
		const line = this.lines.get(room);
		const mine = (line?.queued.length ?? 0) + (line?.inFlight ?? 0) + (this.provisional.get(room) ?? 0);
		if (!mayClaimAtCommit(liveToRoom, mine)) return false;
		this.provisional.set(room, (this.provisional.get(room) ?? 0) + 1);
		return true;
	};

	/**
	 * Runs a write as one SQLite transaction and one outbox unit of work, together with the
	 * spans, index updates and alerts its changes imply. On a throw nothing of it stays; once
	 * it has committed, sockets hear about the sagas it ended.
	 */
	write<T>(work: () => T): T {
		const { ctx, outbox, ops } = this.host;
		let unit: { result: T; changes: OutboxChanges };
		// Finished direct rounds ride along with whatever commits next (a room's group commit,
		// usually): a transaction of their own would hold the room's output for one more commit.
		const carried = this.finished.splice(0);
		try {
			unit = ctx.storage.transactionSync(() => {
				const done = outbox.transact(() => {
					const now = this.now();
					for (const round of carried)
						for (const { taskId, attempt, outcome, notes } of round.reports)
							outbox.complete(taskId, attempt, outcome, now, notes);
					return work();
				});
				const now = this.now();
				ops.recordChanges(done.changes.tasks, done.changes.sagas, done.changes.moderations, now);
				ops.raiseAlerts(done.changes.alerts, now);
				return done;
			});
		} catch (error) {
			this.provisional = new Map();
			outbox.forgetLive();
			this.host.onRollback?.();
			if (carried.length > 0) this.dropOrRetry(carried, error);
			throw error;
		}
		for (const round of carried) this.openRounds.delete(round);
		if (carried.length > 0) this.host.ctx.waitUntil(this.afterWrite());
		const { direct, touched, reports, tasks } = unit.changes;
		// Counted once committed, from the changes the unit made (nothing is written for it): a
		// direct claim at commit is an attempt like one the alarm claims.
		for (const change of tasks) {
			if (change.event === "claim") this.meter.count("task_attempts", { kind: change.task.kind });
			else if (change.task.state === "failed" && change.from !== "failed")
				this.meter.count("tasks_failed", { kind: change.task.kind });
		}
		// Direct answers are counted once written, as the consumer's reports are (completeTasks).
		for (const round of carried) for (const { taskId, outcome } of round.reports) this.countFailedAttempt(taskId, outcome);
		for (const sagaId of touched) this.unshipped.set(sagaId, (this.unshipped.get(sagaId) ?? 0) + 1);
		if (direct.length > 0) this.startDirect(direct);
		this.provisional = new Map();
		if (touched.length > 0) this.shipSoon();
		if (reports.length > 0) this.host.onSagaReports?.(reports);
		return unit.result;
	}

	/** Whether anything needs the alarm; checked on start, since a fired alarm is used up. */
	needsAlarm(): boolean {
		return this.host.outbox.countLive() > 0 || this.host.ops.nextWakeAt() !== null;
	}

	/** Whether any work is unfinished: live tasks, direct attempts, anything still to ship (tests wait on it). */
	busy(): boolean {
		return (
			this.needsAlarm() || this.lines.size > 0 || this.openRounds.size > 0 || this.unshipped.size > 0 || this.shipping !== undefined
		);
	}

	/**
	 * Sets the alarm for the next due time (a task or a lease's end, an index update, an
	 * alert, a stuck deadline). The schedule itself lives in SQLite and memory. Each set or
	 * delete is a row written and holds the room's output until it is stored, so the alarm
	 * moves as little as it can: one set earlier than needed is kept (it fires, finds nothing
	 * due and re-arms), and one due soon with nothing left to do is left to fire. `exact`
	 * (the ticker's own re-arm) sets exactly the next time.
	 *
	 * While direct attempts are out, the alarm must come no later than their leases' end (a
	 * due time like any other). With no alarm set at all, it is set for a check soon after
	 * (DIRECT_CHECK_MS) instead, so a room whose attempts all came back goes idle soon; the
	 * same for cross-posts the index has yet to hear of (a new incarnation ships them again).
	 */
	async armAlarm(notBefore = 0, exact = false): Promise<void> {
		const { ctx } = this.host;
		const now = this.now();
		const due = [this.earliestDue(), this.shipRetryAt()].filter((t): t is number => t !== null);
		const hard = due.length === 0 ? null : Math.min(...due);
		// Work in memory only (attempts out, a shipment under way) needs some alarm in case the runtime dies, not a particular one.
		const check = this.openRounds.size > 0 || this.shippable().length > 0 ? now + DIRECT_CHECK_MS : null;
		const current = await ctx.storage.getAlarm();
		// The schedule is in the engine's time, the alarm in real time; they differ only in tests.
		const skew = now - Date.now();
		const wanted =
			exact || current !== null ? (hard ?? check) : Math.min(hard ?? Number.POSITIVE_INFINITY, check ?? Number.POSITIVE_INFINITY);
		if (wanted === null || !Number.isFinite(wanted)) {
			if (current !== null && (exact || current - Date.now() > 2 * DIRECT_CHECK_MS)) {
				this.host.storageMeter.alarmWrites++;
				await ctx.storage.deleteAlarm();
			}
			return;
		}
		const next = Math.max(wanted, notBefore) - skew;
		if (exact ? current !== next : current === null || current > next) {
			this.host.storageMeter.alarmWrites++;
			await ctx.storage.setAlarm(next);
		}
	}

	// -------------------------------------------------------------------------------------
	// Direct first attempts
	// -------------------------------------------------------------------------------------

	/**
	 * Takes the deliveries a commit claimed for a direct attempt: they join their rooms'
	 * lines and go out at once, through the same barrier as the queue consumer's. Whatever
	 * goes wrong (a refusal, a timeout, a crash) leaves them to the durable path: the answer
	 * is recorded as any attempt's would be, or the lease runs out and the alarm re-claims.
	 */
	private startDirect(tasks: readonly TaskMessage[]): void {
		const round: Round = { waiting: tasks.length, reports: [], sagas: new Set(tasks.map((t) => t.sagaId)) };
		this.openRounds.add(round);
		for (const claimed of tasks) {
			// A direct attempt carries its attempt's span like a queued one (see the alarm).
			const task: TaskMessage = { ...claimed, traceparent: attemptTraceparent(claimed) };
			let line = this.lines.get(task.targetRoom);
			if (line === undefined) {
				line = { busy: false, queued: [], inFlight: 0 };
				this.lines.set(task.targetRoom, line);
			}
			line.queued.push({ task, round });
		}
		for (const room of new Set(tasks.map((t) => t.targetRoom))) this.kick(room);
	}

	private kick(room: string): void {
		const line = this.lines.get(room);
		if (line === undefined || line.busy) return;
		line.busy = true;
		this.host.ctx.waitUntil(this.runLine(room, line));
	}

	/** Sends a room's queued direct attempts, one batch at a time (all that queued meanwhile), until its line is empty. */
	private async runLine(room: string, line: Line): Promise<void> {
		try {
			while (line.queued.length > 0) {
				const taken = line.queued.splice(0);
				// Only a task still leased for this very attempt goes out; the others belong to the durable path now.
				const now = this.now();
				const sendable = taken.filter(({ task }) => mayAttemptDirectly(this.host.outbox.leaseOf(task.taskId), task.attempt, now));
				for (const entry of taken) if (!sendable.includes(entry)) this.settleDirect(entry.round);
				if (sendable.length === 0) continue;
				line.inFlight = sendable.length;
				const sentAt = this.now();
				let outcomes: TaskOutcome[];
				try {
					outcomes = await this.directAttempt(sendable.map((e) => e.task));
				} catch (error) {
					// It may or may not have reached the target: "unknown", retried, and the barrier makes a repeat harmless.
					outcomes = sendable.map(() => ({
						status: "transient",
						code: "unknown",
						message: error instanceof Error ? error.message : String(error),
					}));
				}
				line.inFlight = 0;
				const doneAt = this.now();
				let stopped = false;
				sendable.forEach(({ task, round }, i) => {
					const outcome: TaskOutcome = outcomes[i] ?? { status: "transient", code: "unknown", message: "no outcome" };
					round.reports.push({
						taskId: task.taskId,
						attempt: task.attempt,
						outcome,
						notes: directNotes(task, outcome, sentAt, doneAt),
					});
					if (outcome.status !== "ok") stopped = true;
					this.settleDirect(round);
				});
				// After one that did not go through, the rest must not overtake it: they go back, due now, for the alarm.
				if (stopped) {
					for (const { task, round } of line.queued.splice(0)) {
						round.reports.push({
							taskId: task.taskId,
							attempt: task.attempt,
							outcome: { status: "deferred", code: "deferred", message: "an earlier direct attempt did not go through" },
							notes: [],
						});
						this.settleDirect(round);
					}
				}
			}
		} finally {
			line.busy = false;
			if (line.queued.length === 0 && line.inFlight === 0) this.lines.delete(room);
			else this.kick(room);
		}
	}

	private async attemptDirect(tasks: TaskMessage[]): Promise<TaskOutcome[]> {
		const env = this.host.env();
		let faults = NO_FAULTS;
		if (this.host.config.faults) {
			try {
				faults = await loadFaults(env);
			} catch {
				faults = NO_FAULTS;
			}
		}
		// The target records no spans of a direct attempt: this origin notes them in the task rows.
		return await attempt(env, tasks, faults, false);
	}

	/** One task of a round is done (answered or handed over); the last one writes the round. */
	private settleDirect(round: Round): void {
		round.waiting--;
		if (round.waiting > 0) return;
		this.host.ctx.waitUntil(this.completeRound(round));
	}

	/**
	 * A round whose answers are all in: written with the next write (see `write`), which a
	 * zero-delay timer makes if none comes first. Its cross-posts stay held from the index
	 * until then, so the index hears of them once, as they end.
	 */
	private async completeRound(round: Round): Promise<void> {
		if (round.reports.length === 0) {
			this.openRounds.delete(round);
			this.shipSoon();
			await this.afterWrite();
			return;
		}
		this.finished.push(round);
		if (this.roundsScheduled) return;
		this.roundsScheduled = true;
		setTimeout(() => {
			this.roundsScheduled = false;
			if (this.finished.length === 0) return;
			try {
				this.write(() => undefined);
			} catch {
				// Logged by dropOrRetry.
			}
		}, ROUND_WAIT_MS);
	}

	/**
	 * Rounds whose write failed: tried once more on their own (another command of the write
	 * may have been what failed); failing again, they are dropped, their tasks stay leased,
	 * and the alarm re-claims them when the lease runs out.
	 */
	private dropOrRetry(rounds: Round[], error: unknown): void {
		const again = rounds.filter((round) => !this.retried.has(round));
		for (const round of rounds) {
			if (again.includes(round)) continue;
			this.openRounds.delete(round);
			console.error(
				JSON.stringify({ level: "error", msg: "direct attempt not recorded", origin: this.host.name(), error: String(error) }),
			);
		}
		if (again.length === 0) {
			this.shipSoon();
			return;
		}
		for (const round of again) this.retried.add(round);
		setTimeout(() => {
			this.finished.push(...again);
			try {
				this.write(() => undefined);
			} catch {
				// Logged above, on the second failure.
			}
		}, 0);
	}

	/** Tasks the alarm claimed again leave the direct lines: the durable path has them now. */
	private leaveLines(taskIds: ReadonlySet<string>): void {
		for (const line of this.lines.values()) {
			const kept = line.queued.filter((entry) => !taskIds.has(entry.task.taskId));
			if (kept.length === line.queued.length) continue;
			const dropped = line.queued.filter((entry) => taskIds.has(entry.task.taskId));
			line.queued = kept;
			for (const entry of dropped) this.settleDirect(entry.round);
		}
	}

	// -------------------------------------------------------------------------------------
	// The ops index
	// -------------------------------------------------------------------------------------

	/** Cross-posts with a direct round under way are held back: the index hears of them once, at its end. */
	private heldSagas(): Set<string> {
		const held = new Set<string>();
		for (const round of this.openRounds) for (const id of round.sagas) held.add(id);
		return held;
	}

	private shippable(): string[] {
		const held = this.heldSagas();
		return [...this.unshipped.keys()].filter((id) => !held.has(id));
	}

	/** When a failed shipment is due again, if one failed. */
	private shipRetryAt(): number | null {
		if (this.shipFailedAt === undefined || this.shippable().length === 0) return null;
		return this.shipFailedAt + backoffDelay(this.shipFailures, Math.max(this.host.config.outboxBaseDelayMs, 500));
	}

	/** Ships what is shippable now, unless a shipment is under way (it ships again when done). */
	private shipSoon(): void {
		if (this.shipping !== undefined) {
			this.shipAgain = true;
			return;
		}
		if (this.shippable().length === 0) return;
		// A short wait gathers what ends meanwhile into one shipment: one index commit for many
		// cross-posts. A reader waiting for one (`indexed`) cuts it short.
		const gathered = new Promise<void>((resolve) => {
			const timer = setTimeout(resolve, SHIP_GATHER_MS);
			this.shipNow = () => {
				clearTimeout(timer);
				resolve();
			};
		});
		const run = gathered
			.then(async () => await this.shipLoop())
			.finally(() => {
				this.shipping = undefined;
				this.shipNow = undefined;
			});
		this.shipping = run;
		this.host.ctx.waitUntil(run);
	}

	private async shipLoop(): Promise<void> {
		do {
			this.shipAgain = false;
			if (!(await this.shipOnce())) return;
		} while (this.shipAgain && this.shippable().length > 0);
	}

	/**
	 * Sends every shippable cross-post to its index shard, as one record each (one row there).
	 * What changes while a shipment is on its way ships again; what fails waits for the alarm.
	 */
	private async shipOnce(): Promise<boolean> {
		const { outbox, config } = this.host;
		const ids = this.shippable();
		const counts = new Map(ids.map((id) => [id, this.unshipped.get(id) ?? 0]));
		const byShard = new Map<number, { ids: string[]; updates: IndexUpdate[] }>();
		// Whether each shipped version had settled: read off the record itself, not the tables
		// again once it has shipped (a cross-post changed meanwhile ships again, counted then).
		const settled = new Set<string>();
		for (const id of ids) {
			const record = outbox.indexRecord(id);
			if (record === undefined) {
				this.unshipped.delete(id);
				continue;
			}
			if (record.saga.state !== "running") settled.add(id);
			const shard = shardOf(record.saga.traceId, config.opsIndexShards);
			const batch = byShard.get(shard) ?? { ids: [], updates: [] };
			batch.ids.push(id);
			batch.updates.push({ type: "crosspost", ...record });
			byShard.set(shard, batch);
		}
		let ok = true;
		await Promise.all(
			[...byShard].map(async ([shard, batch]) => {
				try {
					this.host.storageMeter.countCall("out", "ingest");
					await withTimeout(
						"index feed",
						OUTBOUND_TIMEOUT_MS,
						this.host.env().OPS_INDEX.getByName(shardName(shard)).ingest(batch.updates),
					);
					for (const id of batch.ids) {
						if (this.unshipped.get(id) !== counts.get(id)) continue;
						this.unshipped.delete(id);
						if (settled.has(id)) this.settledSinceFloor++;
					}
				} catch (error) {
					ok = false;
					console.warn(
						JSON.stringify({ level: "warn", msg: "index feed failed", origin: this.host.name(), shard, error: String(error) }),
					);
				}
			}),
		);
		if (ok) {
			this.shipFailedAt = undefined;
			this.shipFailures = 0;
			this.moveLiveFrom();
		} else {
			this.shipFailedAt = this.now();
			this.shipFailures++;
			await this.armAlarm();
		}
		return ok;
	}

	/** Lets the next start read less of the event log, once enough has settled (one row per move). */
	private moveLiveFrom(): void {
		const { outbox } = this.host;
		if (this.settledSinceFloor < LIVE_FROM_EVERY) return;
		let to = outbox.nextSeq();
		for (const id of this.unshipped.keys()) {
			const msgId = outbox.indexRecord(id)?.saga.msgId;
			const seq = msgId === undefined ? undefined : seqOfMessageId(msgId);
			if (seq !== undefined) to = Math.min(to, seq);
		}
		this.settledSinceFloor = 0;
		try {
			this.write(() => outbox.advanceLiveFrom(to));
		} catch (error) {
			console.warn(JSON.stringify({ level: "warn", msg: "live_from not moved", origin: this.host.name(), error: String(error) }));
		}
	}

	/**
	 * Resolves once the index has this cross-post as it is now, if a shipment of it is under
	 * way (bounded): so whoever reads it here and then lists the index finds it there too.
	 */
	async indexed(sagaId: string): Promise<void> {
		if (!this.unshipped.has(sagaId) || this.heldSagas().has(sagaId)) return;
		const shipping = this.shipping;
		if (shipping === undefined) return;
		this.shipNow?.();
		await Promise.race([shipping, new Promise<void>((resolve) => setTimeout(resolve, SHIP_WAIT_MS))]);
	}

	/** The earliest time anything of the outbox, the feed, the alerts or a stuck deadline is due. */
	private earliestDue(): number | null {
		const { outbox, ops, config } = this.host;
		const times = [outbox.nextWakeAt(), ops.nextWakeAt(), outbox.nextStuckAt(config.alertStuckMs)].filter(
			(t): t is number => t !== null,
		);
		return times.length === 0 ? null : Math.min(...times);
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
		const due = this.earliestDue();
		if (due !== null && due <= now) this.meter.alarmLag(now - due);
		// After a failed run the next one waits a base delay, so a persistent fault cannot spin.
		let notBefore = 0;
		try {
			const claimed = this.write(() => {
				outbox.archiveOld(now);
				this.host.ops.pruneSpans(now - TASK_RETENTION_MS);
				outbox.raiseStuck(now, config.alertStuckMs);
				return outbox.claimDue(now);
			});
			// A re-claimed task is the durable path's now; its direct attempt, if still queued, is dropped.
			this.leaveLines(new Set(claimed.map((t) => t.taskId)));
			// Each attempt travels with its own span of the task's trace (derived, so never stored).
			const batches = batchTasks(claimed.map((task) => ({ ...task, traceparent: attemptTraceparent(task) })));
			for (let i = 0; i < batches.length; i += 100) {
				const chunk = batches.slice(i, i + 100);
				try {
					await withTimeout("queue send", OUTBOUND_TIMEOUT_MS, this.queue().sendBatch(chunk.map((body) => ({ body }))));
				} catch (error) {
					const message = `queue send failed: ${error instanceof Error ? error.message : String(error)}`;
					const taskIds = chunk.flatMap((batch) => batch.tasks.map((t) => t.taskId));
					console.error(
						JSON.stringify({
							level: "error",
							msg: message,
							origin: this.host.name(),
							tasks: taskIds,
							traceId: chunk[0]?.tasks[0]?.traceId,
						}),
					);
					this.write(() => outbox.releaseUnsent(taskIds, message, this.now()));
				}
			}
			await this.shipFeed();
			// An earlier incarnation may have died before the index heard of its last cross-posts:
			// the first run of this one ships them again (the index keeps the newest version only).
			if (!this.reshipped) {
				this.reshipped = true;
				for (const id of outbox.recentSagas()) if (!this.unshipped.has(id)) this.unshipped.set(id, 0);
			}
			this.shipSoon();
			this.shipNow?.();
			await this.shipping;
			await this.deliverAlerts();
		} catch (error) {
			notBefore = this.now() + config.outboxBaseDelayMs;
			console.error(JSON.stringify({ level: "error", msg: "outbox alarm failed", origin: this.host.name(), error: String(error) }));
		} finally {
			await this.armAlarm(notBefore, true);
		}
	}

	/** Sends due feed rows to their shards; a shard that fails keeps its rows for later. */
	private async shipFeed(): Promise<void> {
		const { ops } = this.host;
		for (const batch of ops.dueFeed(this.now())) {
			try {
				const env = this.host.env();
				this.host.storageMeter.countCall("out", "ingest");
				const ingest =
					batch.sink === "authors"
						? env.AUTHORS.getByName(shardName(batch.shard)).ingest(batch.updates)
						: env.OPS_INDEX.getByName(shardName(batch.shard)).ingest(batch.updates);
				await withTimeout(`${batch.sink} feed`, OUTBOUND_TIMEOUT_MS, ingest);
				this.write(() => ops.feedShipped(batch));
			} catch (error) {
				console.warn(
					JSON.stringify({
						level: "warn",
						msg: "feed failed",
						origin: this.host.name(),
						sink: batch.sink,
						shard: batch.shard,
						error: String(error),
					}),
				);
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
			const result = await postAlert({ url, secret: config.alertWebhookSecret, id: alertId, body: payload, nowMs: Date.now() });
			const error = result.ok ? undefined : result.error;
			const at = this.now();
			this.write(() => (error === undefined ? ops.alertDelivered(alertId, at) : ops.alertUndelivered(alertId, error, at)));
			this.meter.alertDelivery(error === undefined ? "sent" : "failed");
			if (error !== undefined)
				console.error(JSON.stringify({ level: "error", msg: "alert delivery failed", traceId: payload.traceId, alertId, error }));
		}
	}

	/** Records what a target did with a batch of tasks, and moves their sagas on. */
	async completeTasks(reports: readonly TaskReport[], delivery?: DeliveryNote): Promise<Array<TaskView | undefined>> {
		const { outbox, ops } = this.host;
		const views = this.write(() =>
			reports.map(({ taskId, attempt, outcome }) => {
				const task = outbox.getTask(taskId);
				if (task !== undefined && delivery !== undefined) {
					ops.span(
						task.traceId,
						delivery.receivedAt,
						"queue",
						"queue.delivered",
						`${task.kind} to ${task.room}, attempt ${attempt}, queue try ${delivery.queueAttempts}${viaSpan(delivery.traceparent)}`,
					);
				}
				// An inbox (v1.4) keeps no spans: the origin notes what it answered in the task's row.
				const inbox = task !== undefined && inboxUserOf(task.room) !== undefined;
				const notes = inbox ? [targetNote(task.kind, task.room, attempt, outcome, this.now(), delivery?.traceparent)] : [];
				return outbox.complete(taskId, attempt, outcome, this.now(), notes);
			}),
		);
		for (const { taskId, outcome } of reports) this.countFailedAttempt(taskId, outcome);
		await this.afterWrite();
		return views;
	}

	/** An attempt that did not go through (a deferral is not one: it never ran). */
	private countFailedAttempt(taskId: string, outcome: TaskOutcome): void {
		if (outcome.status === "ok" || outcome.status === "deferred") return;
		const task = this.host.outbox.getTask(taskId);
		if (task !== undefined) this.meter.count("task_attempt_failures", { kind: task.kind });
	}

	/** The dead-letter queue gave up on a task. */
	async deadLetterTask(taskId: string, error: string): Promise<TaskView | undefined> {
		const view = this.write(() => this.host.outbox.deadLetter(taskId, error, this.now()));
		if (view !== undefined) this.meter.count("dead_letters", { kind: view.kind });
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

	/** Counts an RPC this object made or served (objects/storage-meter.ts). */
	meterCall(direction: "in" | "out", method: string): void {
		this.host.storageMeter.countCall(direction, method);
	}

	meterReading(): MeterReading {
		return this.host.storageMeter.reading();
	}

	taskStatus(taskId: string): TaskView | undefined {
		return this.host.outbox.getTask(taskId);
	}

	/** The trace's spans here: span rows, and those the named cross-posts' rows carry. */
	spans(traceId: string, sagaIds: readonly string[] = []): Span[] {
		const here = this.host.name();
		const carried = sagaIds.flatMap((id) =>
			this.host.outbox.notes(id, traceId).map((note): Span => {
				const span: Span = { at: note.at, component: note.component, room: note.room ?? here, event: note.event };
				if (note.detail !== undefined) span.detail = note.detail;
				return span;
			}),
		);
		return [...this.host.ops.spans(traceId), ...carried].sort((a, b) => a.at - b.at);
	}

	/** The alerts this object raised, newest first (the index lists them across objects). */
	alerts(limit: number): AlertView[] {
		return this.host.ops.listAlerts(limit);
	}
}
