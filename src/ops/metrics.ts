/**
 * @module
 * The metrics Parley exposes at `GET /v1/admin/metrics`, in the Prometheus text format
 * (0.0.4) or OpenMetrics 1.0 by content negotiation. Pure: the families and their labels,
 * which series a room may report, how shards' answers merge, and the text itself.
 *
 * Where the numbers come from (docs/operations.md, "Metrics"): counters are counted in memory
 * by each room (and moderation) and sent to its ops-index shard at most once per
 * METRICS_FLUSH_MS, never written per message; gauges of sagas, tasks and alerts are counted
 * from the index's own rows at scrape time. Every label has a fixed, small set of values; the
 * only `room` label is on rooms an operator lists in METRICS_ROOMS.
 */
import { ERROR_STATUS } from "../errors.ts";
import { isRoomId } from "../protocol.ts";
import { ALL_TASK_KINDS } from "../saga/types.ts";

export type MetricType = "counter" | "gauge" | "histogram";

export interface Family {
	/** Without `parley_` and, for counters, without `_total`. */
	name: string;
	type: MetricType;
	help: string;
	/** The label keys a series may carry, each with its allowed values (`null`: any room id). */
	labels: Readonly<Record<string, readonly string[] | null>>;
	/** Histogram bucket upper bounds, in the family's unit. */
	buckets?: readonly number[];
}

const TRANSPORTS = ["socket", "http"] as const;
const KINDS = ALL_TASK_KINDS;
const TASK_STATES = ["pending", "processing", "succeeded", "failed", "skipped", "cancelled", "archived"] as const;
const SAGA_STATES = ["running", "compensating", "succeeded", "compensated", "failed"] as const;
const ALERT_STATUSES = ["pending", "sent", "failed", "unsent"] as const;
const ERROR_CODES = Object.keys(ERROR_STATUS);

/** Alarm lag buckets, seconds: how late an outbox alarm ran after its earliest due work. */
export const ALARM_LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** Counters a room or moderation counts and flushes to its shard. */
export const COUNTERS = {
	messages_stored: {
		name: "messages_stored",
		type: "counter",
		help: "Chat messages stored (not duplicates), by the transport that sent them.",
		labels: { transport: TRANSPORTS },
	},
	acks: {
		name: "acks",
		type: "counter",
		help: "Sends acknowledged to their sender (socket acks and HTTP 2xx answers, duplicates included).",
		labels: { transport: TRANSPORTS },
	},
	refusals: {
		name: "refusals",
		type: "counter",
		help: "Frames and room calls refused, by error code.",
		labels: { transport: TRANSPORTS, code: ERROR_CODES },
	},
	room_messages_stored: {
		name: "room_messages_stored",
		type: "counter",
		help: "Chat messages stored in the rooms listed in METRICS_ROOMS.",
		labels: { room: null },
	},
	task_attempts: {
		name: "task_attempts",
		type: "counter",
		help: "Task attempts dispatched to the queue (each claim is an attempt).",
		labels: { kind: KINDS },
	},
	task_attempt_failures: {
		name: "task_attempt_failures",
		type: "counter",
		help: "Task attempts that came back failed (transiently or for good).",
		labels: { kind: KINDS },
	},
	tasks_failed: {
		name: "tasks_failed",
		type: "counter",
		help: "Tasks that ended failed (attempts exhausted, a permanent refusal, or the dead-letter queue).",
		labels: { kind: KINDS },
	},
	dead_letters: { name: "dead_letters", type: "counter", help: "Tasks the queue gave up on (dead-lettered).", labels: { kind: KINDS } },
	alert_deliveries: {
		name: "alert_deliveries",
		type: "counter",
		help: "Alert webhook deliveries, by result (a failed one is retried with backoff).",
		labels: { result: ["sent", "failed"] },
	},
	alarm_lag_seconds: {
		name: "alarm_lag_seconds",
		type: "histogram",
		help: "How late outbox alarms ran after their earliest due work.",
		labels: {},
		buckets: ALARM_LAG_BUCKETS,
	},
} as const satisfies Record<string, Family>;

export type CounterName = keyof typeof COUNTERS;

/** Gauges computed at scrape time from the index shards and the rooms' last reports. */
export const GAUGES = {
	sockets_open: {
		name: "sockets_open",
		type: "gauge",
		help: "Open sockets, as each room last reported (rooms report when sockets come and go).",
		labels: {},
	},
	tasks: {
		name: "tasks",
		type: "gauge",
		help: "Tasks in the ops index, by state and kind.",
		labels: { state: TASK_STATES, kind: KINDS },
	},
	sagas: { name: "sagas", type: "gauge", help: "Cross-post sagas in the ops index, by state.", labels: { state: SAGA_STATES } },
	alerts: { name: "alerts", type: "gauge", help: "Alerts in the ops index, by webhook status.", labels: { status: ALERT_STATUSES } },
	outbox_oldest_pending_age_seconds: {
		name: "outbox_oldest_pending_age_seconds",
		type: "gauge",
		help: "Age of the oldest unfinished (pending or processing) task; 0 when there is none.",
		labels: {},
	},
	index_shards: { name: "index_shards", type: "gauge", help: "Ops-index shards configured (OPS_INDEX_SHARDS).", labels: {} },
	index_shards_unavailable: {
		name: "index_shards_unavailable",
		type: "gauge",
		help: "Shards that did not answer this scrape (their numbers are missing from it).",
		labels: {},
	},
} as const satisfies Record<string, Family>;

export type GaugeName = keyof typeof GAUGES;

export type Labels = Record<string, string>;

/** One counted series as rooms send it and shards keep it (`le` only on histogram buckets). */
export interface CounterSample {
	name: CounterName;
	/** `bucket`, `sum` or `count` for histograms; absent otherwise. */
	part?: "bucket" | "sum" | "count";
	labels: Labels;
	value: number;
}

/** What a shard answers a scrape with. */
export interface ShardMetrics {
	counters: CounterSample[];
	sockets: number;
	tasks: Array<{ state: string; kind: string; n: number }>;
	sagas: Array<{ state: string; n: number }>;
	alerts: Array<{ status: string; n: number }>;
	oldestPendingCreatedAt: number | null;
}

/** One minute of throughput, for the console's charts. */
export interface MinuteSample {
	/** The minute's start, Unix ms. */
	at: number;
	messages: number;
	attempts: number;
	failures: number;
}

/** A stable key for a series: its name, part and sorted labels. */
export function seriesKey(sample: Pick<CounterSample, "name" | "part" | "labels">): string {
	const labels = Object.keys(sample.labels)
		.sort()
		.map((key) => `${key}=${sample.labels[key]}`)
		.join(",");
	return `${sample.name}${sample.part === undefined ? "" : `:${sample.part}`}{${labels}}`;
}

/**
 * Whether a series is one Parley defines, with only its own label keys and allowed values: a
 * shard keeps nothing else, so no caller can grow the cardinality.
 */
export function acceptSample(sample: CounterSample): boolean {
	const family: Family | undefined = Object.hasOwn(COUNTERS, sample.name) ? COUNTERS[sample.name] : undefined;
	if (family === undefined || !Number.isFinite(sample.value) || sample.value < 0) return false;
	if ((family.type === "histogram") !== (sample.part !== undefined)) return false;
	const allowed = family.labels;
	for (const [key, value] of Object.entries(sample.labels)) {
		if (key === "le") {
			const known = value === "+Inf" || (family.buckets ?? []).some((bound) => String(bound) === value);
			if (sample.part !== "bucket" || !known) return false;
			continue;
		}
		if (!Object.hasOwn(allowed, key)) return false;
		const values = allowed[key];
		if (values === null ? !isRoomId(value) : !values?.includes(value)) return false;
	}
	if (sample.part === "bucket" && sample.labels.le === undefined) return false;
	return Object.keys(allowed).every((key) => Object.hasOwn(sample.labels, key));
}

/** Adds `value` to a histogram's buckets, sum and count (cumulative buckets, as exposed). */
export function histogramSamples(name: CounterName, value: number, bounds: readonly number[]): CounterSample[] {
	const samples: CounterSample[] = bounds
		.filter((bound) => value <= bound)
		.map((bound) => ({ name, part: "bucket", labels: { le: String(bound) }, value: 1 }));
	samples.push({ name, part: "bucket", labels: { le: "+Inf" }, value: 1 });
	samples.push({ name, part: "sum", labels: {}, value }, { name, part: "count", labels: {}, value: 1 });
	return samples;
}

/** Adds samples into a map of series, by key. */
export function addSamples(into: Map<string, CounterSample>, samples: Iterable<CounterSample>): void {
	for (const sample of samples) {
		const key = seriesKey(sample);
		const have = into.get(key);
		if (have === undefined) into.set(key, { ...sample, labels: { ...sample.labels } });
		else have.value += sample.value;
	}
}

// -----------------------------------------------------------------------------------------
// The exposition
// -----------------------------------------------------------------------------------------

export type ExpositionFormat = "prometheus" | "openmetrics";

export const CONTENT_TYPES: Record<ExpositionFormat, string> = {
	prometheus: "text/plain; version=0.0.4; charset=utf-8",
	openmetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

/** OpenMetrics when the scraper accepts it with a weight above 0 (Prometheus asks first for it), else 0.0.4. */
export function negotiateFormat(accept: string | null | undefined): ExpositionFormat {
	for (const part of (accept ?? "").split(",")) {
		const [type, ...params] = part
			.trim()
			.split(";")
			.map((p) => p.trim());
		if (type !== "application/openmetrics-text") continue;
		const q = params.find((p) => p.startsWith("q="));
		if (q === undefined || Number(q.slice(2)) > 0) return "openmetrics";
	}
	return "prometheus";
}

/** One family with its samples, ready to print. */
export interface FamilySamples {
	family: Family;
	samples: Array<{ part?: "bucket" | "sum" | "count"; labels: Labels; value: number }>;
}

function escapeLabel(value: string): string {
	return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(value: string): string {
	return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
	if (Number.isNaN(value)) return "NaN";
	if (value === Number.POSITIVE_INFINITY) return "+Inf";
	if (value === Number.NEGATIVE_INFINITY) return "-Inf";
	return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(15)));
}

function labelText(labels: Labels): string {
	const keys = Object.keys(labels);
	if (keys.length === 0) return "";
	// `le` last, as client libraries print it.
	keys.sort((a, b) => (a === "le" ? 1 : b === "le" ? -1 : a < b ? -1 : a > b ? 1 : 0));
	return `{${keys.map((key) => `${key}="${escapeLabel(labels[key] ?? "")}"`).join(",")}}`;
}

const PREFIX = "parley_";

/** The text of a scrape. Counters end in `_total`; OpenMetrics names the family without it and ends with `# EOF`. */
export function renderExposition(families: readonly FamilySamples[], format: ExpositionFormat): string {
	const lines: string[] = [];
	for (const { family, samples } of families) {
		const base = `${PREFIX}${family.name}`;
		const familyName = family.type === "counter" && format === "prometheus" ? `${base}_total` : base;
		lines.push(`# HELP ${familyName} ${escapeHelp(family.help)}`, `# TYPE ${familyName} ${family.type}`);
		for (const sample of samples) {
			const name = family.type === "counter" ? `${base}_total` : sample.part === undefined ? base : `${base}_${sample.part}`;
			lines.push(`${name}${labelText(sample.labels)} ${formatValue(sample.value)}`);
		}
	}
	if (format === "openmetrics") lines.push("# EOF");
	return `${lines.join("\n")}\n`;
}

// -----------------------------------------------------------------------------------------
// From the shards' answers to families
// -----------------------------------------------------------------------------------------

function labelCombos(family: Family): Labels[] {
	let combos: Labels[] = [{}];
	for (const [key, values] of Object.entries(family.labels)) {
		if (values === null) return [];
		combos = combos.flatMap((combo) => values.map((value) => ({ ...combo, [key]: value })));
	}
	return combos;
}

/** A histogram's series in exposition order: buckets by bound (cumulative already), then sum and count. */
function histogramOrder(family: Family, series: CounterSample[]): FamilySamples["samples"] {
	const bounds = [...(family.buckets ?? []).map(String), "+Inf"];
	const value = (part: string, le?: string) =>
		series.find((s) => s.part === part && (le === undefined || s.labels.le === le))?.value ?? 0;
	return [
		...bounds.map((le) => ({ part: "bucket" as const, labels: { le }, value: value("bucket", le) })),
		{ part: "sum" as const, labels: {}, value: value("sum") },
		{ part: "count" as const, labels: {}, value: value("count") },
	];
}

/**
 * Every family, its series summed across shards. Series with a fixed label set are always
 * printed (0 until counted), so dashboards and `rate()` see them from the first scrape.
 */
export function mergeMetrics(
	shards: readonly ShardMetrics[],
	answered: { configured: number; unavailable: number },
	nowMs: number,
): FamilySamples[] {
	const counters = new Map<string, CounterSample>();
	for (const shard of shards) addSamples(counters, shard.counters.filter(acceptSample));
	const out: FamilySamples[] = [];
	for (const family of Object.values(COUNTERS) as Family[]) {
		const series = [...counters.values()].filter((s) => s.name === family.name);
		if (family.type === "histogram") {
			out.push({ family, samples: histogramOrder(family, series) });
			continue;
		}
		const byKey = new Map(series.map((s) => [seriesKey({ name: s.name, labels: s.labels }), s.value]));
		const combos = labelCombos(family);
		const keys =
			combos.length > 0 ? combos : series.map((s) => s.labels).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
		out.push({
			family,
			samples: keys.map((labels) => ({ labels, value: byKey.get(seriesKey({ name: family.name as CounterName, labels })) ?? 0 })),
		});
	}
	const sum = <T>(rows: (shard: ShardMetrics) => T[], key: (row: T) => string, n: (row: T) => number): Map<string, number> => {
		const totals = new Map<string, number>();
		for (const shard of shards) for (const row of rows(shard)) totals.set(key(row), (totals.get(key(row)) ?? 0) + n(row));
		return totals;
	};
	const tasks = sum(
		(s) => s.tasks,
		(r) => `${r.state}/${r.kind}`,
		(r) => r.n,
	);
	const sagas = sum(
		(s) => s.sagas,
		(r) => r.state,
		(r) => r.n,
	);
	const alerts = sum(
		(s) => s.alerts,
		(r) => r.status,
		(r) => r.n,
	);
	let oldest: number | null = null;
	for (const shard of shards)
		if (shard.oldestPendingCreatedAt !== null) oldest = Math.min(oldest ?? Number.POSITIVE_INFINITY, shard.oldestPendingCreatedAt);
	const gauge = (family: Family, samples: FamilySamples["samples"]): FamilySamples => ({ family, samples });
	out.push(
		gauge(GAUGES.sockets_open, [{ labels: {}, value: shards.reduce((n, s) => n + s.sockets, 0) }]),
		gauge(
			GAUGES.tasks,
			labelCombos(GAUGES.tasks).map((labels) => ({ labels, value: tasks.get(`${labels.state}/${labels.kind}`) ?? 0 })),
		),
		gauge(
			GAUGES.sagas,
			labelCombos(GAUGES.sagas).map((labels) => ({ labels, value: sagas.get(labels.state ?? "") ?? 0 })),
		),
		gauge(
			GAUGES.alerts,
			labelCombos(GAUGES.alerts).map((labels) => ({ labels, value: alerts.get(labels.status ?? "") ?? 0 })),
		),
		gauge(GAUGES.outbox_oldest_pending_age_seconds, [{ labels: {}, value: oldest === null ? 0 : Math.max(0, nowMs - oldest) / 1000 }]),
		gauge(GAUGES.index_shards, [{ labels: {}, value: answered.configured }]),
		gauge(GAUGES.index_shards_unavailable, [{ labels: {}, value: answered.unavailable }]),
	);
	return out;
}

/** The minutes of the last `minutes`, oldest first, summed across shards (missing minutes are 0). */
export function mergeHistory(shards: ReadonlyArray<readonly MinuteSample[]>, nowMs: number, minutes = 60): MinuteSample[] {
	const end = Math.floor(nowMs / 60_000) * 60_000;
	const slots = new Map<number, MinuteSample>();
	for (let i = minutes - 1; i >= 0; i--) {
		const at = end - i * 60_000;
		slots.set(at, { at, messages: 0, attempts: 0, failures: 0 });
	}
	for (const shard of shards) {
		for (const row of shard) {
			const slot = slots.get(row.at);
			if (slot === undefined) continue;
			slot.messages += row.messages;
			slot.attempts += row.attempts;
			slot.failures += row.failures;
		}
	}
	return [...slots.values()];
}

/** Which counters feed the per-minute history, and as which column. */
export const HISTORY_COLUMNS: Partial<Record<CounterName, keyof Omit<MinuteSample, "at">>> = {
	messages_stored: "messages",
	task_attempts: "attempts",
	task_attempt_failures: "failures",
};
