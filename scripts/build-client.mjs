/**
 * Bundles the two pages the Worker serves as static assets: the chat page (client/page.ts with
 * the client library) into public/app.js, and the operator console (client/console/main.ts)
 * into public/console/console.js. Neither bundle is committed; this runs on `npm install`
 * (prepare) and `npm run build:client`.
 *
 *   node scripts/build-client.mjs           minified, for serving and deploying
 *   node scripts/build-client.mjs --dev     with inline source maps
 *   node scripts/build-client.mjs --watch   rebuild on change (implies --dev)
 *
 * Both bundles import rules and types from src/; the build fails if either would pull in server
 * code (objects/, a `node:` or `cloudflare:` module, or, for the console, any package).
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const watch = args.has("--watch");
const dev = watch || args.has("--dev");

const PAGE = "public/app.js";
const CONSOLE = "public/console/console.js";

let esbuild;
try {
	esbuild = await import("esbuild");
} catch {
	// esbuild is a devDependency; without it (e.g. `npm ci --omit=dev`) say what to do.
	console.error("build-client: esbuild is not installed; run `npm install` (with dev dependencies) first");
	process.exit(1);
}

/** What in the bundles is not browser code; empty when all is well. */
function serverOnly(metafile) {
	const problems = [];
	for (const [path, input] of Object.entries(metafile.inputs)) {
		if (path.startsWith("objects/")) problems.push(`${path} is Durable Object code`);
		for (const imported of input.imports) {
			if (imported.external || /^(node|cloudflare):/.test(imported.path)) problems.push(`${path} imports ${imported.path}`);
		}
	}
	// The console is its own modules, the shared DOM helpers and the pure parts of src/: a package
	// there means it reached server code.
	for (const path of Object.keys(metafile.outputs[CONSOLE]?.inputs ?? {})) {
		if (!/^(client\/console\/|client\/dom\.ts$|src\/)/.test(path)) problems.push(`the console bundle includes ${path}`);
	}
	return problems;
}

/** Writes a bundle only when it changed, through a rename, so a server never reads half a file. */
async function publish(file) {
	const previous = await readFile(file.path).catch(() => undefined);
	if (previous !== undefined && Buffer.compare(previous, file.contents) === 0) return;
	const temporary = `${file.path}.${process.pid}.tmp`;
	await writeFile(temporary, file.contents);
	await rename(temporary, file.path);
}

let failed = false;

/** @type {import("esbuild").Plugin} */
const checkAndPublish = {
	name: "check-and-publish",
	setup(build) {
		build.onEnd(async (result) => {
			if (result.errors.length > 0 || result.metafile === undefined) return;
			const problems = serverOnly(result.metafile);
			if (problems.length > 0) {
				for (const problem of problems) console.error(`build-client: ${problem}`);
				failed = true;
				return;
			}
			failed = false;
			await Promise.all((result.outputFiles ?? []).map(publish));
			const sizes = [PAGE, CONSOLE].map((out) => `${out} (${((result.metafile.outputs[out]?.bytes ?? 0) / 1024).toFixed(1)} KiB)`);
			console.log(`build-client: ${sizes.join(", ")}`);
		});
	},
};

/** @type {import("esbuild").BuildOptions} */
const options = {
	absWorkingDir: root,
	entryPoints: [
		{ in: "client/page.ts", out: relative("public", PAGE).replace(/\.js$/, "") },
		{ in: "client/console/main.ts", out: relative("public", CONSOLE).replace(/\.js$/, "") },
	],
	outdir: "public",
	bundle: true,
	format: "esm",
	platform: "browser",
	// Browsers of the last few years: private fields, ??=, top-level await are all native.
	target: ["es2022", "chrome100", "firefox100", "safari16"],
	minify: !dev,
	sourcemap: dev ? "inline" : false,
	legalComments: "none",
	logLevel: "warning",
	metafile: true,
	// The plugin checks the bundles before writing them.
	write: false,
	plugins: [checkAndPublish],
};

if (watch) {
	const context = await esbuild.context(options);
	await context.watch();
	console.log("build-client: watching client/ and src/ for changes");
} else {
	await esbuild.build(options).catch(() => process.exit(1));
	if (failed) process.exit(1);
}
