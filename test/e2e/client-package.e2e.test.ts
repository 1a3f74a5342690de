/**
 * The client as a team installs it: `npm pack -w client` makes a tarball, a fresh project
 * installs it (nothing else from this repo), type-checks a plain TypeScript app and a React app
 * against its declarations, runs the plain app in Node 22 and the React app in Chromium, both
 * against the real `wrangler dev`.
 */
import { execFile, execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as esbuild from "esbuild";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserMissing, launchChromium, watchPage } from "../support/browser.ts";
import { type DevServer, PROJECT_ROOT, startDevServer } from "../support/dev-server.ts";

const run = promisify(execFile);
const FIXTURE = join(PROJECT_ROOT, "test/e2e/fixtures/client-consumer");
const NODE = process.execPath;
/** Packages the consumer takes from this checkout instead of the registry (tests stay offline). */
const LINKED = ["react", "react-dom", "scheduler", "@types/react", "@types/react-dom", "@types/node", "undici-types"];

let work: string;
let project: string;
let tarball: string;
let server: DevServer;

/** npm as the repo runs it: Node 22, quiet, never asking the network for what it has. */
async function npm(args: string[], cwd: string): Promise<string> {
	const { stdout } = await run("npm", args, {
		cwd,
		env: { ...process.env, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" },
		maxBuffer: 16 * 1024 * 1024,
	});
	return stdout;
}

beforeAll(async () => {
	work = mkdtempSync(join(tmpdir(), "parley-pack-"));
	// prepack builds the package first and says so on stdout, ahead of the JSON.
	const output = await npm(["pack", "-w", "client", "--pack-destination", work, "--json"], PROJECT_ROOT);
	const packed = JSON.parse(output.slice(output.indexOf("["))) as Array<{ filename: string }>;
	const entry = packed[0];
	if (entry === undefined) throw new Error("npm pack produced nothing");
	tarball = join(work, entry.filename);
	project = join(work, "consumer");
	cpSync(FIXTURE, project, { recursive: true });
	await npm(["install", tarball, "--offline", "--no-save", "--ignore-scripts", "--no-package-lock"], project);
	// After the install, which would prune anything it did not put there itself.
	mkdirSync(join(project, "node_modules/@types"), { recursive: true });
	for (const name of LINKED) symlinkSync(join(PROJECT_ROOT, "node_modules", name), join(project, "node_modules", name));
	server = await startDevServer();
}, 180_000);

afterAll(async () => {
	await server?.stop();
	if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("the packed @parley/client", () => {
	it("holds the built package and nothing of the repo's sources", () => {
		const listing = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })
			.split("\n")
			.filter((line) => line.length > 0);
		expect(listing).toContain("package/dist/index.js");
		expect(listing).toContain("package/dist/index.d.ts");
		expect(listing).toContain("package/dist/react.d.ts");
		expect(listing).toContain("package/dist/wire/protocol.d.ts");
		expect(listing).toContain("package/README.md");
		expect(listing.filter((path) => path.endsWith(".ts") && !path.endsWith(".d.ts"))).toEqual([]);
		const installed = join(project, "node_modules/@parley/client");
		const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as {
			name: string;
			peerDependenciesMeta: unknown;
		};
		expect(manifest.name).toBe("@parley/client");
		expect(manifest.peerDependenciesMeta).toEqual({ react: { optional: true } });
		// Nothing under dist/ reaches outside it, in code or in types.
		for (const file of walk(join(installed, "dist"))) {
			const text = readFileSync(file, "utf8");
			expect(text, file).not.toMatch(/^(?:import|export)\b[^;]*?\bfrom\s*"(?!\.\/|\.\.\/|react"|node:)[^"]*"/m);
			expect(text, file).not.toMatch(/^(?:import|export)\b[^;]*?\bfrom\s*"[^"]*\/src\//m);
		}
	});

	it("type-checks a plain TypeScript app and a React app against its declarations, and refuses misuse", async () => {
		const tsc = join(PROJECT_ROOT, "node_modules/typescript/bin/tsc");
		const result = await run(NODE, [tsc, "-p", project]).then(
			() => "",
			(error: { stdout?: string }) => error.stdout ?? String(error),
		);
		expect(result).toBe("");
	});

	it("runs in Node 22: a guest sends, another receives it, and a blank send is refused", async () => {
		const { stdout } = await run(NODE, [join(project, "app.ts"), server.url, room("node"), join(work, "outbox")], { cwd: project });
		expect(JSON.parse(stdout)).toEqual({ seq: 1, text: "hello from node", from: "alice", refused: "bad_request" });
	});

	it("installs the terminal client as a bin", async () => {
		const { stdout } = await run(NODE, [join(project, "node_modules/.bin/parley-chat"), "--help"]);
		expect(stdout).toMatch(/--room/);
	});
});

describe.skipIf(browserMissing)("the packed React hook in Chromium", () => {
	let browser: Browser;
	/** The app's own little web server on loopback, as a team would host its front end. */
	let app: { url: string; close(): Promise<void> };

	beforeAll(async () => {
		const built = await esbuild.build({
			absWorkingDir: project,
			entryPoints: ["ui.tsx"],
			bundle: true,
			write: false,
			format: "esm",
			jsx: "automatic",
			define: { "process.env.NODE_ENV": '"development"' },
			logLevel: "silent",
		});
		const bundle = built.outputFiles[0]?.text ?? "";
		const http = createServer((request, response) => {
			const script = request.url?.startsWith("/ui.js") === true;
			response.writeHead(200, { "content-type": script ? "text/javascript" : "text/html" });
			response.end(script ? bundle : '<!doctype html><div id="root"></div><script type="module" src="/ui.js"></script>');
		});
		await new Promise<void>((listening) => http.listen(0, "127.0.0.1", listening));
		const address = http.address() as AddressInfo;
		app = { url: `http://127.0.0.1:${address.port}`, close: () => new Promise((closed) => http.close(() => closed())) };
		browser = await launchChromium();
	});

	afterAll(async () => {
		await browser?.close();
		await app?.close();
	});

	it("goes live, shows who is online, sends, and renders messages from others in seq order", async () => {
		const name = room("react");
		const page = await browser.newPage();
		const problems: string[] = [];
		watchPage(page, problems);
		await page.goto(`${app.url}/index.html?room=${name}&server=${encodeURIComponent(server.url)}`);
		await page
			.locator("#state", { hasText: "live" })
			.waitFor({ timeout: 15_000 })
			.catch((error: unknown) => {
				throw new Error(`the React app did not go live: ${problems.join("; ") || "no console errors"}`, { cause: error });
			});
		await page.locator("#online", { hasText: "carol" }).waitFor();

		await page.locator("#send").click();
		await page.locator("#sent", { hasText: "1" }).waitFor();
		await run(NODE, [join(project, "app.ts"), server.url, name, join(work, "outbox-react")], { cwd: project });
		await page.locator("#messages li", { hasText: "alice: hello from node" }).waitFor();

		const rows = await page
			.locator("#messages li")
			.evaluateAll((items) => items.map((li) => `${li.getAttribute("data-seq")} ${li.textContent}`));
		expect(rows).toEqual(["1 carol: hello from react", "2 alice: hello from node"]);
		expect(await page.locator("#queue").textContent()).toBe("0");
		// StrictMode mounted the hook twice; the first client was closed, so carol is online once.
		expect(await page.locator("#online").textContent()).toBe("carol");
		expect(problems).toEqual([]);
		await page.close();
	});
});

function room(kind: string): string {
	return `pkg-${kind}-${crypto.randomUUID().slice(0, 8)}`;
}

function walk(dir: string): string[] {
	return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
		entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
	);
}
