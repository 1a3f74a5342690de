/**
 * Builds the `@parley/client` package into client/dist: ESM bundles made by esbuild and
 * declarations emitted by tsc, both self-contained. Runs on `npm pack -w client` (prepack) and
 * `npm run build:package`.
 *
 * The client is written against the same wire modules as the server (src/protocol.ts and the
 * pure modules it needs). They are bundled into the JavaScript and their declarations are
 * copied to dist/wire/, so the package reaches nothing outside itself. Any other import from
 * outside client/ fails the build: that would be server code leaking into the package.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import * as esbuild from "esbuild";

const ROOT = resolve(import.meta.dirname, "..");
const CLIENT = join(ROOT, "client");
const DIST = join(CLIENT, "dist");
const TYPES_TMP = join(ROOT, "node_modules/.cache/parley-client-types");

/** Public entry points (package.json `exports`), plus the terminal client (`bin`). */
const ENTRIES = ["index", "react", "protocol", "storage-file"] as const;
const BIN = "cli";
/** The shared modules outside client/ that the package may include: wire shapes and pure rules. */
const WIRE = new Set([
	"src/protocol.ts",
	"src/errors.ts",
	"src/token-bucket.ts",
	"src/emoji.ts",
	"scripts/args.ts",
	// v1.4: the inbox's wire shapes (InboxClient), and the saga types they name (declarations only).
	"src/inbox-protocol.ts",
	"src/saga/types.ts",
	// The inbox's pure rules: the client sorts the room list with the server's own order.
	"src/inbox-rules.ts",
]);
/** What the built JavaScript may import besides its own files. */
const EXTERNAL = ["react", "node:*"];
/** A module specifier in an import or export statement (not in comments), or in `import("…")`. */
const IMPORT_SPECIFIER = /(^(?:import|export)\b[^;]*?\bfrom\s*|^import\s*|\bimport\()"([^"]+)"/gm;

function fail(message: string): never {
	console.error(`build-client-package: ${message}`);
	process.exit(1);
}

function filesUnder(dir: string): string[] {
	return readdirSync(dir).flatMap((name) => {
		const path = join(dir, name);
		return statSync(path).isDirectory() ? filesUnder(path) : [path];
	});
}

async function bundle(): Promise<void> {
	const result = await esbuild.build({
		absWorkingDir: ROOT,
		entryPoints: [...ENTRIES, BIN].map((name) => `client/${name}.ts`),
		outdir: DIST,
		bundle: true,
		splitting: true,
		format: "esm",
		platform: "neutral",
		// Node 22, Workers and browsers of the last few years.
		target: ["es2022", "node22", "chrome100", "firefox100", "safari16"],
		external: EXTERNAL,
		chunkNames: "chunks/[name]-[hash]",
		legalComments: "none",
		logLevel: "warning",
		metafile: true,
	});
	for (const input of Object.keys(result.metafile.inputs)) {
		if (input.startsWith("client/") || WIRE.has(input)) continue;
		fail(`the package would bundle ${input}, which is not client code or a wire module`);
	}
	const cli = join(DIST, `${BIN}.js`);
	writeFileSync(cli, `#!/usr/bin/env node\n${readFileSync(cli, "utf8")}`);
	chmodSync(cli, 0o755);
}

/** Declarations for every public entry, with `../src/x.ts` moved to `./wire/x.js`. */
function declarations(): void {
	rmSync(TYPES_TMP, { recursive: true, force: true });
	const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
	const run = spawnSync(process.execPath, [tsc, "-p", join(CLIENT, "tsconfig.build.json"), "--outDir", TYPES_TMP], { stdio: "inherit" });
	if (run.status !== 0) fail("tsc failed (see above)");
	for (const file of filesUnder(TYPES_TMP)) {
		const source = relative(TYPES_TMP, file).replace(/\.d\.ts$/, ".ts");
		let target: string;
		if (source.startsWith("client/")) target = join(DIST, source.slice("client/".length));
		else if (WIRE.has(source)) target = join(DIST, "wire", source.slice(source.indexOf("/") + 1));
		else fail(`the declarations reach ${source}, which is not client code or a wire module`);
		const text = readFileSync(file, "utf8").replace(IMPORT_SPECIFIER, (_match, keyword: string, specifier: string) => {
			if (!specifier.startsWith(".")) return `${keyword}"${specifier}"`;
			const resolved = relative(ROOT, resolve(dirname(join(ROOT, source)), specifier));
			const path = resolved.startsWith("client/")
				? resolved.slice("client/".length)
				: `wire/${resolved.slice(resolved.indexOf("/") + 1)}`;
			let spec = relative(dirname(relative(DIST, target)), path).replace(/\.ts$/, ".js");
			if (!spec.startsWith(".")) spec = `./${spec}`;
			return `${keyword}"${spec}"`;
		});
		mkdirSync(dirname(target), { recursive: true });
		writeFileSync(target.replace(/\.ts$/, ".d.ts"), text);
	}
	rmSync(TYPES_TMP, { recursive: true, force: true });
}

/** Every import in the output resolves inside dist/ or to an allowed external. */
function verify(): void {
	for (const file of filesUnder(DIST)) {
		if (!/\.(js|d\.ts)$/.test(file)) continue;
		const text = readFileSync(file, "utf8");
		for (const match of text.matchAll(IMPORT_SPECIFIER)) {
			const specifier = match[2] ?? "";
			if (specifier.startsWith(".")) {
				const target = resolve(dirname(file), specifier.replace(/\.js$/, file.endsWith(".d.ts") ? ".d.ts" : ".js"));
				if (!target.startsWith(DIST) || !statSync(target, { throwIfNoEntry: false })) {
					fail(`${relative(ROOT, file)} imports ${specifier}, which is not in dist/`);
				}
			} else if (!(specifier === "react" || specifier.startsWith("node:"))) {
				fail(`${relative(ROOT, file)} imports ${specifier}, which the package does not provide`);
			}
		}
	}
}

rmSync(DIST, { recursive: true, force: true });
await bundle();
declarations();
verify();
const files = filesUnder(DIST);
const bytes = files.reduce((sum, file) => sum + statSync(file).size, 0);
console.log(
	`build-client-package: client/dist (${files.length} files, ${(bytes / 1024).toFixed(1)} KiB): ${ENTRIES.join(", ")}, bin ${BIN}`,
);
