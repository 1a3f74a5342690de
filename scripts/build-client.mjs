/**
 * Bundles the chat page (client/page.ts + the client library) into public/app.js, which the
 * Worker serves as a static asset. Runs on `npm install` (prepare) and `npm run build:client`.
 *
 *   node scripts/build-client.mjs           minified, for serving and deploying
 *   node scripts/build-client.mjs --dev     with an inline source map
 *   node scripts/build-client.mjs --watch   rebuild on change (implies --dev)
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const watch = args.has("--watch");
const dev = watch || args.has("--dev");

let esbuild;
try {
	esbuild = await import("esbuild");
} catch {
	// esbuild is a devDependency; without it (e.g. `npm ci --omit=dev`) say what to do.
	console.error("build-client: esbuild is not installed; run `npm install` (with dev dependencies) first");
	process.exit(1);
}

/** @type {import("esbuild").BuildOptions} */
const options = {
	absWorkingDir: root,
	entryPoints: ["client/page.ts"],
	outfile: "public/app.js",
	bundle: true,
	format: "esm",
	platform: "browser",
	// Browsers of the last few years: private fields, ??=, top-level await are all native.
	target: ["es2022", "chrome100", "firefox100", "safari16"],
	minify: !dev,
	sourcemap: dev ? "inline" : false,
	legalComments: "none",
	logLevel: "warning",
};

if (watch) {
	const context = await esbuild.context(options);
	await context.watch();
	console.log("build-client: watching client/ for changes");
} else {
	const result = await esbuild.build({ ...options, metafile: true });
	const bytes = result.metafile.outputs["public/app.js"]?.bytes ?? 0;
	console.log(`build-client: public/app.js (${(bytes / 1024).toFixed(1)} KiB)`);
}
