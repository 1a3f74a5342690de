/**
 * `npm run bench` / `npm run bench:quick`: starts each server in turn on loopback, runs the
 * same scenarios against each, and writes bench/out/results.jsonl, bench/out/results.md,
 * docs/bench-chart.svg and (full runs, or with --docs) docs/performance.md and docs/cost.md, or
 * (with --cost-doc) docs/cost.md alone.
 *
 *   npm run bench -- [--quick] [--servers parley,bare,...] [--paths miniflare,wrangler] [--only room,stalled,...] [--docs|--no-docs|--cost-doc]
 *
 * Servers of one path run side by side and throughput scenarios alternate between them in
 * rounds (medians reported), because this machine's speed drifts by 2x over minutes and a
 * ratio is only meaningful between numbers taken under the same conditions.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseOptions } from "../scripts/args.ts";
import { TEST_AUTH_SECRET } from "../scripts/test-secret.ts";
import { svgChart } from "./lib/chart.ts";
import { type ChatCost, chatCost, chatMetrics } from "./lib/chat-cost.ts";
import { adminToken, costProbe, userToken } from "./lib/cost.ts";
import { writeCostDoc, writeDocs } from "./lib/docs.ts";
import { type InboxCost, inboxCost, inboxMetrics, inboxSummaryLines } from "./lib/inbox-cost.ts";
import {
	crossPost,
	fixedRate,
	flatOut,
	idleMemory,
	maxSockets,
	roomFill,
	smokeTest,
	stalledReader,
	type Progress,
	type RoomUsers,
	type Target,
	type Timing,
} from "./lib/loadgen.ts";
import { findSaturation, ingestWhileCrossPosting } from "./lib/saturation.ts";
import { describeMachine, machineLine } from "./lib/machine.ts";
import { selfCpuSeconds, treeCpuSeconds } from "./lib/proc.ts";
import { markdownReport, Results, roomScenario, type ResultRecord, type ScenarioName } from "./lib/report.ts";
import { bundleAll, SERVERS, startServer, type PathName, type RunningServer, type ServerDef } from "./lib/servers.ts";
import { PROJECT_ROOT } from "./lib/workers.ts";

interface Mode {
	name: "quick" | "full";
	flat: Timing;
	latency: Timing;
	saga: Timing;
	/** Interleaved rounds for the throughput and latency scenarios. */
	rounds: number;
	idleSockets: number[];
	sagaRatePerSec: number;
	/** Sockets in the one-room scenarios; `max` is what the open-file limit allows. */
	roomSockets: Array<number | "max">;
	stalled: { beforeMs: number; stalledMs: number };
	/** Cross-post rates (per second, all origins together) the saturation search steps through. */
	saturationRates: number[];
	saturation: Timing;
}

const MODES: Record<"quick" | "full", Mode> = {
	quick: {
		name: "quick",
		flat: { warmupMs: 500, measureMs: 2000 },
		latency: { warmupMs: 500, measureMs: 2000 },
		saga: { warmupMs: 500, measureMs: 2000 },
		rounds: 1,
		idleSockets: [1000],
		sagaRatePerSec: 100,
		saturationRates: [200, 400, 700, 1000],
		saturation: { warmupMs: 500, measureMs: 2000 },
		roomSockets: [1000],
		stalled: { beforeMs: 2000, stalledMs: 15_000 },
	},
	full: {
		name: "full",
		flat: { warmupMs: 1000, measureMs: 3000 },
		latency: { warmupMs: 1000, measureMs: 3000 },
		saga: { warmupMs: 1000, measureMs: 4000 },
		rounds: 3,
		idleSockets: [1000, 5000],
		sagaRatePerSec: 100,
		saturationRates: [200, 400, 600, 700, 800, 1000, 1200, 1500, 2000],
		saturation: { warmupMs: 1000, measureMs: 4000 },
		roomSockets: [1000, 5000, "max"],
		stalled: { beforeMs: 3000, stalledMs: 20_000 },
	},
};

/** Sockets per room in the idle-memory scenario (distinct guests, like real users). */
const IDLE_PER_ROOM = 100;
const LATENCY_RATE = 1000;
const SAGA_TARGETS = 3;
/** The cross-post rates beside which plain ingest is measured: a busy room's, and the latency target's. */
const MIXED_CROSS_RATES = [20, 100] as const;
const STALLED_RATE = 150;
/** Parley's largest message (MAX_MESSAGE_CHARS): 600 KB/s to each reader. */
const STALLED_TEXT_BYTES = 4000;
/** The one-room scenarios compare Parley (both kinds of sockets) with the bare room. */
const ROOM_SERVERS: readonly string[] = ["parley", "parley-batch", "bare"];
const STALLED_SERVERS: readonly string[] = ["parley", "parley-batch", "bare", "go-durable", "go-mem", "node-ws"];
/** Scenario groups for --only. */
const GROUPS = ["ingest", "fanout", "latency", "idle", "room", "stalled", "saga", "mixed", "saturation", "cost"] as const;
type Group = (typeof GROUPS)[number];

const USAGE = `usage: npm run bench -- [--quick] [--servers <name,...>] [--paths miniflare,wrangler] [--only <group,...>] [--docs|--no-docs|--cost-doc]

  --quick              the short run (npm run bench:quick)
  --servers <a,b>      only these servers (default: all): ${SERVERS.map((s) => s.name).join(", ")}
  --paths <a,b>        miniflare, wrangler or both (default: both)
  --only <a,b>         only these scenario groups (default: all): ${GROUPS.join(", ")}
  --docs, --no-docs    rewrite docs/performance.md and docs/cost.md (default: on full runs of everything);
                       --docs needs every scenario group, server and path: docs/performance.md shows them all
  --cost-doc           rewrite docs/cost.md alone, from the cost group (Parley on the Miniflare path), e.g.
                       --quick --only cost --servers parley,naive --paths miniflare --cost-doc
  -h, --help           show this help`;

/** Reads the command line; on --help or a bad argument prints the usage and exits (0 or 2). */
function readArgs(argv: string[]): {
	quick: boolean;
	servers?: string[];
	paths: ("miniflare" | "wrangler")[];
	only: Group[];
	docs?: boolean;
	"no-docs": boolean;
	"cost-doc": boolean;
	/** Every scenario group, server and path: what docs/performance.md needs. */
	complete: boolean;
} {
	const fail = (message: string): never => {
		process.stderr.write(`${message}\n\n${USAGE}\n`);
		process.exit(2);
	};
	const parsed = parseOptions(argv, {
		quick: { type: "boolean", default: false },
		servers: { type: "string" },
		paths: { type: "string", default: "miniflare,wrangler" },
		only: { type: "string", default: GROUPS.join(",") },
		docs: { type: "boolean" },
		"no-docs": { type: "boolean", default: false },
		"cost-doc": { type: "boolean", default: false },
		help: { type: "boolean", short: "h", default: false },
	});
	if ("error" in parsed) return fail(parsed.error);
	const { values } = parsed;
	if (values.help) {
		process.stdout.write(`${USAGE}\n`);
		process.exit(0);
	}
	if ([values.docs === true, values["no-docs"], values["cost-doc"]].filter(Boolean).length > 1)
		fail("give at most one of --docs, --no-docs and --cost-doc");
	const list = (value: string): string[] =>
		value
			.split(",")
			.map((item) => item.trim())
			.filter((item) => item !== "");
	const servers = values.servers === undefined ? undefined : list(values.servers);
	if (servers !== undefined) {
		if (servers.length === 0) fail("--servers needs at least one server name");
		const unknown = servers.filter((name) => !SERVERS.some((s) => s.name === name));
		if (unknown.length > 0) fail(`unknown server(s) for --servers: ${unknown.join(", ")}`);
	}
	const paths = list(values.paths);
	if (paths.length === 0) fail("--paths needs miniflare, wrangler or both");
	const badPaths = paths.filter((p) => p !== "miniflare" && p !== "wrangler");
	if (badPaths.length > 0) fail(`unknown path(s) for --paths: ${badPaths.join(", ")} (miniflare, wrangler)`);
	const only = list(values.only);
	const badGroups = only.filter((g) => !(GROUPS as readonly string[]).includes(g));
	if (only.length === 0 || badGroups.length > 0)
		fail(`unknown scenario group(s) for --only: ${badGroups.join(", ") || "(none)"} (${GROUPS.join(", ")})`);
	// docs/performance.md is one run's picture of every group, server and path: a partial run would blank the rest.
	const complete =
		GROUPS.every((group) => only.includes(group)) &&
		(servers === undefined || SERVERS.every((s) => servers.includes(s.name))) &&
		["miniflare", "wrangler"].every((p) => paths.includes(p));
	if (values.docs === true && !complete)
		fail(
			"--docs rewrites docs/performance.md, which needs every scenario group, server and path; with --only cost, give --cost-doc to rewrite docs/cost.md alone",
		);
	if (values["cost-doc"]) {
		if (!only.includes("cost")) fail("--cost-doc needs the cost group (--only cost)");
		if (!paths.includes("miniflare")) fail("--cost-doc needs the miniflare path (the cost probe runs there)");
		if (servers !== undefined && !servers.includes("parley")) fail("--cost-doc needs the parley server (its figures are the doc's)");
	}
	return {
		only: only as Group[],
		quick: values.quick,
		...(servers === undefined ? {} : { servers }),
		paths: paths.filter((p): p is "miniflare" | "wrangler" => p === "miniflare" || p === "wrangler"),
		...(values.docs === undefined ? {} : { docs: values.docs }),
		"no-docs": values["no-docs"],
		"cost-doc": values["cost-doc"],
		complete,
	};
}

const args = readArgs(process.argv.slice(2));
const mode = MODES[args.quick ? "quick" : "full"];
const selected = args.servers === undefined ? SERVERS : SERVERS.filter((s) => args.servers?.includes(s.name));
const paths = args.paths;
const writeDocsToo = args["no-docs"] ? false : (args.docs ?? (mode.name === "full" && args.complete));
const runs = (group: Group): boolean => args.only.includes(group);
const roomCounts = mode.roomSockets.map((count) => (count === "max" ? maxSockets() : count));
const outDir = join(PROJECT_ROOT, "bench/out");
mkdirSync(outDir, { recursive: true });

const runId = new Date().toISOString();
const results = new Results();
const machine = describeMachine();
const started = Date.now();

const interactive = process.stderr.isTTY === true;
function progressFor(prefix: string): Progress {
	return (line) => {
		const elapsed = `${Math.round((Date.now() - started) / 1000)}s`.padStart(5);
		const text = `[bench ${elapsed}] ${prefix} | ${line}`;
		if (interactive) process.stderr.write(`\r\x1b[2K${text}`);
		else process.stderr.write(`${text}\n`);
	};
}
function announce(line: string): void {
	if (interactive) process.stderr.write("\r\x1b[2K");
	process.stderr.write(`[bench] ${line}\n`);
}

function pathOf(def: ServerDef, path: PathName): PathName {
	return def.worker === undefined ? "node" : path;
}

function record(def: ServerDef, path: PathName, scenario: ScenarioName, partial: Partial<ResultRecord>): void {
	results.add({
		run: runId,
		mode: mode.name,
		server: def.name,
		label: def.label,
		path: pathOf(def, path),
		scenario,
		ok: partial.error === undefined,
		metrics: {},
		...partial,
	});
	// Kept current as the run goes, so a run that dies late still leaves what it measured.
	writeFileSync(join(outDir, "results.jsonl"), results.jsonLines());
}

function message(error: unknown): string {
	return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "error";
}

function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

type Metrics = Record<string, number | boolean>;

/** Medians of each numeric field over rounds; booleans are OR-ed (e.g. "saturated" in any round). */
function medianMetrics(rounds: Metrics[]): Metrics {
	const out: Metrics = {};
	for (const key of Object.keys(rounds[0] ?? {})) {
		const values = rounds.map((r) => r[key]);
		if (values.every((v) => typeof v === "number")) out[key] = median(values as number[]);
		else out[key] = values.some((v) => v === true);
	}
	return out;
}

interface Live {
	def: ServerDef;
	server: RunningServer;
	target: Target;
}

/** Runs `run` for every live server, `rounds` times interleaved, and records medians. */
async function interleaved(
	live: Live[],
	path: PathName,
	scenario: ScenarioName,
	rounds: number,
	run: (target: Target, progress: Progress) => Promise<Metrics>,
): Promise<void> {
	const collected = new Map<Live, { rounds: Metrics[]; cpu: { server: number; loadgen: number }[]; load: number; error?: string }>();
	for (const entry of live) collected.set(entry, { rounds: [], cpu: [], load: 0 });
	for (let round = 1; round <= rounds; round++) {
		for (const entry of live) {
			const bucket = collected.get(entry);
			if (bucket === undefined || bucket.error !== undefined) continue;
			const progress = progressFor(`${pathOf(entry.def, path)} | ${entry.def.name} | ${scenario} r${round}/${rounds}`);
			const cpu0 = treeCpuSeconds(entry.server.pids());
			const self0 = selfCpuSeconds();
			const t0 = Date.now();
			try {
				bucket.rounds.push(await run(entry.target, progress));
				const seconds = (Date.now() - t0) / 1000;
				bucket.cpu.push({
					server: (treeCpuSeconds(entry.server.pids()) - cpu0) / seconds,
					loadgen: (selfCpuSeconds() - self0) / seconds,
				});
				bucket.load = Math.max(bucket.load, loadavg()[0] ?? 0);
			} catch (error) {
				bucket.error = message(error);
				announce(`${entry.def.name} ${scenario} failed: ${bucket.error}`);
			}
		}
	}
	for (const [entry, bucket] of collected) {
		if (bucket.error !== undefined) {
			record(entry.def, path, scenario, { error: bucket.error });
			continue;
		}
		record(entry.def, path, scenario, {
			metrics: medianMetrics(bucket.rounds),
			...(bucket.rounds.length > 1 ? { rounds: bucket.rounds } : {}),
			cpu: {
				server: Number(median(bucket.cpu.map((c) => c.server)).toFixed(2)),
				loadgen: Number(median(bucket.cpu.map((c) => c.loadgen)).toFixed(2)),
			},
			load: Number(bucket.load.toFixed(2)),
		});
	}
}

const ALL_SCENARIOS: ScenarioName[] = [
	"ingest-1x10",
	"fanout-10x100",
	"latency-1k",
	"idle-1000",
	"idle-5000",
	"saga-3",
	"ingest-mixed",
	"saturation-1",
	"saturation-10",
	"cost",
	"stalled-1of100",
	...roomCounts.flatMap((count) => (["u100", "each"] as const).map((users) => roomScenario(users, count))),
];

/**
 * Runs a memory scenario on a server started for it: a process that has served (and freed)
 * sockets before reuses that memory, so its RSS growth would understate what sockets cost.
 */
async function onFreshServer(
	def: ServerDef,
	path: PathName,
	scenario: ScenarioName,
	bundles: Awaited<ReturnType<typeof bundleAll>>,
	run: (target: Target, progress: Progress) => Promise<Metrics>,
): Promise<void> {
	await withFreshServer(def, path, scenario, bundles, async (server, target) => {
		await interleaved([{ def, server, target }], path, scenario, 1, run);
	});
}

/** Starts a server for one scenario, hands it over, and stops it; a failed start is recorded as the scenario's error. */
async function withFreshServer(
	def: ServerDef,
	path: PathName,
	scenario: ScenarioName,
	bundles: Awaited<ReturnType<typeof bundleAll>>,
	use: (server: RunningServer, target: Target) => Promise<void>,
): Promise<void> {
	let server: RunningServer;
	try {
		server = await startServer(def, pathOf(def, path), bundles);
	} catch (error) {
		record(def, path, scenario, { error: `could not start a fresh server: ${message(error)}` });
		return;
	}
	try {
		await use(server, targetOf(def, server));
	} finally {
		await server.stop().catch(() => undefined);
	}
}

/** How the load generator reaches a running server. */
function targetOf(def: ServerDef, server: RunningServer): Target {
	return {
		wsUrl: server.wsUrl,
		acks: def.acks,
		pids: () => server.pids(),
		...(def.query === undefined ? {} : { query: def.query }),
	};
}

/** Rows written and alarms set per plain message and per cross-post, on a server started for it. */
async function probeCost(def: ServerDef, path: PathName, bundles: Awaited<ReturnType<typeof bundleAll>>): Promise<void> {
	await withFreshServer(def, path, "cost", bundles, async (server, target) => {
		const persistDir = server.persistDir;
		if (persistDir === undefined) return;
		try {
			progressFor(`${path} | ${def.name} | cost`)("snapshotting SQLite around single messages");
			const token = adminTokenFor(def);
			const cost = await costProbe(
				target,
				persistDir,
				def.crossPost ? SAGA_TARGETS : undefined,
				token === undefined ? undefined : { httpUrl: server.httpUrl, token },
			);
			// v1.3 chat actions: Parley only (it has the meters and the frames), on the same fresh server.
			let chat: ChatCost | undefined;
			let chatError: string | undefined;
			if (token !== undefined && def.crossPost) {
				progressFor(`${path} | ${def.name} | cost`)("rows per chat action, by the room's storage meter");
				try {
					chat = await chatCost(target, { httpUrl: server.httpUrl, token });
				} catch (error) {
					chatError = message(error);
				}
			}
			// v1.4 inbox actions (mentions, DMs, inbox reads, a busy room's pushes): Parley only, same server.
			let inbox: InboxCost | undefined;
			let inboxError: string | undefined;
			if (token !== undefined && def.crossPost) {
				const progress = progressFor(`${path} | ${def.name} | cost`);
				progress("rows and requests per mention, DM and inbox read, by every object's meter");
				try {
					inbox = await inboxCost(target, { httpUrl: server.httpUrl, token }, (sub) => userToken(TEST_AUTH_SECRET, sub));
					for (const line of inboxSummaryLines(inbox)) announce(`${path} | ${def.name} | cost | ${line}`);
				} catch (error) {
					inboxError = message(error);
					announce(`${path} | ${def.name} | cost | inbox actions not measured: ${inboxError}`);
				}
			}
			const { tablesPerMessage, crossPosts, crossPostError, server: counters, source, ...numbers } = cost;
			const perSize = Object.fromEntries((crossPosts ?? []).map((c) => [`rowsPerCrossPost${c.targets}`, c.rows]));
			record(def, path, "cost", {
				metrics: { ...numbers, ...perSize, ...chatMetrics(chat), ...inboxMetrics(inbox) },
				detail: {
					source,
					tablesPerMessage,
					crossPosts,
					crossPostError,
					serverCounters: counters,
					chat,
					chatError,
					inbox,
					inboxError,
				},
			});
		} catch (error) {
			record(def, path, "cost", { error: message(error) });
		}
	});
}

async function runPath(path: "miniflare" | "wrangler", bundles: Awaited<ReturnType<typeof bundleAll>>): Promise<void> {
	// The Node server has no Worker path: it runs once, beside the Miniflare group.
	const group = selected.filter((def) => def.worker !== undefined || path === "miniflare");
	const live: Live[] = [];
	for (const def of group) {
		announce(`starting ${def.label} (${pathOf(def, path)})`);
		try {
			const server = await startServer(def, pathOf(def, path), bundles);
			const target = targetOf(def, server);
			try {
				await smokeTest(target);
			} catch (error) {
				await server.stop();
				throw error;
			}
			live.push({ def, server, target });
		} catch (error) {
			const reason = `skipped: ${message(error)}`;
			announce(`${def.label} (${pathOf(def, path)}) ${reason}`);
			for (const scenario of ALL_SCENARIOS) record(def, path, scenario, { error: reason });
		}
	}
	try {
		if (runs("ingest"))
			await interleaved(live, path, "ingest-1x10", mode.rounds, async (t, p) => ({ ...(await flatOut(t, 1, 10, mode.flat, p)) }));
		if (runs("fanout"))
			await interleaved(live, path, "fanout-10x100", mode.rounds, async (t, p) => ({ ...(await flatOut(t, 10, 100, mode.flat, p)) }));
		if (runs("latency"))
			await interleaved(live, path, "latency-1k", mode.rounds, async (t, p) => ({
				...(await fixedRate(t, LATENCY_RATE, 10, mode.latency, p)),
			}));
		// Memory through wrangler dev would measure wrangler's proxy, not the server.
		if (path === "miniflare" && runs("idle")) {
			for (const count of [1000, 5000]) {
				const scenario: ScenarioName = count === 1000 ? "idle-1000" : "idle-5000";
				if (!mode.idleSockets.includes(count)) continue;
				for (const entry of live) {
					await onFreshServer(entry.def, path, scenario, bundles, async (t, p) => ({
						...(await idleMemory(t, count, IDLE_PER_ROOM, p)),
					}));
				}
			}
		}
		if (path === "miniflare" && runs("room")) {
			// Sizes outermost, servers innermost: the machine's drift hits every server alike.
			const roomDefs = live.map((entry) => entry.def).filter((def) => ROOM_SERVERS.includes(def.name));
			for (const count of roomCounts) {
				for (const users of ["u100", "each"] as RoomUsers[]) {
					for (const def of roomDefs) {
						await onFreshServer(def, path, roomScenario(users, count), bundles, async (t, p) => ({
							...(await roomFill(t, count, users, p)),
						}));
					}
				}
			}
		}
		if (path === "miniflare" && runs("stalled")) {
			for (const entry of live.filter((e) => STALLED_SERVERS.includes(e.def.name))) {
				await interleaved([entry], path, "stalled-1of100", 1, async (t, p) => ({
					...(await stalledReader(t, STALLED_RATE, STALLED_TEXT_BYTES, mode.stalled, p)),
				}));
			}
		}
		for (const entry of live.filter((e) => e.def.crossPost)) {
			if (runs("saga"))
				await interleaved([entry], path, "saga-3", 1, async (t, p) => ({
					...(await crossPost(t, mode.sagaRatePerSec, SAGA_TARGETS, mode.saga, p)),
				}));
			if (path !== "miniflare") continue;
			// Plain ingest in a room that cross-posts, beside a room that does not, in the same rounds.
			if (runs("mixed"))
				await interleaved([entry], path, "ingest-mixed", mode.rounds, async (t, p) => {
					const metrics: Record<string, number> = {};
					for (const rate of MIXED_CROSS_RATES) {
						// The same room layout with no cross-posts, then with them, back to back.
						const plain = await ingestWhileCrossPosting(t, 0, mode.flat, p, 0);
						const mixed = await ingestWhileCrossPosting(t, rate, mode.flat, p);
						metrics[`plain${rate}PerSec`] = plain.ingestPerSec;
						metrics[`mixed${rate}PerSec`] = mixed.ingestPerSec;
						metrics[`ratio${rate}`] = plain.ingestPerSec > 0 ? mixed.ingestPerSec / plain.ingestPerSec : 0;
					}
					return metrics;
				});
			for (const origins of runs("saturation") ? ([1, 10] as const) : []) {
				const scenario: ScenarioName = origins === 1 ? "saturation-1" : "saturation-10";
				let steps: unknown;
				await interleaved([entry], path, scenario, 1, async (t, p) => {
					const found = await findSaturation(t, origins, mode.saturationRates, mode.saturation, p);
					steps = found.steps;
					const last = found.steps.filter((s) => s.sustained).at(-1);
					return {
						sustainedPerSec: found.sustainedPerSec,
						...(last?.p50Ms === undefined ? {} : { p50Ms: last.p50Ms }),
						...(last?.p99Ms === undefined ? {} : { p99Ms: last.p99Ms }),
					};
				});
				const record = results.get(entry.def.name, path, scenario);
				if (record !== undefined) record.detail = { steps };
			}
		}
		if (path === "miniflare" && runs("cost")) {
			// The batched sockets store exactly what the others do: one Parley probe is enough. Each
			// probe runs on a server started for it: the earlier scenarios' rooms would make every
			// snapshot of the SQLite files read (and hold) all of their rows.
			for (const entry of live.filter((e) => e.def.name !== "parley-batch")) await probeCost(entry.def, path, bundles);
		}
	} finally {
		for (const entry of live) await entry.server.stop().catch(() => undefined);
	}
}

function adminTokenFor(def: ServerDef): string | undefined {
	// The secret bench/lib/workers.ts gives the runtime.
	return def.worker?.testSecret === true && def.crossPost ? adminToken(TEST_AUTH_SECRET) : undefined;
}

/** The 1-minute load average: the machine is shared, so every figure carries it. */
function loadAverage(): string {
	return loadavg()[0]?.toFixed(2) ?? "?";
}
const loadAtStart = loadAverage();
announce(`${mode.name} run ${runId}: ${selected.map((s) => s.name).join(", ")} over ${paths.join(", ")}; load average ${loadAtStart}`);
announce(`machine: ${machineLine(machine)}`);
const bundles = await bundleAll(selected, join(outDir, "bundles"));
for (const path of paths) await runPath(path, bundles);

const reportPaths: PathName[] = paths;
const header = `## Parley bench — ${mode.name} run, ${runId}\n\nMachine: ${machineLine(machine)}. Wall time ${Math.round((Date.now() - started) / 1000)} s. Load average (1 min) at the start ${loadAtStart}, at the end ${loadAverage()}.`;
const markdown = markdownReport(results, reportPaths, header);
writeFileSync(join(outDir, "results.jsonl"), results.jsonLines());
writeFileSync(join(outDir, "results.md"), markdown);
const chart = svgChart(
	results,
	`${mode.name} run ${runId.slice(0, 16)}Z, ${machine.cpus} vCPU; medians of ${mode.rounds} interleaved round(s)`,
);
writeFileSync(join(outDir, "bench-chart.svg"), chart);
if (writeDocsToo) {
	writeFileSync(join(PROJECT_ROOT, "docs/bench-chart.svg"), chart);
	writeDocs(results, reportPaths, machine, runId, mode.name, markdown);
	announce("wrote docs/performance.md, docs/cost.md and docs/bench-chart.svg");
} else if (args["cost-doc"]) {
	// A probe that failed would replace measured figures with "not measured": keep the old doc then.
	const cost = results.get("parley", "miniflare", "cost");
	const chat = (cost?.detail as { chat?: unknown; chatError?: string } | undefined)?.chat;
	if (cost?.ok === true && chat !== undefined) {
		writeCostDoc(results, runId);
		announce("wrote docs/cost.md (docs/performance.md untouched)");
	} else {
		announce(`docs/cost.md left as it was: Parley's cost probe ${cost?.ok === true ? "measured no chat actions" : "failed"}`);
		process.exitCode = 1;
	}
}
process.stdout.write(markdown);
announce(`done in ${Math.round((Date.now() - started) / 1000)} s; JSON lines in bench/out/results.jsonl`);
