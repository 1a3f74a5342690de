/**
 * Runs a Worker (Parley or a bench baseline) on loopback in one of two ways:
 *  - "miniflare": the Worker is bundled once by `wrangler deploy --dry-run`, its bindings are
 *    read from its own wrangler config (`unstable_getMiniflareWorkerOptions`, so queues or
 *    new bindings in wrangler.toml are picked up without touching the bench), and it is
 *    served by the Miniflare API: clients talk straight to workerd's socket.
 *  - "wrangler": `wrangler dev`, which puts wrangler's dev proxy in front of workerd. This is
 *    the developer experience, and it costs a lot: both figures are reported, labelled.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { convertV4MiniflareOptions, Miniflare, type Json } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { TEST_AUTH_SECRET, testSecretForWrangler } from "../../scripts/test-secret.ts";
import { ownChildrenNamed, spawnGroup, waitHealthy, type Child } from "./proc.ts";

export const PROJECT_ROOT = resolve(import.meta.dirname, "../..");
const WRANGLER_JS = join(PROJECT_ROOT, "node_modules/wrangler/bin/wrangler.js");
const QUIET_ENV = { CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };

export interface WorkerSpec {
	/** Short name, also the bundle folder under bench/out. */
	name: string;
	/** Absolute path of the Worker's wrangler config. */
	config: string;
	/** Variables overriding the config's `vars` (e.g. RATE_LIMIT_PER_SEC=0). */
	vars: Record<string, string>;
	/**
	 * The Worker requires AUTH_SECRET (Parley): it gets TEST_AUTH_SECRET, never the developer's
	 * `.dev.vars`, and without wrangler's "Missing required secrets" warning.
	 */
	testSecret?: boolean;
}

export interface RunningWorker {
	httpUrl: string;
	/** Processes whose RSS is the server's memory (workerd, or wrangler and its children). */
	pids(): number[];
	stop(): Promise<void>;
}

/** Bundles a Worker with wrangler exactly as a deploy would, into `outDir/index.js`. */
export async function bundleWorker(spec: WorkerSpec, outDir: string): Promise<string> {
	mkdirSync(outDir, { recursive: true });
	const child = spawnGroup(
		process.execPath,
		[WRANGLER_JS, "deploy", "--dry-run", "--config", spec.config, "--outdir", outDir],
		QUIET_ENV,
	);
	const code = await new Promise<number | null>((done) => child.process.once("exit", (exit) => done(exit)));
	const script = join(outDir, "index.js");
	if (code !== 0 || !existsSync(script)) {
		throw new Error(`bundling ${spec.name} failed (exit ${code}):\n${child.output().slice(-2000)}`);
	}
	return script;
}

type ModuleType = "ESModule" | "Text" | "Data" | "CompiledWasm";

/**
 * Every file wrangler emitted next to the bundle, as Miniflare modules: the bundle imports
 * non-JS files (e.g. Parley's `.sql` migrations) as separate modules, and Miniflare's module
 * rules cannot be passed through its v4 options converter, so they are listed explicitly.
 */
function bundleModules(script: string): { type: ModuleType; path: string }[] {
	const dir = dirname(script);
	const modules: { type: ModuleType; path: string }[] = [{ type: "ESModule", path: script }];
	for (const file of readdirSync(dir)) {
		const path = join(dir, file);
		if (path === script || file === "README.md" || file.endsWith(".map")) continue;
		const ext = extname(file);
		const type: ModuleType =
			ext === ".js" || ext === ".mjs" ? "ESModule" : ext === ".wasm" ? "CompiledWasm" : ext === ".bin" ? "Data" : "Text";
		modules.push({ type, path });
	}
	return modules;
}

/** Serves a bundled Worker through the Miniflare API on `port`, persisting to `persistDir`. */
export async function startMiniflare(spec: WorkerSpec, script: string, port: number, persistDir: string): Promise<RunningWorker> {
	// `envFiles` (read instead of .dev.vars and .env) is honoured though not in the declared options.
	const envFiles = spec.testSecret === true ? { envFiles: [testSecretForWrangler().file] } : {};
	const { workerOptions } = unstable_getMiniflareWorkerOptions(
		spec.config,
		undefined,
		envFiles as Parameters<typeof unstable_getMiniflareWorkerOptions>[2],
	);
	const secrets: Record<string, string> = spec.testSecret === true ? { AUTH_SECRET: TEST_AUTH_SECRET } : {};
	const before = new Set(ownChildrenNamed("workerd"));
	const mf = new Miniflare(
		convertV4MiniflareOptions({
			...workerOptions,
			modulesRules: undefined,
			modules: bundleModules(script),
			modulesRoot: dirname(script),
			bindings: { ...(workerOptions.bindings as Record<string, Json> | undefined), ...secrets, ...spec.vars },
			host: "127.0.0.1",
			port,
			resourcePersistencePath: persistDir,
			// Worker logs would interleave with the report on stdout: keep warnings and errors only, on stderr.
			handleStructuredLogs: ({ level, message }) => {
				if (level === "error" || level === "warn") process.stderr.write(`[workerd ${spec.name}] ${message}\n`);
			},
		}),
	);
	try {
		await mf.ready;
	} catch (error) {
		await mf.dispose().catch(() => undefined);
		throw error;
	}
	const workerd = ownChildrenNamed("workerd").filter((pid) => !before.has(pid));
	const httpUrl = `http://127.0.0.1:${port}`;
	await waitHealthy(`${httpUrl}/health`, undefined, 15_000);
	return { httpUrl, pids: () => workerd, stop: () => mf.dispose() };
}

/** Runs `wrangler dev` for the Worker's config on `port`. */
export async function startWranglerDev(spec: WorkerSpec, port: number, inspectorPort: number, persistDir: string): Promise<RunningWorker> {
	const secret = spec.testSecret === true ? testSecretForWrangler() : { args: [], env: {} };
	const args = [
		WRANGLER_JS,
		"dev",
		"--config",
		spec.config,
		"--ip",
		"127.0.0.1",
		"--port",
		String(port),
		"--inspector-port",
		String(inspectorPort),
		"--persist-to",
		persistDir,
		"--show-interactive-dev-session=false",
		"--log-level",
		"warn",
		...secret.args,
		...Object.entries(spec.vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
	];
	const child: Child = spawnGroup(process.execPath, args, { ...QUIET_ENV, ...secret.env });
	const httpUrl = `http://127.0.0.1:${port}`;
	try {
		await waitHealthy(`${httpUrl}/health`, child, 60_000);
	} catch (error) {
		await child.stop();
		throw error;
	}
	const pid = child.process.pid;
	return { httpUrl, pids: () => (pid === undefined ? [] : [pid]), stop: () => child.stop() };
}
