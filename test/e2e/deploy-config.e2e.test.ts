/**
 * Deploys cannot hit production by accident: the local (top-level) and production Workers have
 * different names, every environment requires AUTH_SECRET as a secret and none carries a
 * secret in its plain vars, both bundles build without printing a secret, `npm run dev` makes
 * its own `.dev.vars` once and never replaces it, `npm run token` refuses to guess a secret,
 * and `npm run setup:production` answers its arguments and lists its steps in order.
 */
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { experimental_readRawConfig } from "wrangler";
import { DEV_VARS, ensureDevVars, readDevVarsSecret } from "../../scripts/dev.ts";
import { parseTokenArgs } from "../../scripts/mint-token.ts";
import { TEST_AUTH_SECRET } from "../../scripts/test-secret.ts";
import { isDeadLetterQueue } from "../../src/queue.ts";
import { PROJECT_ROOT } from "../support/dev-server.ts";

const WRANGLER_JS = join(PROJECT_ROOT, "node_modules/wrangler/bin/wrangler.js");
const REQUIRED = "AUTH_SECRET";
/** Names that hold a credential, whatever their value. */
const LOOKS_SECRET = /(^|_)(SECRET|TOKEN|KEY|PASSWORD)$/;

const scratch = mkdtempSync(join(tmpdir(), "parley-deploy-config-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function run(
	command: string[],
	options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
	const [file, ...args] = command;
	const child = spawn(file ?? process.execPath, args, {
		cwd: options.cwd ?? PROJECT_ROOT,
		stdio: ["ignore", "pipe", "pipe"],
		// WRANGLER_LOG: the bindings table is what is checked (vitest.config.ts turns it down).
		env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", WRANGLER_LOG: "log", ...options.env },
	});
	let stdout = "";
	let stderr = "";
	child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
	child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
	const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
	const code = await new Promise<number | null>((resolve) => child.once("close", (exit) => resolve(exit)));
	clearTimeout(timer);
	return { code, stdout, stderr };
}

describe("wrangler.toml", () => {
	const { rawConfig } = experimental_readRawConfig({ config: join(PROJECT_ROOT, "wrangler.toml") });
	// Every deployable Worker: the top level (`wrangler deploy`) and each [env.*].
	const envs: [label: string, env: { name?: string; vars?: Record<string, unknown>; secrets?: { required?: string[] } }][] = [
		["top level", rawConfig],
		...Object.entries(rawConfig.env ?? {}).map(([name, env]): [string, typeof env] => [`env.${name}`, env]),
	];

	it("names the local Worker and the production Worker differently", () => {
		expect(rawConfig.env?.production?.name).toBe("parley");
		expect(rawConfig.name).toBeDefined();
		const names = envs.map(([, env]) => env.name ?? rawConfig.name);
		expect(new Set(names).size, `Worker names: ${names.join(", ")}`).toBe(names.length);
	});

	it("gives the local Worker queues of its own, so a deployed parley-dev never takes production's tasks", () => {
		type Queues = { producers?: Array<{ queue: string }>; consumers?: Array<{ queue: string; dead_letter_queue?: string }> };
		const queuesOf = (q: Queues | undefined): string[] => [
			...(q?.producers ?? []).map((p) => p.queue),
			...(q?.consumers ?? []).flatMap((c) => [c.queue, ...(c.dead_letter_queue === undefined ? [] : [c.dead_letter_queue])]),
		];
		const local = new Set(queuesOf(rawConfig.queues as Queues | undefined));
		const production = new Set(queuesOf(rawConfig.env?.production?.queues as Queues | undefined));
		expect(local.size).toBeGreaterThan(0);
		expect(production.size).toBeGreaterThan(0);
		expect([...local].filter((q) => production.has(q))).toEqual([]);
		// The Worker tells its dead-letter queue by the suffix both environments share.
		expect([...local, ...production].filter((q) => isDeadLetterQueue(q)).sort()).toEqual([
			"parley-dev-outbox-dlq",
			"parley-outbox-dlq",
		]);
	});

	it.each(envs)("%s declares AUTH_SECRET a required secret (secrets are not inherited)", (_label, env) => {
		expect(env.secrets?.required ?? []).toContain(REQUIRED);
	});

	it.each(envs)("%s keeps the alert webhook and the metrics token out of plain vars, and does not require them", (_label, env) => {
		for (const name of ["ALERT_WEBHOOK_URL", "ALERT_WEBHOOK_SECRET", "METRICS_TOKEN"]) {
			expect([name, Object.hasOwn(env.vars ?? {}, name)]).toEqual([name, false]);
			// Required would make a deploy without alerts or a scraper fail (docs/operations.md).
			expect([name, (env.secrets?.required ?? []).includes(name)]).toEqual([name, false]);
		}
	});

	it("turns on Workers' native traces in production, sampled", () => {
		const observability = rawConfig.env?.production?.observability as
			| { enabled?: boolean; traces?: { enabled?: boolean; head_sampling_rate?: number } }
			| undefined;
		expect(observability?.enabled).toBe(true);
		expect(observability?.traces?.enabled).toBe(true);
		const rate = observability?.traces?.head_sampling_rate ?? 1;
		expect(rate > 0 && rate < 1).toBe(true);
	});

	it.each(envs)("%s has no secret among its plain vars", (_label, env) => {
		const required = env.secrets?.required ?? [];
		for (const [name, value] of Object.entries(env.vars ?? {})) {
			expect([name, required.includes(name) || LOOKS_SECRET.test(name)]).toEqual([name, false]);
			expect([name, value]).not.toEqual([name, TEST_AUTH_SECRET]);
		}
	});
});

describe("the deploy bundles", () => {
	it("both build with --dry-run, from the top level and for production, and print no secret value", async () => {
		// A secret in the environment (and a developer's .dev.vars, if any) must not reach the output.
		const sentinel = "sentinel-secret-value-must-not-be-printed";
		const secrets = [sentinel, TEST_AUTH_SECRET, "parley-local-dev-secret-do-not-deploy", readDevVarsSecret(DEV_VARS)].filter(
			(s) => s !== undefined,
		);
		const builds = await Promise.all(
			[
				["--env=", "dev"],
				["--env", "production", "production"],
			].map(async (envArgs) => {
				const outdir = join(scratch, `dist-${envArgs.at(-1) ?? ""}`);
				const result = await run(
					[process.execPath, WRANGLER_JS, "deploy", "--dry-run", ...envArgs.slice(0, -1), "--outdir", outdir],
					{ env: { AUTH_SECRET: sentinel } },
				);
				return { envArgs, outdir, ...result };
			}),
		);
		for (const { envArgs, outdir, code, stdout, stderr } of builds) {
			const output = stdout + stderr;
			expect([envArgs, code], output).toEqual([envArgs, 0]);
			expect(existsSync(join(outdir, "index.js"))).toBe(true);
			expect(output).toMatch(/--dry-run: exiting now/);
			// The bindings table is printed (so the checks below look at it), without AUTH_SECRET.
			expect(output).toMatch(/env\.ALLOW_GUESTS \("(true|false)"\)/);
			for (const secret of secrets) expect(output).not.toContain(secret);
			// A required secret is no plain binding with a value in the table.
			expect(output).not.toMatch(/AUTH_SECRET \(/);
			expect(output).not.toMatch(/Missing required secrets/);
		}
	});
});

describe("npm run dev's .dev.vars", () => {
	it("is created once with a random AUTH_SECRET, then kept as it is", () => {
		const dir = join(scratch, "dev-vars");
		mkdirSync(dir);
		const path = join(dir, ".dev.vars");
		const said: string[] = [];
		expect(ensureDevVars(path, (line) => said.push(line))).toBe("created");
		expect(said).toHaveLength(1);
		expect(said[0]).toMatch(/random AUTH_SECRET/);
		const first = readFileSync(path, "utf8");
		const secret = readDevVarsSecret(path);
		expect(secret).toMatch(/^[\w-]{43}$/);
		expect(first).toContain(`AUTH_SECRET=${secret}\n`);
		expect(statSync(path).mode & 0o077).toBe(0);

		expect(ensureDevVars(path, (line) => said.push(line))).toBe("kept");
		expect(readFileSync(path, "utf8")).toBe(first);
		expect(said).toHaveLength(1);

		// Another checkout gets another secret.
		const other = join(dir, ".dev.vars.other");
		ensureDevVars(other, () => undefined);
		expect(readDevVarsSecret(other)).not.toBe(secret);
	});

	it("keeps an existing .dev.vars without AUTH_SECRET untouched, and says what is missing", () => {
		const path = join(scratch, "dev-vars-without-secret");
		writeFileSync(path, "ALLOW_GUESTS=false\n");
		const said: string[] = [];
		expect(ensureDevVars(path, (line) => said.push(line))).toBe("kept");
		expect(readFileSync(path, "utf8")).toBe("ALLOW_GUESTS=false\n");
		expect(said.join("\n")).toMatch(/no AUTH_SECRET/);
		expect(readDevVarsSecret(path)).toBeUndefined();
	});

	it(".dev.vars is gitignored", () => {
		expect(readFileSync(join(PROJECT_ROOT, ".gitignore"), "utf8").split("\n")).toContain(".dev.vars");
	});
});

describe("npm run token's secret", () => {
	const fromDevVars = () => "from-dev-vars";
	const secretOf = (argv: string[], env: Record<string, string>, devVars: () => string | undefined) => {
		const parsed = parseTokenArgs(["--sub", "ann", ...argv], env, devVars);
		if (!("claims" in parsed)) throw new Error(JSON.stringify(parsed));
		return parsed.secret;
	};

	it("is --secret, else $AUTH_SECRET, else AUTH_SECRET in .dev.vars, else none", () => {
		expect(secretOf(["--secret", "flag"], { AUTH_SECRET: "env" }, fromDevVars)).toBe("flag");
		expect(secretOf([], { AUTH_SECRET: "env" }, fromDevVars)).toBe("env");
		expect(secretOf([], { AUTH_SECRET: "" }, fromDevVars)).toBe("from-dev-vars");
		expect(secretOf([], {}, fromDevVars)).toBe("from-dev-vars");
		expect(secretOf([], {}, () => undefined)).toBeUndefined();
	});

	it("reads .dev.vars, and with no secret anywhere exits 1 saying what to do", async () => {
		// A copy of the scripts, so the project's own .dev.vars (if any) is out of reach.
		const root = join(scratch, "fresh-clone");
		cpSync(join(PROJECT_ROOT, "scripts"), join(root, "scripts"), { recursive: true });
		symlinkSync(join(PROJECT_ROOT, "node_modules"), join(root, "node_modules"), "dir");
		const noSecret = { AUTH_SECRET: "" };

		const refused = await run([process.execPath, "scripts/mint-token.ts", "--sub", "ann"], { cwd: root, env: noSecret });
		expect(refused.code).toBe(1);
		expect(refused.stdout).toBe("");
		expect(refused.stderr).toMatch(/run `npm run dev` once .*or pass --secret/);
		expect(refused.stderr).not.toMatch(/^\s+at /m);

		writeFileSync(join(root, ".dev.vars"), "AUTH_SECRET=copied-dev-secret\n");
		const minted = await run([process.execPath, "scripts/mint-token.ts", "--sub", "ann"], { cwd: root, env: noSecret });
		expect(minted.code, minted.stderr).toBe(0);
		const token = minted.stdout.trim();
		const [header, payload, signature] = token.split(".");
		expect(signature).toBe(createHmac("sha256", "copied-dev-secret").update(`${header}.${payload}`).digest("base64url"));
	});
});

describe("npm run setup:production", () => {
	const setup = (args: string[]) => run([process.execPath, "scripts/setup-production.ts", ...args]);

	it("--help prints the usage with exit 0; bad arguments exit 2 with the usage", async () => {
		const help = await setup(["--help"]);
		expect([help.code, help.stderr]).toEqual([0, ""]);
		expect(help.stdout).toMatch(/^usage: npm run setup:production -- /);
		for (const args of [["--bogus"], ["stray"], ["--dry-run=yes"]]) {
			const bad = await setup(args);
			expect([args, bad.code, bad.stdout]).toEqual([args, 2, ""]);
			expect(bad.stderr).toMatch(/^usage: /m);
			expect(bad.stderr).not.toMatch(/^\s+at /m);
		}
	});

	it("--dry-run lists the production steps in order and runs none of them", async () => {
		const dry = await setup(["--dry-run"]);
		expect([dry.code, dry.stderr]).toEqual([0, ""]);
		const commands = dry.stdout
			.split("\n")
			.filter((line) => /^ {3}(npx|npm) /.test(line))
			.map((line) => line.trim());
		expect(commands).toEqual([
			"npx wrangler queues create parley-outbox",
			"npx wrangler queues create parley-outbox-dlq",
			"npx wrangler secret put AUTH_SECRET --env production",
			"npm run build:client",
			"npx wrangler deploy --env production",
		]);
		expect(dry.stdout).toMatch(/Worker "parley"/);
		expect(dry.stdout).toMatch(/Nothing was changed/);

		const noDeploy = await setup(["--dry-run", "--skip-deploy"]);
		expect(noDeploy.code).toBe(0);
		expect(noDeploy.stdout).not.toMatch(/deploy --env/);
		expect(noDeploy.stdout).toMatch(/secret put AUTH_SECRET --env production/);
	});
});
