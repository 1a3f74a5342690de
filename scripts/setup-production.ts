/**
 * `npm run setup:production`: everything the production Worker needs on Cloudflare, in order,
 * then its deploy. Each step is skipped when it is already done, so it is safe to run again.
 *
 *   npm run setup:production -- [--dry-run] [--skip-deploy]
 *
 * The queues and required secrets are read from `[env.production]` in wrangler.toml.
 */
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { orExit, parseOptions } from "./args.ts";

const ROOT = resolve(import.meta.dirname, "..");
const WRANGLER_JS = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const ENV = "production";

const USAGE = `usage: npm run setup:production -- [--dry-run] [--skip-deploy]

Sets up the production Worker ([env.production] in wrangler.toml) on Cloudflare, in order:
its queues (created unless they exist), its required secrets (wrangler asks for each value,
or reads it from stdin; kept if already set), the page script, then
\`wrangler deploy --env production\`. Finished steps are skipped, so it is safe to run again.
Log in first: \`npx wrangler login\`, or set CLOUDFLARE_API_TOKEN (and CLOUDFLARE_ACCOUNT_ID).

  --dry-run      print the steps and their commands; run nothing, change nothing
  --skip-deploy  stop before building and deploying
  -h, --help     show this help`;

export interface SetupOptions {
	dryRun: boolean;
	skipDeploy: boolean;
}

export function parseSetupArgs(argv: string[]): SetupOptions | { help: true } | { error: string } {
	const parsed = parseOptions(argv, {
		"dry-run": { type: "boolean", default: false },
		"skip-deploy": { type: "boolean", default: false },
		help: { type: "boolean", short: "h", default: false },
	});
	if ("error" in parsed) return parsed;
	if (parsed.values.help) return { help: true };
	return { dryRun: parsed.values["dry-run"], skipDeploy: parsed.values["skip-deploy"] };
}

/** What production needs, as wrangler.toml's [env.production] says. */
export interface ProductionNeeds {
	worker: string;
	queues: string[];
	secrets: string[];
}

export interface Step {
	title: string;
	/** The command as a person would type it. */
	shown: string;
	/** What runs: the command and its arguments. */
	command: string[];
	/** Wrangler arguments whose answer says the step is already done (checked, quietly, before running). */
	check?: { args: string[]; done: (exitCode: number, stdout: string) => boolean };
}

export function productionSteps(needs: ProductionNeeds, options: Pick<SetupOptions, "skipDeploy">): Step[] {
	const wrangler = (...args: string[]): string[] => [process.execPath, WRANGLER_JS, ...args];
	const steps: Step[] = [];
	for (const queue of needs.queues) {
		steps.push({
			title: `Queue ${queue}: created unless it exists`,
			shown: `npx wrangler queues create ${queue}`,
			command: wrangler("queues", "create", queue),
			check: { args: ["queues", "info", queue], done: (code) => code === 0 },
		});
	}
	for (const secret of needs.secrets) {
		steps.push({
			title: `Secret ${secret} of the Worker "${needs.worker}": set unless it is set (a long random value, e.g. \`openssl rand -base64 32\`)`,
			shown: `npx wrangler secret put ${secret} --env ${ENV}`,
			command: wrangler("secret", "put", secret, "--env", ENV),
			check: {
				args: ["secret", "list", "--env", ENV, "--format", "json"],
				done: (code, stdout) => code === 0 && secretListed(stdout, secret),
			},
		});
	}
	if (!options.skipDeploy) {
		steps.push({
			title: "The page script public/app.js (a build output, not in git)",
			shown: "npm run build:client",
			command: [process.execPath, join(ROOT, "scripts/build-client.mjs")],
		});
		steps.push({
			title: `Deploy the Worker "${needs.worker}"`,
			shown: `npx wrangler deploy --env ${ENV}`,
			command: wrangler("deploy", "--env", ENV),
		});
	}
	return steps;
}

function secretListed(stdout: string, name: string): boolean {
	try {
		const listed = JSON.parse(stdout) as unknown;
		return Array.isArray(listed) && listed.some((entry) => (entry as { name?: unknown } | null)?.name === name);
	} catch {
		return false;
	}
}

/** The production Worker's name, queues and required secrets, from wrangler.toml. */
export async function readProductionNeeds(configPath: string = join(ROOT, "wrangler.toml")): Promise<ProductionNeeds> {
	const { experimental_readRawConfig } = await import("wrangler");
	const production = experimental_readRawConfig({ config: configPath }).rawConfig.env?.[ENV];
	if (production?.name === undefined) throw new Error(`${configPath} has no [env.${ENV}] with a name`);
	const queues = new Set<string>();
	for (const producer of production.queues?.producers ?? []) queues.add(producer.queue);
	for (const consumer of production.queues?.consumers ?? []) {
		queues.add(consumer.queue);
		if (consumer.dead_letter_queue !== undefined) queues.add(consumer.dead_letter_queue);
	}
	return { worker: production.name, queues: [...queues], secrets: production.secrets?.required ?? [] };
}

async function exitCodeOf(command: string[], quiet: boolean): Promise<{ code: number; stdout: string }> {
	const [file, ...args] = command;
	const child = spawn(file ?? process.execPath, args, { cwd: ROOT, stdio: quiet ? ["ignore", "pipe", "ignore"] : "inherit" });
	let stdout = "";
	child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
	const code = await new Promise<number>((done) => {
		child.once("error", () => done(127));
		child.once("close", (exit) => done(exit ?? 1));
	});
	return { code, stdout };
}

if (import.meta.main) {
	const options = orExit(parseSetupArgs(process.argv.slice(2)), USAGE);
	const needs = await readProductionNeeds();
	const steps = productionSteps(needs, options);
	console.log(
		`Production setup for the Worker "${needs.worker}" ([env.${ENV}] in wrangler.toml), ${steps.length} steps.` +
			(options.dryRun ? " Dry run: nothing is run." : ""),
	);
	for (const [index, step] of steps.entries()) {
		console.log(`\n${index + 1}. ${step.title}\n   ${step.shown}`);
		if (options.dryRun) continue;
		if (step.check !== undefined) {
			const answer = await exitCodeOf([process.execPath, WRANGLER_JS, ...step.check.args], true);
			if (step.check.done(answer.code, answer.stdout)) {
				console.log("   already done, kept");
				continue;
			}
		}
		const { code } = await exitCodeOf(step.command, false);
		if (code !== 0) {
			console.error(
				`\nStep ${index + 1} failed (exit ${code}): ${step.shown}\nFix the cause and run \`npm run setup:production\` again; finished steps are skipped.`,
			);
			process.exit(1);
		}
	}
	console.log(
		options.dryRun
			? "\nNothing was changed."
			: `\nDone: the Worker "${needs.worker}" is set up${options.skipDeploy ? " (not deployed: --skip-deploy)" : " and deployed"}.`,
	);
}
