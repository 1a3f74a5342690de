/**
 * @module
 * Shapes of the operations surface: audit entries, alerts, trace spans, stats, and the
 * updates rooms feed to the ops index.
 */
import type { SagaView, TaskOrigin, TaskView } from "../saga/types.ts";
import type { ModerationRecord } from "./moderation.ts";

export interface AuditEntry {
	at: number;
	actor: string;
	taskId: string;
	/** Extension: the saga (or moderation) the task belongs to. */
	sagaId?: string;
	action: string;
	reason: string;
	from: string;
	to: string;
	traceId: string;
}

export type AlertKind = "task_failed" | "task_stuck";
/** `unsent`: recorded, but no ALERT_WEBHOOK_URL is configured. */
export type AlertStatus = "pending" | "sent" | "failed" | "unsent";

/** The contract's alert body, posted to ALERT_WEBHOOK_URL (plus a Slack-style `text`). */
export interface AlertPayload {
	kind: AlertKind;
	taskId: string;
	sagaId: string;
	room: string;
	traceId: string;
	attempts: number;
	error: string | null;
	at: number;
	text: string;
}

export interface AlertView extends Omit<AlertPayload, "text"> {
	alertId: string;
	/** The object that owns the task (a room, or a moderation). */
	origin: TaskOrigin;
	/** The origin room, for a room's task only. */
	originRoom?: string;
	status: AlertStatus;
	deliveryAttempts: number;
	lastError: string | null;
}

export interface Span {
	at: number;
	component: string;
	/** Where the span was recorded: a room, or (for its own spans) a moderation. */
	room?: string;
	moderation?: string;
	event: string;
	detail?: string;
}

/** A saga as the ops index lists it: its fields without steps, and the rooms it targets. */
export interface SagaSummary extends Omit<SagaView, "steps"> {
	targets: string[];
}

/**
 * One record for the ops index; newer versions replace older ones, never the reverse. Feeds
 * queued by builds before the rename may still carry a moderation as a `saga` update (with
 * `kind: "compensation"`); the index reads those as moderations.
 */
export type IndexUpdate =
	| { type: "task"; version: number; task: TaskView }
	| { type: "saga"; version: number; saga: SagaSummary }
	/** A room's cross-post as one record: the saga and all its tasks (one row in the index). */
	| { type: "crosspost"; version: number; saga: SagaSummary; tasks: TaskView[] }
	| { type: "moderation"; version: number; moderation: ModerationRecord }
	| { type: "audit"; entryId: string; entry: AuditEntry }
	| { type: "alert"; version: number; alert: AlertView };

export interface ListFilter {
	state?: string;
	room?: string;
	kind?: string;
	/** Only records created at least this long ago. */
	olderThanMs?: number;
	/** Only records created at most this long ago. */
	newerThanMs?: number;
	limit: number;
	/** Exclusive: records strictly before this (createdAt, id) position, newest first. */
	cursor?: { createdAt: number; id: string };
}

export const LATENCY_BUCKETS_MS = [50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000] as const;

export interface ShardStats {
	tasks: Record<string, number>;
	sagas: Record<string, number>;
	/** Counts per bucket of LATENCY_BUCKETS_MS, plus one for everything above. */
	latency: number[];
	oldestPendingCreatedAt: number | null;
}
