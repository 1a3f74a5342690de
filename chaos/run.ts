/**
 * The chaos and abuse suite: `npm run chaos` (every scenario, a few minutes),
 * `npm run chaos -- --quick` (the short slice `npm test` runs), `--only a,b` to pick scenarios,
 * and `npm run chaos:broken` (a deliberately broken copy of the server: the run passes only if
 * the suite reports violations). A progress line per scenario goes to stderr, the summary
 * table to stdout; the exit code is non-zero on any violation (inverted with --broken).
 */
import { orExit, parseOptions } from "../scripts/args.ts";
import { resolve } from "node:path";
import { SCENARIOS } from "./scenarios/index.ts";
import { MUTATIONS, snapshot } from "./lib/mutations.ts";
import { type ChaosServer, startServer } from "./lib/server.ts";
import { type Row, table } from "./lib/table.ts";
import { Recorder, type Scenario } from "./lib/types.ts";

export interface RunOptions {
	quick: boolean;
	only?: readonly string[];
	/** The project copy `wrangler dev` runs (see `snapshot`); a fresh snapshot of the repo if absent. */
	root?: string;
	/** See ScenarioContext.latencyTolerance; 1 unless given. */
	latencyTolerance?: number;
	/** See ScenarioContext.latencyFloorMs; 0 unless given. */
	latencyFloorMs?: number;
	/** Where progress lines go. */
	log?: (line: string) => void;
}

export interface ScenarioReport extends Row {
	violationList: string[];
	figures: Array<[string, string]>;
	error?: string;
}

const REPO = resolve(import.meta.dirname, "..");

/** Runs the scenarios in order, one shared server per profile, stopped after its last user. */
export async function runSuite(options: RunOptions): Promise<ScenarioReport[]> {
	const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
	const root = options.root ?? snapshot(REPO);
	const chosen: Scenario[] = options.only === undefined ? SCENARIOS : SCENARIOS.filter((s) => options.only?.includes(s.name));
	const shared = new Map<string, Promise<ChaosServer>>();
	const reports: ScenarioReport[] = [];
	for (const [index, scenario] of chosen.entries()) {
		const rec = new Recorder();
		const owned: ChaosServer[] = [];
		const started = performance.now();
		let error: string | undefined;
		log(`[chaos] ${scenario.name}: ${scenario.summary}`);
		try {
			await scenario.run({
				quick: options.quick,
				latencyTolerance: options.latencyTolerance ?? 1,
				latencyFloorMs: options.latencyFloorMs ?? 0,
				root,
				rec,
				log: (message) => log(`[chaos]   ${scenario.name}: ${message}`),
				server: async () => {
					const profile = scenario.profile;
					if (profile === undefined) throw new Error(`${scenario.name} has no server profile`);
					let server = shared.get(profile.name);
					if (server === undefined) {
						server = startServer(root, { vars: profile.vars });
						shared.set(profile.name, server);
					}
					return await server;
				},
				launch: async (serverOptions) => {
					const server = await startServer(root, serverOptions);
					owned.push(server);
					return server;
				},
			});
		} catch (thrown) {
			// A scenario that cannot finish is a failure of the suite's promise, counted as a violation.
			error = thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown);
			rec.violations.push(`scenario aborted: ${error.split("\n")[0] ?? ""}`);
		} finally {
			await Promise.all(owned.map(async (s) => await s.stop().catch(() => undefined)));
			// Stop shared servers no later scenario needs.
			const later = new Set(chosen.slice(index + 1).flatMap((s) => (s.profile === undefined ? [] : [s.profile.name])));
			for (const [name, server] of shared) {
				if (!later.has(name)) {
					shared.delete(name);
					await (await server.catch(() => undefined))?.stop();
				}
			}
		}
		const seconds = (performance.now() - started) / 1000;
		const report: ScenarioReport = {
			scenario: scenario.name,
			operations: rec.operations,
			faults: rec.faults,
			checks: rec.checks,
			violations: rec.violations.length,
			seconds,
			violationList: rec.violations,
			figures: rec.figures,
			...(error === undefined ? {} : { error }),
		};
		reports.push(report);
		log(
			`[chaos] ${scenario.name}: ${report.operations} ops, ${report.faults} faults, ${report.checks} checks, ${report.violations} violations, ${seconds.toFixed(1)} s`,
		);
		for (const v of rec.violations.slice(0, 20)) log(`[chaos]   VIOLATION ${v}`);
		if (rec.violations.length > 20) log(`[chaos]   ... and ${rec.violations.length - 20} more`);
	}
	return reports;
}

export function describe(reports: readonly ScenarioReport[]): string {
	const lines = [table(reports), ""];
	for (const r of reports) {
		if (r.figures.length > 0) lines.push(`${r.scenario}: ${r.figures.map(([k, v]) => `${k} ${v}`).join("; ")}`);
	}
	return lines.join("\n");
}

const USAGE = `usage: npm run chaos -- [--quick] [--only <scenario,...>] [--broken <mutation>]

  --quick              the short slice \`npm test\` runs
  --only <a,b>         run only these scenarios
  --broken <mutation>  run against a deliberately broken copy (the run passes only if caught)
  -h, --help           show this help

scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}
mutations: ${MUTATIONS.map((m) => m.name).join(", ")}`;

/** The command line, read without side effects; never throws. */
export function parseChaosArgs(argv: string[]): { quick: boolean; only?: string[]; broken?: string } | { help: true } | { error: string } {
	const parsed = parseOptions(argv, {
		quick: { type: "boolean", default: false },
		only: { type: "string" },
		broken: { type: "string" },
		help: { type: "boolean", short: "h", default: false },
	});
	if ("error" in parsed) return parsed;
	const { values } = parsed;
	if (values.help) return { help: true };
	const only = values.only
		?.split(",")
		.map((s) => s.trim())
		.filter((s) => s !== "");
	if (only !== undefined) {
		if (only.length === 0) return { error: "--only needs at least one scenario name" };
		const unknown = only.filter((name) => !SCENARIOS.some((s) => s.name === name));
		if (unknown.length > 0) return { error: `unknown scenario(s) for --only: ${unknown.join(", ")}` };
	}
	if (values.broken !== undefined && !MUTATIONS.some((m) => m.name === values.broken)) {
		return { error: `--broken must be one of: ${MUTATIONS.map((m) => m.name).join(", ")}` };
	}
	return {
		quick: values.quick,
		...(only === undefined ? {} : { only }),
		...(values.broken === undefined ? {} : { broken: values.broken }),
	};
}

if (import.meta.main) {
	const parsed = orExit(parseChaosArgs(process.argv.slice(2)), USAGE);
	const values = parsed;
	const only = parsed.only;
	let root: string | undefined;
	if (values.broken !== undefined) {
		const mutation = MUTATIONS.find((m) => m.name === values.broken);
		if (mutation === undefined) {
			console.error(`--broken must be one of: ${MUTATIONS.map((m) => m.name).join(", ")}`);
			process.exit(2);
		}
		root = snapshot(REPO, mutation);
		process.stderr.write(`[chaos] BROKEN BUILD "${mutation.name}": ${mutation.description}\n[chaos] copy at ${root}\n`);
	}
	const reports = await runSuite({
		quick: values.quick,
		...(only === undefined ? {} : { only }),
		...(root === undefined ? {} : { root }),
	});
	console.log(describe(reports));
	const violations = reports.reduce((n, r) => n + r.violations, 0);
	if (root !== undefined) {
		// Against a broken build the suite must fail: that is what shows its checks have teeth.
		console.log(violations > 0 ? `\nThe broken build was caught: ${violations} violations.` : "\nThe broken build was NOT caught.");
		process.exit(violations > 0 ? 0 : 1);
	}
	process.exit(violations > 0 ? 1 : 0);
}
