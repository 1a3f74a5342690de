/**
 * The base of every Durable Object that owns an outbox (a room, an operator moderation):
 * its alarm is the outbox ticker, and it answers the queue consumer's and the operators'
 * calls about its tasks. Subclasses build the TaskEngine over their own storage. Every
 * public method here is RPC surface used by the Worker or the queue consumer; tests reach
 * anything else through `runInDurableObject`.
 */
import { DurableObject } from "cloudflare:workers";
import type { Span } from "../src/ops/types.ts";
import type { ManualAction, TaskOrigin, TaskReport, TaskView } from "../src/saga/types.ts";
import type { Config } from "../src/config.ts";
import { leaseMs } from "../src/saga/backoff.ts";
import type { MeterReading } from "./storage-meter.ts";
import { OpsRecord } from "./ops-record.ts";
import { Outbox } from "./outbox.ts";
import type { ActionReply, DeliveryNote, TaskEngine } from "./task-engine.ts";

/**
 * The outbox and operational record of one object, configured from the deployment's settings;
 * `owner` says whether the object is a room or a moderation.
 */
export function outboxParts(
	sql: SqlStorage,
	name: () => string,
	config: Config,
	owner: TaskOrigin["kind"] = "room",
): { outbox: Outbox; ops: OpsRecord } {
	return {
		outbox: new Outbox(
			sql,
			name,
			{
				baseDelayMs: config.outboxBaseDelayMs,
				maxAttempts: config.outboxMaxAttempts,
				leaseMs: leaseMs(config.outboxBaseDelayMs),
			},
			owner,
		),
		ops: new OpsRecord(
			sql,
			name,
			{
				shards: config.opsIndexShards,
				webhook: config.alertWebhookUrl !== "",
				baseDelayMs: config.outboxBaseDelayMs,
			},
			owner,
		),
	};
}

export abstract class OutboxObject extends DurableObject<Env> {
	/**
	 * An instance field, so not RPC surface (RPC exposes only prototype members); tests reach
	 * its seams (`now`, `queue`) through runInDurableObject.
	 */
	abstract readonly engine: TaskEngine;

	override async alarm(): Promise<void> {
		// An alarm run is a request too (the runtime makes it, so nobody else counts it).
		this.engine.meterCall("in", "alarm");
		await this.engine.alarm();
	}

	/** Targets' answers to a batch of attempts, reported by the queue consumer. */
	async completeTasks(reports: TaskReport[], delivery?: DeliveryNote): Promise<Array<TaskView | undefined>> {
		return await this.engine.completeTasks(reports, delivery);
	}

	/** The dead-letter queue gave up on a task. */
	async deadLetterTask(taskId: string, error: string): Promise<TaskView | undefined> {
		return await this.engine.deadLetterTask(taskId, error);
	}

	/** An operator's retry, skip or cancel. */
	async taskAction(taskId: string, action: ManualAction, reason: string, actor: string): Promise<ActionReply> {
		return await this.engine.taskAction(taskId, action, reason, actor);
	}

	/** The truth about a task, for a consumer that is unsure whether to act. */
	async taskStatus(taskId: string): Promise<TaskView | undefined> {
		return this.engine.taskStatus(taskId);
	}

	/** Rows this object has written since it started (see objects/storage-meter.ts). */
	async meterReading(): Promise<MeterReading> {
		return this.engine.meterReading();
	}

	/** The trace's spans recorded here; `sagaIds` names the cross-posts of the trace that started here (their rows carry their spans). */
	async spans(traceId: string, sagaIds: string[] = []): Promise<Span[]> {
		return this.engine.spans(traceId, sagaIds);
	}
}
