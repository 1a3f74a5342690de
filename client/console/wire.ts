/**
 * @module
 * The `/v1/admin/*` answers the console reads. Records are the server's own types; the
 * envelopes and the moderation shapes that src/admin.ts builds inline are written out here.
 */
import type { ModerationSummary, ModerationView, Selector } from "../../src/ops/moderation.ts";
import type { Stats } from "../../src/ops/stats.ts";
import type { AlertView, AuditEntry, SagaSummary, Span } from "../../src/ops/types.ts";
import type { SagaView, TaskView } from "../../src/saga/types.ts";
import type { MinuteSample } from "../../src/ops/metrics.ts";
import type { SearchHit } from "../../src/ops/search.ts";
import type { RoomPolicy } from "../../src/protocol.ts";

export type { AlertView, AuditEntry, ModerationSummary, ModerationView, SagaSummary, SagaView, Selector, Span, Stats, TaskView };

/** A page of a list; `cursor` fetches the next one. */
export interface SagaPage {
	sagas: SagaSummary[];
	cursor: string | null;
}
export interface TaskPage {
	tasks: TaskView[];
	cursor: string | null;
}
export interface AlertList {
	alerts: AlertView[];
}
export interface AuditList {
	entries: AuditEntry[];
}

/** `GET /v1/admin/sagas/{id}`: the saga with its message text (empty once retracted). */
export type SagaDetail = SagaView & { text?: string };

/** `GET /v1/admin/moderations` (the old `/v1/admin/compensations` also lists them as `compensations`). */
export interface ModerationPage {
	moderations: ModerationSummary[];
	cursor: string | null;
}

/** `GET /v1/admin/moderations/{id}`: the moderation and its audit entries. */
export type ModerationDetail = ModerationView & { audit?: AuditEntry[] };

/** `POST /v1/admin/moderations` with `dryRun`: what the selector would retract. */
export interface ModerationPreview {
	selector: Selector;
	messages: number;
	copies: number;
	rooms: Array<{ room: string; messages: number; copies: number }>;
	/** Where the copies live (a scoped admin hears only of rooms in its claim). */
	copyRooms: Array<{ room: string; copies: number }>;
}

/** `POST /v1/admin/moderations`: the new moderation and the counts it matched. */
export type ModerationCreated = ModerationView & { preview: Omit<ModerationPreview, "selector"> };

/** `GET /v1/admin/traces/{traceId}`. */
export interface Trace {
	traceId: string;
	parent?: string;
	spans: Span[];
}

/** `GET /v1/admin/session`: who the console is signed in as, and how. */
export interface Session {
	id: string;
	name: string;
	admin: boolean;
	rooms: string[] | null;
	via: "access" | "token";
}

/** `GET /v1/admin/search?q=`. */
export interface SearchAnswer {
	query: string;
	hit: SearchHit;
}

/** `POST /v1/admin/tasks/retry`, with and without `dryRun`. */
export interface RetryPreview {
	dryRun: true;
	tasks: string[];
	count: number;
	limit: number;
}
export interface RetryResult {
	retried: string[];
	refused: Array<{ taskId: string; error: string }>;
	deferred: number;
	retryAfterMs: number;
}

/** `POST /v1/admin/alerts/test`. */
export interface TestAlertResult {
	webhookId: string;
	traceId: string;
	signed: boolean;
	sent: boolean;
	status?: number;
	error?: string;
}

/** `GET /v1/admin/metrics/history`. */
export interface MetricsHistory {
	minutes: MinuteSample[];
}

export type { MinuteSample, RoomPolicy, SearchHit };
