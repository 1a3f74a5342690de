/**
 * The servers under test and how to start each on a given path. Every server accepts the
 * same socket URL and `send` frame, so the load generator never branches on which one it
 * talks to, except for how a sender knows a message was accepted (`acks`).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Child, freePort, spawnGroup, waitHealthy } from "./proc.ts";
import { PROJECT_ROOT, bundleWorker, startMiniflare, startWranglerDev, type WorkerSpec } from "./workers.ts";

/** How clients reach the server: Miniflare API (straight to workerd), `wrangler dev`, or a native process (Node, Go). */
export type PathName = "miniflare" | "wrangler" | "node";
export type ServerName = "parley" | "parley-batch" | "bare" | "naive" | "party" | "node-ws" | "go-durable" | "go-mem";

/** A server that is a process of its own rather than a Worker. */
export interface NativeSpec {
	kind: "node" | "go";
	/** Extra arguments (the Go hub's `-durable`; the SQLite file is added in the server's temp folder). */
	durable?: boolean;
}

export interface ServerDef {
	name: ServerName;
	label: string;
	/** Parley acks after commit; baselines don't, so their senders count their own echo instead. */
	acks: boolean;
	/** Supports `crossPost` (only Parley). */
	crossPost: boolean;
	/** Absent for native servers. */
	worker?: WorkerSpec;
	native?: NativeSpec;
	/** Appended to every socket URL (v1.2 features, e.g. `features=batch,presence`). */
	query?: string;
}

const baseline = (name: "bare" | "naive" | "party"): WorkerSpec => ({
	name,
	config: join(PROJECT_ROOT, "bench/servers", name, "wrangler.jsonc"),
	vars: {},
});

/**
 * The real Worker from the project's wrangler.toml (top level, the Worker `parley-dev`), with
 * the per-user rate limit off, no cap on sockets per user (the one-room scenarios put up to ~95
 * sockets on each of 100 users) and the test secret.
 */
const parleyWorker: WorkerSpec = {
	name: "parley",
	config: join(PROJECT_ROOT, "wrangler.toml"),
	vars: { RATE_LIMIT_PER_SEC: "0", MAX_SOCKETS_PER_USER: "32768" },
	testSecret: true,
	// Like the baselines, which have no static assets (see WorkerSpec.withoutAssets).
	withoutAssets: true,
};

export const SERVERS: readonly ServerDef[] = [
	{ name: "parley", label: "Parley", acks: true, crossPost: true, worker: parleyWorker },
	// The same Worker, with sockets that ask for what the client library asks for by default.
	{
		name: "parley-batch",
		label: "Parley, batched (v1.2)",
		acks: true,
		crossPost: false,
		worker: parleyWorker,
		query: "features=batch,presence",
	},
	{ name: "bare", label: "bare DO", acks: false, crossPost: false, worker: baseline("bare") },
	{ name: "naive", label: "naive durable DO", acks: false, crossPost: false, worker: baseline("naive") },
	{ name: "party", label: "PartyServer", acks: false, crossPost: false, worker: baseline("party") },
	{ name: "node-ws", label: "Node ws (in-memory)", acks: false, crossPost: false, native: { kind: "node" } },
	{ name: "go-durable", label: "Go hub, SQLite group commit", acks: false, crossPost: false, native: { kind: "go", durable: true } },
	{ name: "go-mem", label: "Go hub (in-memory)", acks: false, crossPost: false, native: { kind: "go" } },
];

/** What the Go hubs need on a Debian machine (GOPATH mode, no module downloads). */
export const GO_PACKAGES = "golang-go golang-github-gorilla-websocket-dev golang-github-mattn-go-sqlite3-dev";

/**
 * Builds the Go hub (bench/servers/go/hub.go) in GOPATH mode against Debian's Go packages, or
 * says why it cannot: the Go servers are then skipped with that notice.
 */
export function buildGoHub(outDir: string): string | Error {
	const go = spawnSync("go", ["version"], { encoding: "utf8" });
	if (go.status !== 0) return new Error(`Go is missing (apt-get install -y ${GO_PACKAGES})`);
	const gopath = "/usr/share/gocode";
	if (!existsSync(join(gopath, "src/github.com/gorilla/websocket")) || !existsSync(join(gopath, "src/github.com/mattn/go-sqlite3"))) {
		return new Error(`Go's gorilla/websocket or mattn/go-sqlite3 is missing (apt-get install -y ${GO_PACKAGES})`);
	}
	mkdirSync(outDir, { recursive: true });
	const binary = join(outDir, "hub");
	const build = spawnSync("go", ["build", "-tags", "libsqlite3", "-o", binary, "hub.go"], {
		cwd: join(PROJECT_ROOT, "bench/servers/go"),
		encoding: "utf8",
		env: {
			...process.env,
			GO111MODULE: "off",
			GOPATH: `${gopath}:${join(outDir, "gopath")}`,
			GOCACHE: join(outDir, "cache"),
			GOFLAGS: "",
		},
	});
	if (build.status !== 0) return new Error(`building the Go hub failed: ${(build.stderr || build.stdout).slice(-1000)}`);
	return binary;
}

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
	const byWorker = new Map<string, string | Error>();
	let goHub: string | Error | undefined;
	for (const def of defs) {
		if (def.native?.kind === "go") {
			goHub ??= buildGoHub(join(outRoot, "go"));
			bundles.set(def.name, goHub);
		}
		if (def.worker === undefined) continue;
		// Servers that share a Worker share its bundle.
		let bundle = byWorker.get(def.worker.name);
		if (bundle === undefined) {
			try {
				bundle = await bundleWorker(def.worker, join(outRoot, def.worker.name));
			} catch (error) {
				bundle = error instanceof Error ? error : new Error(String(error));
			}
			byWorker.set(def.worker.name, bundle);
		}
		bundles.set(def.name, bundle);
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
			let child: Child;
			if (def.native?.kind === "go") {
				const binary = bundles.get(def.name);
				if (binary === undefined || binary instanceof Error) throw binary ?? new Error("the Go hub was not built");
				const durable = def.native.durable === true ? ["-durable", "-db", join(persistDir, "events.db")] : [];
				child = spawnGroup(binary, ["-port", String(port), ...durable]);
			} else {
				const script = join(PROJECT_ROOT, "bench/servers/node-ws/server.ts");
				child = spawnGroup(process.execPath, [script, "--port", String(port)]);
			}
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
