/**
 * Results: the JSON-lines record, the markdown tables with Parley as a ratio to the
 * baselines measured in the same run, and the target checks from the issue.
 */
import { CHAT_ACTION_LABELS, CHAT_ACTIONS, CROSS_POST_EDIT_SIZES, chatMetricName } from "./chat-cost.ts";
import { BUSY_MEMBERS, BUSY_WATCHERS, MENTION_SIZES, READ_SIZES } from "./inbox-cost.ts";
import type { PathName, ServerName } from "./servers.ts";
import { round } from "./stats.ts";

/** One room filled with `count` sockets (see roomFill); `max` is the largest the machine allows. */
export type RoomScenario = `room-${"u100" | "each"}-${number}`;
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
	| "cost"
	| "stalled-1of100"
	| RoomScenario;

export function roomScenario(users: "u100" | "each", count: number): RoomScenario {
	return `room-${users}-${count}`;
}

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
	/** The machine's 1-minute load average when the scenario ended (highest over its rounds). */
	load?: number;
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

/** The room sizes a run measured in one room, ascending. */
export function roomSizes(results: Results): number[] {
	const sizes = new Set<number>();
	for (const record of results.records) {
		const match = /^room-(?:u100|each)-(\d+)$/.exec(record.scenario);
		if (match?.[1] !== undefined) sizes.add(Number(match[1]));
	}
	return [...sizes].sort((a, b) => a - b);
}

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
	// The Go hubs are native processes: their figures are on the "node" path of the same run.
	const go = (scenario: ScenarioName, key: string): number | undefined => results.metric("go-durable", "node", scenario, key);
	if (path === "miniflare") {
		add(
			"batched deliveries/s 1→10 vs Go group commit",
			ratio(m("parley-batch", "ingest-1x10", "deliveriesPerSec"), go("ingest-1x10", "deliveriesPerSec")),
			"≥ 1.0× Go",
			(v) => v >= 1,
		);
		add(
			"batched deliveries/s 10→100 vs Go group commit",
			ratio(m("parley-batch", "fanout-10x100", "deliveriesPerSec"), go("fanout-10x100", "deliveriesPerSec")),
			"≥ 1.0× Go",
			(v) => v >= 1,
		);
	}
	add(
		"batched p99 @ 1,000 msgs/s vs Parley (v1 frames)",
		ratio(m("parley-batch", "latency-1k", "p99Ms"), m("parley", "latency-1k", "p99Ms")),
		"≤ 1.0× (no worse)",
		(v) => v <= 1,
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
		const sizes = roomSizes(results);
		const largest = sizes.at(-1);
		for (const count of sizes.filter((n) => n >= 5000)) {
			for (const users of ["u100", "each"] as const) {
				for (const server of ["parley", "parley-batch"] as const) {
					add(
						`one room, ${count} sockets, ${users === "u100" ? "100 users" : "a user each"}: ${server === "parley" ? "Parley" : "batched"} idle memory/socket vs bare`,
						ratio(m(server, roomScenario(users, count), "kbPerSocket"), m("bare", roomScenario(users, count), "kbPerSocket")),
						"≤ 1.0× bare",
						(v) => v <= 1,
					);
				}
			}
		}
		if (sizes.includes(5000)) {
			for (const server of ["parley", "parley-batch"] as const) {
				add(
					`one room of 5,000 distinct users fills (${server === "parley" ? "Parley" : "batched"}), s`,
					m(server, roomScenario("each", 5000), "fillSeconds"),
					"≤ 30 s",
					(v) => v <= 30,
				);
			}
		}
		if (largest !== undefined && largest > 1000 && sizes.includes(1000)) {
			for (const server of ["parley", "parley-batch"] as const) {
				const label = server === "parley" ? "Parley" : "batched";
				add(
					`frames per join, ${largest} vs 1,000 distinct users (${label})`,
					ratio(
						m(server, roomScenario("each", largest), "framesPerJoin"),
						m(server, roomScenario("each", 1000), "framesPerJoin"),
					),
					"≤ 2× (linear in joins)",
					(v) => v <= 2,
				);
				add(
					`server CPU per join, ${largest} vs 1,000 distinct users (${label})`,
					ratio(m(server, roomScenario("each", largest), "cpuMsPerJoin"), m(server, roomScenario("each", 1000), "cpuMsPerJoin")),
					"≤ 2× (linear in joins)",
					(v) => v <= 2,
				);
			}
		}
		add("rows written per plain message", m("parley", "cost", "rowsWrittenPerMessage"), "≤ 3", (v) => v <= 3);
		add("alarms set per plain message", m("parley", "cost", "alarmsPerMessage"), "0", (v) => v === 0);
		// v1.3 chat actions (issue 17), by the room's storage meter, the worst sample of each.
		add(
			"rows written per plain message, chat features on (room meter, worst sample)",
			m("parley", "cost", chatMetricName("maxRows", "plain")),
			"≤ 2",
			(v) => v <= 2,
		);
		add("alarms set per plain message, chat features on", m("parley", "cost", chatMetricName("alarms", "plain")), "0", (v) => v === 0);
		add("rows written per typing frame passed on", m("parley", "cost", chatMetricName("maxRows", "typing")), "0", (v) => v === 0);
		add("rows written per typing frame dropped", m("parley", "cost", chatMetricName("maxRows", "typingDropped")), "0", (v) => v === 0);
		add("rows written per read marker that moves", m("parley", "cost", chatMetricName("maxRows", "readMoves")), "≤ 1", (v) => v <= 1);
		add(
			"rows written per read marker that does not move",
			m("parley", "cost", chatMetricName("maxRows", "readStays")),
			"0",
			(v) => v === 0,
		);
		// v1.4 (issue 18): members' badges cost a busy room nothing; a read writes nothing once warm.
		add(
			`rows written per plain message, ${BUSY_MEMBERS} members, ${BUSY_WATCHERS} watching (all objects, worst sample)`,
			m("parley", "cost", "maxRowsBusyRoomMessage"),
			"≤ 2",
			(v) => v <= 2,
		);
		add(
			`alarms set per plain message, ${BUSY_MEMBERS} members, ${BUSY_WATCHERS} watching`,
			m("parley", "cost", "alarmsBusyRoomMessage"),
			"0",
			(v) => v === 0,
		);
		add("rows written per DM message (all objects, worst sample)", m("parley", "cost", "maxRowsDmMessage"), "≤ 2", (v) => v <= 2);
		for (const n of READ_SIZES) {
			add(
				`rows written per inbox read, ${n} room${n === 1 ? "" : "s"}`,
				m("parley", "cost", `rowsInboxRead${n}`),
				"0",
				(v) => v === 0,
			);
		}
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
	...CHAT_ACTIONS.map(
		(action): Row => ({
			label: `rows written / ${CHAT_ACTION_LABELS[action]} (room meter)`,
			scenario: "cost",
			key: chatMetricName("rows", action),
			lowerIsBetter: true,
		}),
	),
	{
		label: "rows written / first message in a new room, its author's first there (all objects, alarms included)",
		scenario: "cost",
		key: "rowsFirstMessage",
		lowerIsBetter: true,
	},
	{ label: "alarms set / chat action (all of the above)", scenario: "cost", key: "alarmsChat", lowerIsBetter: true },
	...MENTION_SIZES.map(
		(n): Row => ({
			label: `rows written / message mentioning ${n} user${n === 1 ? "" : "s"}, until the inboxes have it (all objects, alarms included)`,
			scenario: "cost",
			key: `rowsMention${n}`,
			lowerIsBetter: true,
		}),
	),
	...MENTION_SIZES.map(
		(n): Row => ({
			label: `rows written / delete of a message mentioning ${n} user${n === 1 ? "" : "s"} (all objects, alarms included)`,
			scenario: "cost",
			key: `rowsUnmention${n}`,
			lowerIsBetter: true,
		}),
	),
	{ label: "rows written / DM created (`POST /v1/dms`, both inboxes)", scenario: "cost", key: "rowsDmCreate", lowerIsBetter: true },
	{ label: "rows written / DM message (all objects)", scenario: "cost", key: "rowsDmMessage", lowerIsBetter: true },
	{ label: "alarms set / DM message", scenario: "cost", key: "alarmsDmMessage", lowerIsBetter: true },
	...READ_SIZES.flatMap((n): Row[] => {
		const rooms = `${n} room${n === 1 ? "" : "s"}`;
		return [
			{ label: `rows written / inbox read, ${rooms}`, scenario: "cost", key: `rowsInboxRead${n}`, lowerIsBetter: true },
			{
				label: `DO requests / inbox read, ${rooms}, cache expired`,
				scenario: "cost",
				key: `requestsInboxRead${n}`,
				lowerIsBetter: true,
			},
			{
				label: `DO requests / inbox read, ${rooms}, within the 2 s cache`,
				scenario: "cost",
				key: `requestsInboxReadCached${n}`,
				lowerIsBetter: true,
			},
			{
				label: `DO requests / inbox read, ${rooms}, author directory due`,
				scenario: "cost",
				key: `requestsInboxReadDue${n}`,
				lowerIsBetter: true,
			},
		];
	}),
	{
		label: `rows written / plain message, ${BUSY_MEMBERS} members, ${BUSY_WATCHERS} watching (all objects, worst sample)`,
		scenario: "cost",
		key: "maxRowsBusyRoomMessage",
		lowerIsBetter: true,
	},
	{
		label: `push RPCs / plain message, ${BUSY_WATCHERS} inboxes watching`,
		scenario: "cost",
		key: "pushesBusyRoomMessage",
		lowerIsBetter: true,
	},
	{ label: "rows written / message, first search's catch-up", scenario: "cost", key: "rowsSearchCatchUpPerMessage", lowerIsBetter: true },
	...CROSS_POST_EDIT_SIZES.map(
		(n): Row => ({
			label: `rows written / edit of an original cross-posted to ${n} room${n === 1 ? "" : "s"} (all objects)`,
			scenario: "cost",
			key: `rowsEditOfCrossPost${n}`,
			lowerIsBetter: true,
		}),
	),
];

const PATH_TITLES: Record<PathName, string> = {
	miniflare: "Miniflare API (clients straight to workerd)",
	wrangler: "`wrangler dev` (through wrangler's dev proxy)",
	node: "Node",
};

export const LABELS: Record<ServerName, string> = {
	parley: "Parley",
	"parley-batch": "Parley batched",
	bare: "bare DO",
	naive: "naive durable DO",
	party: "PartyServer",
	"node-ws": "Node ws",
	"go-durable": "Go group commit",
	"go-mem": "Go in-memory",
};

const NATIVE: ReadonlySet<ServerName> = new Set(["node-ws", "go-durable", "go-mem"]);

/** Native servers run once, beside the Miniflare group: their records are on the "node" path. */
export function pathFor(server: ServerName, path: PathName): PathName {
	return NATIVE.has(server) ? "node" : path;
}

/** One table per path; the native servers (Node, Go) are shown beside the Miniflare path. */
export function markdownTable(results: Results, path: PathName): string {
	const servers: ServerName[] = ["parley", "parley-batch", "bare", "naive", "party"];
	if (path === "miniflare") servers.push("node-ws", "go-durable", "go-mem");
	const lines: string[] = [];
	lines.push(`### ${PATH_TITLES[path]}`, "");
	const goColumn = path === "miniflare";
	lines.push(
		`| metric | ${servers.map((s) => LABELS[s]).join(" | ")} | Parley ÷ bare | Parley ÷ naive | Parley ÷ PartyServer |${goColumn ? " batched ÷ Go group commit |" : ""}`,
	);
	lines.push(`|---|${servers.map(() => "---:").join("|")}|---:|---:|---:|${goColumn ? "---:|" : ""}`);
	for (const row of ROWS) {
		const values = servers.map((s) => results.metric(s, pathFor(s, path), row.scenario, row.key));
		if (values.every((v) => v === undefined)) continue;
		const [parley, batched, bare, naive, party] = values;
		const go = goColumn ? ` ${formatRatio(ratio(batched, values[servers.indexOf("go-durable")]))} |` : "";
		lines.push(
			`| ${row.label} | ${values.map(formatNumber).join(" | ")} | ${formatRatio(ratio(parley, bare))} | ${formatRatio(ratio(parley, naive))} | ${formatRatio(ratio(parley, party))} |${go}`,
		);
	}
	const loadOf = (scenario: ScenarioName): string => {
		const loads = servers.map((s) => results.get(s, pathFor(s, path), scenario)?.load).filter((v): v is number => v !== undefined);
		return loads.length === 0 ? "—" : Math.max(...loads).toFixed(1);
	};
	lines.push(
		"",
		`Load average (1 min, highest at the end of a round): 1→10 ${loadOf("ingest-1x10")}, 10→100 ${loadOf("fanout-10x100")}, @1k ${loadOf("latency-1k")}, idle ${loadOf("idle-1000")} / ${loadOf("idle-5000")}.`,
	);
	const scenarios = new Set<string>(ROWS.map((row) => row.scenario));
	const failures = servers
		.flatMap((s) => results.records.filter((r) => r.server === s && r.path === pathFor(s, path) && !r.ok && scenarios.has(r.scenario)))
		.map((r) => `- ${LABELS[r.server]} / ${r.scenario}: ${r.error ?? "failed"}`);
	const unique = [...new Set(failures)];
	if (unique.length > 0) lines.push("", "Not measured:", ...unique);
	return lines.join("\n");
}

/** All sockets in ONE room: memory per idle socket, fill time, frames and CPU per join. */
export function roomTable(results: Results): string {
	const sizes = roomSizes(results);
	if (sizes.length === 0) return "";
	const servers = ["parley", "parley-batch", "bare"] as const;
	const m = (server: ServerName, scenario: ScenarioName, key: string): number | undefined =>
		results.metric(server, "miniflare", scenario, key);
	const lines = [
		"### One room (Miniflare API): every socket in the same room",
		"",
		"| sockets | users | idle KB/socket: Parley / batched / bare | Parley ÷ bare | batched ÷ bare | fill s: Parley / batched / bare | frames per join: Parley / batched | server CPU ms per join: Parley / batched / bare | load avg |",
		"|---:|---|---:|---:|---:|---:|---:|---:|---:|",
	];
	for (const count of sizes) {
		for (const users of ["u100", "each"] as const) {
			const scenario = roomScenario(users, count);
			const kb = servers.map((s) => m(s, scenario, "kbPerSocket"));
			if (kb.every((v) => v === undefined)) continue;
			const triple = (key: string): string => servers.map((s) => formatNumber(m(s, scenario, key))).join(" / ");
			const pair = (key: string): string =>
				servers
					.slice(0, 2)
					.map((s) => formatNumber(m(s, scenario, key)))
					.join(" / ");
			const loads = servers.map((s) => results.get(s, "miniflare", scenario)?.load).filter((v): v is number => v !== undefined);
			lines.push(
				`| ${count} | ${users === "u100" ? "100" : "one each"} | ${kb.map(formatNumber).join(" / ")} | ${formatRatio(ratio(kb[0], kb[2]))} | ${formatRatio(ratio(kb[1], kb[2]))} | ${triple("fillSeconds")} | ${pair("framesPerJoin")} | ${triple("cpuMsPerJoin")} | ${loads.length === 0 ? "—" : Math.max(...loads).toFixed(1)} |`,
			);
		}
	}
	const failures = results.records
		.filter((r) => r.scenario.startsWith("room-") && !r.ok)
		.map((r) => `- ${LABELS[r.server]} / ${r.scenario}: ${r.error ?? "failed"}`);
	if (failures.length > 0) lines.push("", "Not measured:", ...new Set(failures));
	return lines.join("\n");
}

/** One reader of 100 stops reading: what the other 99 see, and what happens to the stalled one. */
export function stalledTable(results: Results): string {
	const records = results.records.filter((r) => r.scenario === "stalled-1of100");
	if (records.length === 0) return "";
	const lines = [
		"### One stalled reader among 100 (150 msgs/s of 4 KB; Miniflare API, native servers as processes)",
		"",
		"| server | others p50 / p99 before (ms) | others p50 / p99 while stalled (ms) | missed by the others | stalled socket closed with | its last message was sent (s into the stall) | server RSS growth while stalled (MB) | load avg |",
		"|---|---:|---:|---:|---|---:|---:|---:|",
	];
	for (const record of records) {
		if (!record.ok) {
			lines.push(`| ${LABELS[record.server]} | not measured: ${record.error ?? "failed"} | | | | | | |`);
			continue;
		}
		const v = (key: string): number | undefined => {
			const value = record.metrics[key];
			return typeof value === "number" ? value : undefined;
		};
		const code = v("stalledCloseCode");
		lines.push(
			`| ${LABELS[record.server]} | ${formatNumber(v("p50BeforeMs"))} / ${formatNumber(v("p99BeforeMs"))} | ${formatNumber(v("p50StalledMs"))} / ${formatNumber(v("p99StalledMs"))} | ${formatNumber(v("missing"))} | ${code === undefined || code === 0 ? "not closed" : String(code)} | ${formatNumber(v("stalledCutAfterSec"))} | ${formatNumber(v("rssGrowthMb"))} | ${record.load?.toFixed(1) ?? "—"} |`,
		);
	}
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
	for (const table of [roomTable(results), stalledTable(results)]) if (table !== "") parts.push("", table);
	return `${parts.join("\n")}\n`;
}
