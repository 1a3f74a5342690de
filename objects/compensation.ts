/**
 * One operator compensation (`cmp@…`): the source of truth for a bulk retract. It keeps the
 * record (actor, reason, trace id, selector), the plan fixed at creation, and one `moderate`
 * task per room in its own outbox, which the same ticker, queue, barrier and operator
 * actions drive as cross-post tasks. Copies of cross-posted messages are retracted by their
 * origin rooms' sagas, which each room's moderation turns to compensating.
 */
import { MIGRATIONS } from "../migrations/index.ts";
import { type Config, configFor } from "../src/config.ts";
import type { CompensationProgress, CompensationView, RoomPlan, Selector } from "../src/ops/compensation.ts";
import { applyMigrations } from "./migrate.ts";
import { OutboxObject, outboxParts } from "./outbox-object.ts";
import type { OpsRecord } from "./ops-record.ts";
import type { Outbox } from "./outbox.ts";
import { TaskEngine } from "./task-engine.ts";

export interface CompensationStart {
	id: string;
	actor: string;
	reason: string;
	traceId: string;
	selector: Selector;
	/** The rooms claim of a scoped admin who made it (see CompensationView). */
	scope?: string[];
	plan: RoomPlan[];
}

export class Compensation extends OutboxObject {
	private readonly config: Config;
	private readonly outbox: Outbox;
	private readonly ops: OpsRecord;
	readonly engine: TaskEngine;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.config = configFor(env);
		// The outbox schema is the rooms' own; the event log tables stay empty here.
		applyMigrations(ctx.storage, MIGRATIONS);
		const parts = outboxParts(ctx.storage.sql, () => this.name, this.config);
		this.outbox = parts.outbox;
		this.ops = parts.ops;
		this.engine = new TaskEngine({ ctx, env: () => this.env, config: this.config, outbox: this.outbox, ops: this.ops, name: () => this.name });
		if (this.engine.needsAlarm()) void ctx.blockConcurrencyWhile(() => this.engine.armAlarm());
	}

	private get name(): string {
		return this.ctx.id.name ?? "";
	}

	/** Creates the compensation and its tasks in one transaction. Repeating it changes nothing. */
	async start(start: CompensationStart): Promise<CompensationView> {
		const existing = await this.view();
		if (existing !== undefined) return existing;
		const now = this.engine.now();
		this.engine.write(() => {
			this.ctx.storage.sql.exec(
				"INSERT INTO room_meta (key, value) VALUES ('compensation', ?)",
				JSON.stringify({ selector: start.selector, ...(start.scope === undefined ? {} : { scope: start.scope }), plan: start.plan }),
			);
			const rooms = start.plan.filter((p) => p.msgIds.length > 0).map((p) => ({ room: p.room, msgIds: p.msgIds }));
			this.outbox.startCompensation(start.id, start.actor, start.reason, start.traceId, rooms, now);
			this.ops.span(start.traceId, now, "operator", "compensation.started", `${start.actor}: ${start.reason}`);
			this.ops.audit(
				{ at: now, actor: start.actor, taskId: start.id, sagaId: start.id, action: "compensate", reason: start.reason, from: "none", to: "running", traceId: start.traceId },
				now,
			);
		});
		await this.engine.afterWrite();
		const view = await this.view();
		if (view === undefined) throw new Error("compensation not recorded");
		return view;
	}

	/** The record, its progress and its tasks; copies are counted from their sagas' states. */
	async view(): Promise<CompensationView | undefined> {
		const saga = this.outbox.getSaga(this.name);
		const record = this.outbox.sagaRecord(this.name);
		const stored = this.ctx.storage.sql.exec<{ value: string }>("SELECT value FROM room_meta WHERE key = 'compensation'").toArray()[0];
		if (saga === undefined || record === undefined || stored === undefined) return undefined;
		const { selector, scope, plan } = JSON.parse(stored.value) as { selector: Selector; scope?: string[]; plan: RoomPlan[] };
		const results = this.outbox.results(this.name);
		const progress: CompensationProgress = {
			matched: {
				messages: plan.reduce((n, p) => n + p.msgIds.length, 0),
				copies: plan.reduce((n, p) => n + p.copies.length, 0),
				rooms: plan.filter((p) => p.msgIds.length > 0).length,
			},
			done: { messages: 0, alreadyGone: 0, rooms: 0, sagasCompensated: 0 },
			failed: { rooms: results.filter((r) => r.task.state === "failed").length },
		};
		for (const { task, result } of results) {
			if (task.state !== "succeeded" || result?.status !== "ok") continue;
			progress.done.rooms++;
			progress.done.messages += result.counts?.retracted ?? 0;
			progress.done.alreadyGone += result.counts?.alreadyGone ?? 0;
		}
		// Copies: a saga turned compensated has retracted all of its copies.
		const sagasByRoom = new Map<string, string[]>();
		for (const p of plan) {
			const ids = [...new Set(p.copies.map((c) => c.sagaId))];
			if (ids.length > 0) sagasByRoom.set(p.room, ids);
		}
		const states = await Promise.all(
			[...sagasByRoom].map(async ([room, ids]) => {
				try {
					return Object.values(await this.env.ROOM.getByName(room).sagaStates(ids));
				} catch {
					return [];
				}
			}),
		);
		progress.done.sagasCompensated = states.flat().filter((state) => state === "compensated").length;
		return {
			id: this.name,
			actor: record.actor,
			reason: record.reason ?? "",
			traceId: saga.traceId,
			selector,
			...(scope === undefined ? {} : { scope }),
			state: saga.state === "succeeded" ? "done" : progress.failed.rooms > 0 ? "attention" : saga.state,
			createdAt: saga.createdAt,
			updatedAt: saga.updatedAt,
			progress,
			tasks: saga.steps,
		};
	}
}
