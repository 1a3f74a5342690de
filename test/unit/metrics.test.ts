import { describe, it } from "vitest";
import {
	acceptSample,
	COUNTERS,
	type CounterSample,
	histogramSamples,
	mergeHistory,
	mergeMetrics,
	negotiateFormat,
	renderExposition,
	type ShardMetrics,
} from "../../src/ops/metrics.ts";
import { ExpositionError, parseExposition, sumOf, seriesValue } from "../support/exposition-parser.ts";

const NOW = 1_700_000_000_000;

function shard(counters: CounterSample[], extra: Partial<ShardMetrics> = {}): ShardMetrics {
	return { counters, sockets: 0, tasks: [], sagas: [], alerts: [], oldestPendingCreatedAt: null, ...extra };
}

const SHARDS: ShardMetrics[] = [
	shard(
		[
			{ name: "messages_stored", labels: { transport: "socket" }, value: 5 },
			{ name: "refusals", labels: { transport: "socket", code: "rate_limited" }, value: 2 },
			{ name: "room_messages_stored", labels: { room: "lobby" }, value: 3 },
			...histogramSamples("alarm_lag_seconds", 0.3, COUNTERS.alarm_lag_seconds.buckets),
		],
		{
			sockets: 4,
			tasks: [{ state: "failed", kind: "retract", n: 1 }],
			sagas: [{ state: "succeeded", n: 2 }],
			alerts: [{ status: "sent", n: 1 }],
			oldestPendingCreatedAt: NOW - 4000,
		},
	),
	shard(
		[
			{ name: "messages_stored", labels: { transport: "socket" }, value: 7 },
			{ name: "messages_stored", labels: { transport: "http" }, value: 1 },
			...histogramSamples("alarm_lag_seconds", 12, COUNTERS.alarm_lag_seconds.buckets),
			// Not Parley's: dropped, whoever sent it.
			{ name: "messages_stored", labels: { transport: "pigeon" }, value: 99 },
		],
		{
			sockets: 1,
			tasks: [{ state: "failed", kind: "retract", n: 2 }],
			sagas: [{ state: "succeeded", n: 1 }],
			oldestPendingCreatedAt: NOW - 1000,
		},
	),
];

describe("the metrics exposition", () => {
	for (const format of ["prometheus", "openmetrics"] as const) {
		it(`parses strictly as ${format}, with the counts summed across shards`, ({ expect }) => {
			const text = renderExposition(mergeMetrics(SHARDS, { configured: 2, unavailable: 0 }, NOW), format);
			const families = parseExposition(text, format);
			expect(seriesValue(families, "parley_messages_stored_total", { transport: "socket" })).toBe(12);
			expect(seriesValue(families, "parley_messages_stored_total", { transport: "http" })).toBe(1);
			expect(sumOf(families, "parley_messages_stored_total")).toBe(13);
			expect(seriesValue(families, "parley_refusals_total", { transport: "socket", code: "rate_limited" })).toBe(2);
			// Every fixed series is there from the first scrape, at 0.
			expect(seriesValue(families, "parley_refusals_total", { transport: "http", code: "banned" })).toBe(0);
			expect(seriesValue(families, "parley_room_messages_stored_total", { room: "lobby" })).toBe(3);
			expect(seriesValue(families, "parley_sockets_open")).toBe(5);
			expect(seriesValue(families, "parley_tasks", { state: "failed", kind: "retract" })).toBe(3);
			expect(seriesValue(families, "parley_sagas", { state: "succeeded" })).toBe(3);
			expect(seriesValue(families, "parley_alerts", { status: "sent" })).toBe(1);
			expect(seriesValue(families, "parley_outbox_oldest_pending_age_seconds")).toBe(4);
			expect(seriesValue(families, "parley_alarm_lag_seconds_count")).toBe(2);
			expect(seriesValue(families, "parley_alarm_lag_seconds_bucket", { le: "0.5" })).toBe(1);
			expect(seriesValue(families, "parley_alarm_lag_seconds_bucket", { le: "+Inf" })).toBe(2);
			expect(seriesValue(families, "parley_alarm_lag_seconds_sum")).toBeCloseTo(12.3);
			expect(seriesValue(families, "parley_index_shards")).toBe(2);
			const counterFamily = format === "openmetrics" ? "parley_messages_stored" : "parley_messages_stored_total";
			expect(families.get(counterFamily)?.type).toBe("counter");
			expect(families.get("parley_alarm_lag_seconds")?.type).toBe("histogram");
			expect(text.includes("pigeon")).toBe(false);
		});
	}

	it("has bounded labels: every series but METRICS_ROOMS' comes from fixed value sets", ({ expect }) => {
		const families = parseExposition(
			renderExposition(mergeMetrics([], { configured: 4, unavailable: 1 }, NOW), "prometheus"),
			"prometheus",
		);
		const series = [...families.values()].reduce((n, f) => n + f.samples.length, 0);
		expect(series).toBeLessThan(200);
		expect(seriesValue(families, "parley_index_shards_unavailable")).toBe(1);
		expect(seriesValue(families, "parley_outbox_oldest_pending_age_seconds")).toBe(0);
	});

	it("escapes label values and help text", ({ expect }) => {
		const text = renderExposition(
			[
				{
					family: { name: "x", type: "gauge", help: "a \\ b\nc", labels: { room: null } },
					samples: [{ labels: { room: 'q"u\\o\nte' }, value: 1.5 }],
				},
			],
			"openmetrics",
		);
		expect(text).toBe('# HELP parley_x a \\\\ b\\nc\n# TYPE parley_x gauge\nparley_x{room="q\\"u\\\\o\\nte"} 1.5\n# EOF\n');
		expect(seriesValue(parseExposition(text, "openmetrics"), "parley_x", { room: 'q"u\\o\nte' })).toBe(1.5);
	});

	it("negotiates OpenMetrics the way Prometheus asks for it", ({ expect }) => {
		expect(
			negotiateFormat(
				"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
			),
		).toBe("openmetrics");
		expect(negotiateFormat("text/plain")).toBe("prometheus");
		expect(negotiateFormat(undefined)).toBe("prometheus");
		expect(negotiateFormat("application/openmetrics-text;q=0")).toBe("prometheus");
	});

	it("accepts only Parley's own series", ({ expect }) => {
		expect(acceptSample({ name: "task_attempts", labels: { kind: "deliver" }, value: 1 })).toBe(true);
		expect(acceptSample({ name: "task_attempts", labels: {}, value: 1 })).toBe(false);
		expect(acceptSample({ name: "task_attempts", labels: { kind: "deliver", room: "x" }, value: 1 })).toBe(false);
		expect(acceptSample({ name: "task_attempts", labels: { kind: "deliver" }, value: -1 })).toBe(false);
		expect(acceptSample({ name: "room_messages_stored", labels: { room: "Not A Room" }, value: 1 })).toBe(false);
		expect(acceptSample({ name: "alarm_lag_seconds", part: "bucket", labels: { le: "7" }, value: 1 })).toBe(false);
		expect(acceptSample({ name: "alarm_lag_seconds", part: "bucket", labels: { le: "+Inf" }, value: 1 })).toBe(true);
		expect(acceptSample({ name: "alarm_lag_seconds", labels: {}, value: 1 })).toBe(false);
	});

	it("fills the last hour's minutes, oldest first", ({ expect }) => {
		const minute = Math.floor(NOW / 60_000) * 60_000;
		const history = mergeHistory(
			[
				[{ at: minute, messages: 3, attempts: 2, failures: 1 }],
				[
					{ at: minute, messages: 1, attempts: 0, failures: 0 },
					{ at: minute - 120_000, messages: 9, attempts: 0, failures: 0 },
				],
			],
			NOW,
			60,
		);
		expect(history).toHaveLength(60);
		expect(history.at(-1)).toEqual({ at: minute, messages: 4, attempts: 2, failures: 1 });
		expect(history.at(-3)?.messages).toBe(9);
		expect(history[0]?.at).toBe(minute - 59 * 60_000);
	});
});

describe("the strict exposition parser", () => {
	const good = "# HELP a_total x\n# TYPE a_total counter\na_total 1\n";
	it("reads a valid exposition", ({ expect }) => {
		expect(seriesValue(parseExposition(good, "prometheus"), "a_total")).toBe(1);
	});

	it.for([
		["no final newline", "# TYPE a_total counter\na_total 1", "prometheus"],
		["an empty line", "# TYPE a_total counter\n\na_total 1\n", "prometheus"],
		["a bad value", "# TYPE a gauge\na one\n", "prometheus"],
		["a bad escape", '# TYPE a gauge\na{l="\\t"} 1\n', "prometheus"],
		["a duplicate label", '# TYPE a gauge\na{l="1",l="2"} 1\n', "prometheus"],
		["a duplicate series", "# TYPE a gauge\na 1\na 2\n", "prometheus"],
		["a negative counter", "# TYPE a_total counter\na_total -1\n", "prometheus"],
		["TYPE after samples", "# TYPE a gauge\na 1\n# HELP a late\n", "prometheus"],
		["a second TYPE", "# TYPE a gauge\n# TYPE a gauge\na 1\n", "prometheus"],
		["interleaved families", "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\n", "prometheus"],
		["no # EOF", "# TYPE a gauge\na 1\n", "openmetrics"],
		["content after # EOF", "# TYPE a gauge\na 1\n# EOF\na 2\n", "openmetrics"],
		["a counter sample without _total", "# TYPE a counter\na 1\n# EOF\n", "openmetrics"],
		["# EOF in 0.0.4", "# TYPE a gauge\na 1\n# EOF\n", "prometheus"],
		["an unknown type", "# TYPE a widget\na 1\n", "prometheus"],
		["a histogram without +Inf", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', "prometheus"],
		["non-cumulative buckets", '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', "prometheus"],
		["+Inf other than _count", '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', "prometheus"],
		["a bad metric name", "# TYPE 1a gauge\n1a 1\n", "prometheus"],
	] as const)("refuses %s", ([, text, format], { expect }) => {
		expect(() => parseExposition(text, format)).toThrow(ExpositionError);
	});
});
