/**
 * One operator moderation (`mod@…`; `cmp@…` for those made before the rename): the source of
 * truth for a bulk retract. It keeps the record (actor, reason, trace id, selector, scope and
 * the plan fixed at creation) in its own `moderations` table, and one `moderate` task per room
 * in its own outbox, which the same ticker, queue, barrier and operator actions drive as
 * cross-post tasks. Copies of cross-posted messages are retracted by their origin rooms'
 * sagas, which each room's moderation turns to compensating.
 */
import { MODERATION_MIGRATIONS } from "../migrations/index.ts";
import { type Config, configFor } from "../src/config.ts";
import type { ModerationProgress, ModerationStart, ModerationView } from "../src/ops/moderation.ts";
import { meteredSql, StorageMeter } from "./storage-meter.ts";
import { applyMigrations } from "./migrate.ts";
import { OutboxObject, outboxParts } from "./outbox-object.ts";
import type { OpsRecord } from "./ops-record.ts";
import type { Outbox } from "./outbox.ts";
import { TaskEngine } from "./task-engine.ts";

export class Moderation extends OutboxObject {
	private readonly config: Config;
	private readonly outbox: Outbox;
	private readonly ops: OpsRecord;
	readonly engine: TaskEngine;
	readonly storageMeter = new StorageMeter();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.config = configFor(env);
		applyMigrations(ctx.storage, MODERATION_MIGRATIONS);
		const parts = outboxParts(meteredSql(ctx.storage.sql, this.storageMeter), () => this.name, this.config, "moderation");
		this.outbox = parts.outbox;
		this.ops = parts.ops;
		this.engine = new TaskEngine({
			ctx,
			storageMeter: this.storageMeter,
			env: () => this.env,
			config: this.config,
			outbox: this.outbox,
			ops: this.ops,
			name: () => this.name,
		});
		if (this.engine.needsAlarm()) void ctx.blockConcurrencyWhile(() => this.engine.armAlarm());
	}

	private get name(): string {
		return this.ctx.id.name ?? "";
	}

	/** Creates the moderation and its tasks in one transaction. Repeating it changes nothing. */
	async start(start: ModerationStart): Promise<ModerationView> {
		const existing = await this.view();
		if (existing !== undefined) return existing;
		const now = this.engine.now();
		this.engine.write(() => {
			this.outbox.startModeration(start, now);
			this.ops.span(start.traceId, now, "operator", "moderation.started", `${start.actor}: ${start.reason}`);
			this.ops.audit(
				{
					at: now,
					actor: start.actor,
					taskId: start.id,
					sagaId: start.id,
					action: "moderate",
					reason: start.reason,
					from: "none",
					to: "running",
					traceId: start.traceId,
				},
				now,
			);
		});
		await this.engine.afterWrite();
		const view = await this.view();
		if (view === undefined) throw new Error("moderation not recorded");
		return view;
	}

	/** The record, its progress and its tasks; copies are counted from their sagas' states. */
	async view(): Promise<ModerationView | undefined> {
		const record = this.outbox.getModeration(this.name);
		if (record === undefined) return undefined;
		const { plan } = record;
		const results = this.outbox.results(this.name);
		const progress: ModerationProgress = {
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
			id: record.id,
			actor: record.actor,
			reason: record.reason,
			traceId: record.traceId,
			selector: record.selector,
			...(record.scope === undefined ? {} : { scope: record.scope }),
			state: record.state === "succeeded" ? "done" : progress.failed.rooms > 0 ? "attention" : record.state,
			createdAt: record.createdAt,
			updatedAt: record.updatedAt,
			progress,
			tasks: results.map((r) => r.task),
		};
	}
}
