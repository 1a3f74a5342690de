/**
 * Starts the real `wrangler dev` on a free loopback port for end-to-end tests, and stops it.
 * Runs in Node (not in workerd). Each server gets its own `--persist-to` folder unless one
 * is given, so a test can kill a runtime and start another on the same state. The runtime
 * signs and checks tokens with TEST_AUTH_SECRET, never the developer's `.dev.vars`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { testSecretForWrangler } from "../../scripts/test-secret.ts";

export const PROJECT_ROOT = resolve(import.meta.dirname, "../..");

export interface DevServer {
	url: string;
	wsUrl: string;
	port: number;
	persistTo: string;
	process: ChildProcess;
	/** Everything wrangler printed so far, for failure messages. */
	output(): string;
	/** SIGTERM, then SIGKILL after a grace period. */
	stop(): Promise<void>;
	/** SIGKILL the whole process group at once, as a crash would. */
	kill(): Promise<void>;
}

export interface DevServerOptions {
	vars?: Record<string, string>;
	persistTo?: string;
	timeoutMs?: number;
}

export async function freePort(): Promise<number> {
	return await new Promise((resolvePort, reject) => {
		const server = createServer();
		server.unref();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			if (address === null || typeof address === "string") {
				reject(new Error("no port"));
				return;
			}
			const { port } = address;
			server.close(() => resolvePort(port));
		});
	});
}

/**
 * A free port is only free until someone takes it: another runtime starting at the same moment
 * can bind the one we were given. Such a start is retried on new ports; any other failure is not.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
	return await withFreshPorts(() => startOnce(options));
}

/** A runtime that exited because its port was taken. */
export class PortTaken extends Error {}

/** The error for a runtime that exited early: PortTaken when it lost its port. */
export function exitedEarly(log: string): Error {
	const Failure = /Address already in use/.test(log) ? PortTaken : Error;
	return new Failure(`wrangler dev exited early:\n${log}`);
}

/** Runs `start` (which picks its ports), again on new ports while it fails with PortTaken, three times at most. */
export async function withFreshPorts<T>(start: () => Promise<T>): Promise<T> {
	for (let attempt = 1; ; attempt++) {
		try {
			return await start();
		} catch (error) {
			if (attempt >= 3 || !(error instanceof PortTaken)) throw error;
		}
	}
}

async function startOnce(options: DevServerOptions): Promise<DevServer> {
	const port = await freePort();
	const inspector = await freePort();
	const persistTo = options.persistTo ?? mkdtempSync(join(tmpdir(), "parley-e2e-"));
	const vars = { RATE_LIMIT_PER_SEC: "0", ...options.vars };
	const secret = testSecretForWrangler();
	const args = [
		"wrangler",
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
	const child = spawn("npx", args, {
		cwd: PROJECT_ROOT,
		detached: true,
		stdio: ["ignore", "pipe", "pipe"],
		env: { ...process.env, ...secret.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
	});
	let log = "";
	child.stdout?.on("data", (chunk: Buffer) => (log += chunk.toString()));
	child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
	const url = `http://127.0.0.1:${port}`;
	const exited = new Promise<void>((done) => child.once("exit", () => done()));

	const signalGroup = (signal: NodeJS.Signals): void => {
		try {
			if (child.pid !== undefined) process.kill(-child.pid, signal);
		} catch {
			// Already gone.
		}
	};
	const server: DevServer = {
		url,
		wsUrl: url.replace("http", "ws"),
		port,
		persistTo,
		process: child,
		output: () => log,
		async stop() {
			signalGroup("SIGTERM");
			const timer = setTimeout(() => signalGroup("SIGKILL"), 5000);
			await exited;
			clearTimeout(timer);
		},
		async kill() {
			signalGroup("SIGKILL");
			await exited;
		},
	};

	const deadline = Date.now() + (options.timeoutMs ?? 60_000);
	while (Date.now() < deadline) {
		if (child.exitCode !== null) throw exitedEarly(log);
		try {
			const response = await fetch(`${url}/health`);
			// Healthy, and ours: a runtime that lost the port to another one has exited by now.
			if (response.ok && child.exitCode === null) return server;
		} catch {
			// Not listening yet.
		}
		await new Promise((r) => setTimeout(r, 250));
	}
	await server.kill();
	throw new Error(`wrangler dev did not become healthy in time:\n${log}`);
}
