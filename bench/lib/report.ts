/**
 * Results: the JSON-lines record, the markdown tables with Parley as a ratio to the
 * baselines measured in the same run, and the target checks from the issue.
 */
import type { PathName, ServerName } from "./servers.ts";
import { round } from "./stats.ts";

export type ScenarioName =
	| "ingest-1x10"
	| "fanout-10x100"
	| "latency-1k"
	| "idle-1000"
	| "idle-5000"
	| "saga-3"
	| "ingest-mixed"
	| "saturation-1"
	| "saturation-10"
	| "cost";

export interface ResultRecord {
	run: string;
	mode: "quick" | "full";
	server: ServerName;
	label: string;
	path: PathName;
	scenario: ScenarioName;
	ok: boolean;
	error?: string;
	/** Medians over rounds for throughput/latency; single values otherwise. */
	metrics: Record<string, number | boolean>;
	/** Each round's metrics, when the scenario ran in interleaved rounds. */
	rounds?: Record<string, number | boolean>[];
	/** CPU cores used during the scenario by the server's processes and by the load generator. */
	cpu?: { server: number; loadgen: number };
	/** The machine's load averages (1, 5, 15 min) when the scenario ended. */
	load?: number[];
	detail?: Record<string, unknown>;
}

export class Results {
	readonly records: ResultRecord[] = [];

	add(record: ResultRecord): void {
		this.records.push(record);
	}

	get(server: ServerName, path: PathName, scenario: ScenarioName): ResultRecord | undefined {
		return this.records.find((r) => r.server === server && r.path === path && r.scenario === scenario);
	}

	metric(server: ServerName, path: PathName, scenario: ScenarioName, key: string): number | undefined {
		const record = this.get(server, path, scenario);
		const value = record?.ok ? record.metrics[key] : undefined;
		return typeof value === "number" && Number.isFinite(value) ? value : undefined;
	}

	jsonLines(): string {
		return `${this.records.map((r) => JSON.stringify(r)).join("\n")}\n`;
	}
}

/** 83,100 -> "83.1k"; 812 -> "812"; 0.734 -> "0.734". */
export function formatNumber(value: number | undefined): string {
	if (value === undefined) return "—";
	if (Math.abs(value) >= 10_000) return `${(value / 1000).toFixed(1)}k`;
	if (Math.abs(value) >= 100) return String(Math.round(value));
	return String(round(value));
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
	return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

function formatRatio(value: number | undefined): string {
	return value === undefined ? "—" : `${value.toFixed(2)}×`;
}

export interface TargetCheck {
	name: string;
	path: PathName;
	/** Measured ratio or value, undefined when it could not be measured. */
	value: number | undefined;
	/** The requirement in words, e.g. ">= 0.8x bare". */
	requirement: string;
	pass: boolean | undefined;
}

const WORKER_BASELINES: readonly ServerName[] = ["bare", "naive", "party"];

/** The targets, each evaluated on one path with numbers from this run only. */
export function checkTargets(results: Results, path: PathName): TargetCheck[] {
	const m = (server: ServerName, scenario: ScenarioName, key: string): number | undefined => results.metric(server, path, scenario, key);
	const checks: TargetCheck[] = [];
	const add = (name: string, value: number | undefined, requirement: string, pass: (v: number) => boolean): void => {
		checks.push({ name, path, value, requirement, pass: value === undefined ? undefined : pass(value) });
	};
	const ingest = m("parley", "ingest-1x10", "ingestPerSec");
	add("acked ingest 1→10 vs bare", ratio(ingest, m("bare", "ingest-1x10", "ingestPerSec")), "≥ 0.8× bare", (v) => v >= 0.8);
	add("acked ingest 1→10 vs naive", ratio(ingest, m("naive", "ingest-1x10", "ingestPerSec")), "≥ 2× naive", (v) => v >= 2);
	const bestFanout = Math.max(
		...WORKER_BASELINES.map((s) => m(s, "fanout-10x100", "deliveriesPerSec") ?? Number.NaN).filter(Number.isFinite),
	);
	add(
		"deliveries/s 10→100 vs best baseline",
		ratio(m("parley", "fanout-10x100", "deliveriesPerSec"), Number.isFinite(bestFanout) ? bestFanout : undefined),
		"≥ 0.9× best",
		(v) => v >= 0.9,
	);
	add(
		"p99 @ 1,000 msgs/s vs bare",
		ratio(m("parley", "latency-1k", "p99Ms"), m("bare", "latency-1k", "p99Ms")),
		"≤ 2× bare",
		(v) => v <= 2,
	);
	if (path === "miniflare") {
		for (const scenario of ["idle-1000", "idle-5000"] as const) {
			add(
				`idle memory/socket (${scenario.slice(5)}) vs bare`,
				ratio(m("parley", scenario, "kbPerSocket"), m("bare", scenario, "kbPerSocket")),
				"≤ 1.1× bare",
				(v) => v <= 1.1,
			);
		}
		add("rows written per plain message", m("parley", "cost", "rowsWrittenPerMessage"), "≤ 3", (v) => v <= 3);
		add("alarms set per plain message", m("parley", "cost", "alarmsPerMessage"), "0", (v) => v === 0);
		for (const n of [1, 3, 10]) {
			add(
				`rows written per cross-post to ${n} room${n === 1 ? "" : "s"}`,
				m("parley", "cost", `rowsPerCrossPost${n}`),
				`≤ ${4 + 4 * n} (4 + 4N)`,
				(v) => v <= 4 + 4 * n,
			);
		}
		add("cross-post ×3 @100/s: commit → last copy p50 (ms)", m("parley", "saga-3", "p50Ms"), "≤ 25 ms", (v) => v <= 25);
		add("cross-post ×3 @100/s: commit → last copy p99 (ms)", m("parley", "saga-3", "p99Ms"), "≤ 100 ms", (v) => v <= 100);
		add("sustained cross-posts/s, one origin → 3 rooms", m("parley", "saturation-1", "sustainedPerSec"), "≥ 700/s", (v) => v >= 700);
		for (const rate of [20, 100]) {
			add(
				`plain ingest in a room cross-posting ${rate}/s vs one that is not`,
				m("parley", "ingest-mixed", `ratio${rate}`),
				"≥ 0.8×",
				(v) => v >= 0.8,
			);
		}
	}
	return checks;
}

interface Row {
	label: string;
	scenario: ScenarioName;
	key: string;
	/** Lower is better (latency, memory, rows): ratios still read Parley ÷ baseline. */
	lowerIsBetter?: boolean;
}

const ROWS: readonly Row[] = [
	{ label: "1→10 acked/accepted ingest (msgs/s)", scenario: "ingest-1x10", key: "ingestPerSec" },
	{ label: "1→10 deliveries (/s)", scenario: "ingest-1x10", key: "deliveriesPerSec" },
	{ label: "10→100 ingest (msgs/s)", scenario: "fanout-10x100", key: "ingestPerSec" },
	{ label: "10→100 deliveries (/s)", scenario: "fanout-10x100", key: "deliveriesPerSec" },
	{ label: "@1k msgs/s p50 (ms)", scenario: "latency-1k", key: "p50Ms", lowerIsBetter: true },
	{ label: "@1k msgs/s p90 (ms)", scenario: "latency-1k", key: "p90Ms", lowerIsBetter: true },
	{ label: "@1k msgs/s p99 (ms)", scenario: "latency-1k", key: "p99Ms", lowerIsBetter: true },
	{ label: "@1k msgs/s max (ms)", scenario: "latency-1k", key: "maxMs", lowerIsBetter: true },
	{ label: "idle KB/socket, 1,000 sockets", scenario: "idle-1000", key: "kbPerSocket", lowerIsBetter: true },
	{ label: "idle KB/socket, 5,000 sockets", scenario: "idle-5000", key: "kbPerSocket", lowerIsBetter: true },
	{ label: "cross-post ×3 @100/s: commit→last copy p50 (ms)", scenario: "saga-3", key: "p50Ms", lowerIsBetter: true },
	{ label: "cross-post ×3 @100/s: commit→last copy p99 (ms)", scenario: "saga-3", key: "p99Ms", lowerIsBetter: true },
	{ label: "cross-post ×3 @100/s: sagas/s completed", scenario: "saga-3", key: "sagasPerSec" },
	{ label: "sustained cross-posts/s ×3, one origin", scenario: "saturation-1", key: "sustainedPerSec" },
	{ label: "sustained cross-posts/s ×3, 10 origins (all)", scenario: "saturation-10", key: "sustainedPerSec" },
	{ label: "plain ingest, room not cross-posting (msgs/s)", scenario: "ingest-mixed", key: "plain20PerSec" },
	{ label: "plain ingest, room cross-posting 20/s (msgs/s)", scenario: "ingest-mixed", key: "mixed20PerSec" },
	{ label: "plain ingest, room not cross-posting (msgs/s, 2nd)", scenario: "ingest-mixed", key: "plain100PerSec" },
	{ label: "plain ingest, room cross-posting 100/s (msgs/s)", scenario: "ingest-mixed", key: "mixed100PerSec" },
	{ label: "rows written / plain message", scenario: "cost", key: "rowsWrittenPerMessage", lowerIsBetter: true },
	{ label: "alarms set / plain message", scenario: "cost", key: "alarmsPerMessage", lowerIsBetter: true },
	{ label: "rows written / cross-post to 1 room", scenario: "cost", key: "rowsPerCrossPost1", lowerIsBetter: true },
	{ label: "rows written / cross-post to 3 rooms", scenario: "cost", key: "rowsPerCrossPost3", lowerIsBetter: true },
	{ label: "rows written / cross-post to 10 rooms", scenario: "cost", key: "rowsPerCrossPost10", lowerIsBetter: true },
];

const PATH_TITLES: Record<PathName, string> = {
	miniflare: "Miniflare API (clients straight to workerd)",
	wrangler: "`wrangler dev` (through wrangler's dev proxy)",
	node: "Node",
};

/** One table per path; the Node server is shown beside the Miniflare path as the non-edge reference. */
export function markdownTable(results: Results, path: PathName): string {
	const servers: ServerName[] = ["parley", "bare", "naive", "party"];
	if (path === "miniflare") servers.push("node-ws");
	const labels: Record<ServerName, string> = {
		parley: "Parley",
		bare: "bare DO",
		naive: "naive durable DO",
		party: "PartyServer",
		"node-ws": "Node ws",
	};
	const lines: string[] = [];
	lines.push(`### ${PATH_TITLES[path]}`, "");
	lines.push(`| metric | ${servers.map((s) => labels[s]).join(" | ")} | Parley ÷ bare | Parley ÷ naive | Parley ÷ PartyServer |`);
	lines.push(`|---|${servers.map(() => "---:").join("|")}|---:|---:|---:|`);
	for (const row of ROWS) {
		const pathFor = (server: ServerName): PathName => (server === "node-ws" ? "node" : path);
		const values = servers.map((s) => results.metric(s, pathFor(s), row.scenario, row.key));
		if (values.every((v) => v === undefined)) continue;
		const parley = values[0];
		lines.push(
			`| ${row.label} | ${values.map(formatNumber).join(" | ")} | ${formatRatio(ratio(parley, values[1]))} | ${formatRatio(ratio(parley, values[2]))} | ${formatRatio(ratio(parley, values[3]))} |`,
		);
	}
	const failures = servers
		.flatMap((s) => results.records.filter((r) => r.server === s && r.path === (s === "node-ws" ? "node" : path) && !r.ok))
		.map((r) => `- ${labels[r.server]} / ${r.scenario}: ${r.error ?? "failed"}`);
	const unique = [...new Set(failures)];
	if (unique.length > 0) lines.push("", "Not measured:", ...unique);
	return lines.join("\n");
}

export function targetsTable(checks: TargetCheck[]): string {
	const lines = ["| target | path | measured | requirement | verdict |", "|---|---|---:|---|---|"];
	for (const check of checks) {
		const shown =
			check.value === undefined ? "—" : check.name.includes(" vs ") ? `${check.value.toFixed(2)}×` : formatNumber(check.value);
		const verdict = check.pass === undefined ? "not measured" : check.pass ? "pass" : "**FAIL**";
		lines.push(`| ${check.name} | ${check.path} | ${shown} | ${check.requirement} | ${verdict} |`);
	}
	return lines.join("\n");
}

/** The whole markdown report printed to stdout and written to bench/out/results.md. */
export function markdownReport(results: Results, paths: PathName[], header: string): string {
	const parts = [header, "", "#### Targets (ratios within this run)", "", targetsTable(paths.flatMap((p) => checkTargets(results, p)))];
	for (const path of paths) parts.push("", markdownTable(results, path));
	return `${parts.join("\n")}\n`;
}
