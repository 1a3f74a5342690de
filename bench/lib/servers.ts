/**
 * The servers under test and how to start each on a given path. Every server accepts the
 * same socket URL and `send` frame, so the load generator never branches on which one it
 * talks to, except for how a sender knows a message was accepted (`acks`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnGroup, waitHealthy } from "./proc.ts";
import { PROJECT_ROOT, bundleWorker, startMiniflare, startWranglerDev, type WorkerSpec } from "./workers.ts";

/** How clients reach the server: Miniflare API (straight to workerd), `wrangler dev`, or plain Node. */
export type PathName = "miniflare" | "wrangler" | "node";
export type ServerName = "parley" | "bare" | "naive" | "party" | "node-ws";

export interface ServerDef {
	name: ServerName;
	label: string;
	/** Parley acks after commit; baselines don't, so their senders count their own echo instead. */
	acks: boolean;
	/** Supports `crossPost` (only Parley). */
	crossPost: boolean;
	/** Absent for the Node server. */
	worker?: WorkerSpec;
}

const baseline = (name: "bare" | "naive" | "party"): WorkerSpec => ({
	name,
	config: join(PROJECT_ROOT, "bench/servers", name, "wrangler.jsonc"),
	vars: {},
});

export const SERVERS: readonly ServerDef[] = [
	{
		name: "parley",
		label: "Parley",
		acks: true,
		crossPost: true,
		// The real Worker from the project's wrangler.toml (top level, the Worker `parley-dev`),
		// with the per-socket rate limit off and the test secret.
		worker: { name: "parley", config: join(PROJECT_ROOT, "wrangler.toml"), vars: { RATE_LIMIT_PER_SEC: "0" }, testSecret: true },
	},
	{ name: "bare", label: "bare DO", acks: false, crossPost: false, worker: baseline("bare") },
	{ name: "naive", label: "naive durable DO", acks: false, crossPost: false, worker: baseline("naive") },
	{ name: "party", label: "PartyServer", acks: false, crossPost: false, worker: baseline("party") },
	{ name: "node-ws", label: "Node ws (in-memory)", acks: false, crossPost: false },
];

export interface RunningServer {
	def: ServerDef;
	path: PathName;
	httpUrl: string;
	wsUrl: string;
	/** The Miniflare persistence folder (DO SQLite files live under `do/`); only on that path. */
	persistDir: string | undefined;
	pids(): number[];
	stop(): Promise<void>;
}

/** Bundles every Worker once per run (Miniflare serves the bundle; wrangler dev builds its own). */
export async function bundleAll(defs: readonly ServerDef[], outRoot: string): Promise<Map<ServerName, string | Error>> {
	const bundles = new Map<ServerName, string | Error>();
	for (const def of defs) {
		if (def.worker === undefined) continue;
		try {
			bundles.set(def.name, await bundleWorker(def.worker, join(outRoot, def.name)));
		} catch (error) {
			bundles.set(def.name, error instanceof Error ? error : new Error(String(error)));
		}
	}
	return bundles;
}

export async function startServer(def: ServerDef, path: PathName, bundles: Map<ServerName, string | Error>): Promise<RunningServer> {
	const port = await freePort();
	const persistDir = mkdtempSync(join(tmpdir(), `parley-bench-${def.name}-`));
	const cleanup = (): void => rmSync(persistDir, { recursive: true, force: true });
	const finish = (httpUrl: string, pids: () => number[], stop: () => Promise<void>): RunningServer => ({
		def,
		path,
		httpUrl,
		wsUrl: httpUrl.replace(/^http/, "ws"),
		persistDir: path === "miniflare" ? persistDir : undefined,
		pids,
		async stop() {
			await stop();
			cleanup();
		},
	});
	try {
		if (def.worker === undefined) {
			const script = join(PROJECT_ROOT, "bench/servers/node-ws/server.ts");
			const child = spawnGroup(process.execPath, [script, "--port", String(port)]);
			const httpUrl = `http://127.0.0.1:${port}`;
			await waitHealthy(`${httpUrl}/health`, child, 15_000).catch(async (error: unknown) => {
				await child.stop();
				throw error;
			});
			const pid = child.process.pid;
			return finish(
				httpUrl,
				() => (pid === undefined ? [] : [pid]),
				() => child.stop(),
			);
		}
		if (path === "miniflare") {
			const bundle = bundles.get(def.name);
			if (bundle === undefined || bundle instanceof Error) throw bundle ?? new Error(`${def.name} was not bundled`);
			const worker = await startMiniflare(def.worker, bundle, port, persistDir);
			return finish(worker.httpUrl, worker.pids, worker.stop);
		}
		const worker = await startWranglerDev(def.worker, port, await freePort(), persistDir);
		return finish(worker.httpUrl, worker.pids, worker.stop);
	} catch (error) {
		cleanup();
		throw error;
	}
}
