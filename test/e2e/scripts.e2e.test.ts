/**
 * The command-line scripts answer `--help` with their usage on stdout (exit 0) and bad
 * arguments with their usage on stderr (exit 2), never with a stack trace. No server needed:
 * every case is refused before anything starts.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../support/dev-server.ts";

/** A stack trace line, as Node prints them: `    at fn (file:line:col)`. */
const STACK_LINE = /^\s+at /m;

async function run(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
	const child = spawn(process.execPath, [script, ...args], {
		cwd: PROJECT_ROOT,
		stdio: ["ignore", "pipe", "pipe"],
		env: { ...process.env, NO_COLOR: "1" },
	});
	let stdout = "";
	let stderr = "";
	child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
	child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
	const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
	const code = await new Promise<number | null>((resolve) => child.once("close", (exit) => resolve(exit)));
	clearTimeout(timer);
	return { code, stdout, stderr };
}

const SCRIPTS: [script: string, usage: RegExp, bad: [args: string[], message: RegExp][]][] = [
	[
		"scripts/mint-token.ts",
		/^usage: npm run token -- --sub <userId>/,
		[
			[["--sub"], /--sub <value>' argument missing/],
			[[], /--sub is required/],
			[["--sub", "ann", "--ttl", "soon"], /--ttl must be a positive whole number/],
			[["--sub", "ann", "--nope"], /--nope/],
			[["--sub", "ann", "stray"], /stray/],
		],
	],
	[
		"chaos/run.ts",
		/^usage: npm run chaos -- /,
		[
			[["--only"], /--only <value>' argument missing/],
			[["--only", "no-such-scenario"], /unknown scenario\(s\) for --only: no-such-scenario/],
			[["--broken", "no-such-mutation"], /--broken must be one of/],
			[["--bogus"], /--bogus/],
		],
	],
	[
		"bench/run.ts",
		/^usage: npm run bench -- /,
		[
			[["--servers"], /--servers <value>' argument missing/],
			[["--servers", "no-such-server"], /unknown server\(s\) for --servers: no-such-server/],
			[["--paths", "nowhere"], /unknown path\(s\) for --paths: nowhere/],
			[["--quick", "stray"], /stray/],
			// A partial run must not blank docs/performance.md: --cost-doc rewrites docs/cost.md alone.
			[
				["--only", "cost", "--docs"],
				/--docs rewrites docs\/performance\.md, which needs every scenario group, server and path.*--cost-doc/,
			],
			[["--servers", "parley", "--docs"], /--docs rewrites docs\/performance\.md, which needs every scenario group, server and path/],
			[
				["--paths", "miniflare", "--docs"],
				/--docs rewrites docs\/performance\.md, which needs every scenario group, server and path/,
			],
			[["--only", "ingest", "--cost-doc"], /--cost-doc needs the cost group/],
			[["--cost-doc", "--no-docs"], /at most one of --docs, --no-docs and --cost-doc/],
		],
	],
];

describe("script arguments", () => {
	for (const [script, usage, bad] of SCRIPTS) {
		it(`${script}: --help prints the usage with exit 0; bad arguments exit 2 with the usage and no stack trace`, async () => {
			const help = await run(script, ["--help"]);
			expect(help.code).toBe(0);
			expect(help.stdout).toMatch(usage);
			expect(help.stderr).toBe("");

			for (const [args, message] of bad) {
				const result = await run(script, args);
				expect(result.code, `${script} ${args.join(" ")}`).toBe(2);
				expect(result.stderr).toMatch(message);
				expect(result.stderr).toMatch(/^usage: /m);
				expect(result.stderr).not.toMatch(STACK_LINE);
				expect(result.stdout).toBe("");
			}
		});
	}

	it("mints a token with good arguments", async () => {
		const result = await run("scripts/mint-token.ts", ["--sub", "ann", "--name", "Ann"]);
		expect(result.code).toBe(0);
		expect(result.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
	});
});
