/**
 * @module
 * Runs `wrangler dev` for the suite, like test/support/dev-server.ts but from any project
 * root (so a deliberately broken copy can be run), with the RSS of its process tree. The
 * runtime checks tokens against TEST_AUTH_SECRET, which chaos/lib/tokens.ts signs with.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testSecretForWrangler } from "../../scripts/test-secret.ts";
import { exitedEarly, freePort, withFreshPorts } from "../../test/support/dev-server.ts";
import { sleep } from "./types.ts";

export interface ServerOptions {
	vars: Record<string, string>;
	/** Reuse this state folder (a restart after a crash); a fresh one otherwise. */
	persistTo?: string;
	/** Run this project instead of the suite's snapshot (the leaks scenario's control). */
	root?: string;
}

export interface ChaosServer {
	url: string;
	wsUrl: string;
	persistTo: string;
	vars: Record<string, string>;
	pid: number;
	output(): string;
	/** SIGKILL the whole process group at once: a crash, no shutdown code runs. */
	kill(): Promise<void>;
	stop(): Promise<void>;
}

/** Starts `wrangler dev`; a start that lost its free port to another runtime is retried on new ones. */
export async function startServer(defaultRoot: string, options: ServerOptions): Promise<ChaosServer> {
	return await withFreshPorts(() => startOnce(defaultRoot, options));
}

async function startOnce(defaultRoot: string, options: ServerOptions): Promise<ChaosServer> {
	const root = options.root ?? defaultRoot;
	const port = await freePort();
	const inspector = await freePort();
	const persistTo = options.persistTo ?? mkdtempSync(join(tmpdir(), "parley-chaos-"));
	// The suite sets every limit it relies on; the rate limit is off unless a scenario wants it.
	const vars = { RATE_LIMIT_PER_SEC: "0", ...options.vars };
	const secret = testSecretForWrangler();
	const args = [
		join(root, "node_modules/wrangler/bin/wrangler.js"),
		"dev",
		"--ip",
		"127.0.0.1",
		"--port",
		String(port),
		"--inspector-port",
		String(inspector),
		"--persist-to",
		persistTo,
		"--show-interactive-dev-session=false",
		"--log-level",
		"warn",
		...secret.args,
		...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
	];
	const child: ChildProcess = spawn(process.execPath, args, {
		cwd: root,
		detached: true,
		stdio: ["ignore", "pipe", "pipe"],
		env: { ...process.env, ...secret.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
	});
	let log = "";
	// Keep the tail only: a long chaos run logs a lot and nobody reads the head.
	const append = (chunk: Buffer): void => {
		log = (log + chunk.toString()).slice(-20_000);
	};
	child.stdout?.on("data", append);
	child.stderr?.on("data", append);
	const exited = new Promise<void>((done) => child.once("exit", () => done()));
	const signal = (name: NodeJS.Signals): void => {
		try {
			if (child.pid !== undefined) process.kill(-child.pid, name);
		} catch {
			// Already gone.
		}
	};
	const url = `http://127.0.0.1:${port}`;
	const server: ChaosServer = {
		url,
		wsUrl: url.replace("http", "ws"),
		persistTo,
		vars,
		pid: child.pid ?? -1,
		output: () => log,
		async kill() {
			signal("SIGKILL");
			await exited;
		},
		async stop() {
			signal("SIGTERM");
			const timer = setTimeout(() => signal("SIGKILL"), 5000);
			await exited;
			clearTimeout(timer);
		},
	};
	const deadline = Date.now() + 90_000;
	while (Date.now() < deadline) {
		if (child.exitCode !== null) throw exitedEarly(log);
		try {
			if ((await fetch(`${url}/health`)).ok) return server;
		} catch {
			// Not listening yet.
		}
		await sleep(200);
	}
	await server.kill();
	throw new Error(`wrangler dev did not become healthy:\n${log}`);
}
