/**
 * `npm run dev`: the Worker on http://127.0.0.1:8787 with local state, guests allowed.
 *
 *   npm run dev [-- <more wrangler dev options, e.g. --var NAME:VALUE>]
 *
 * AUTH_SECRET is a required secret (wrangler.toml) and no config holds a value for it. On
 * the first run this writes a random one to the gitignored `.dev.vars`, where `wrangler dev`
 * and `npm run token` read it; an existing `.dev.vars` is never changed. Then it runs
 * `wrangler dev` without fetching `request.cf` from Cloudflare (Parley does not use it).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseEnv } from "node:util";

const ROOT = resolve(import.meta.dirname, "..");
export const DEV_VARS = join(ROOT, ".dev.vars");
const WRANGLER_JS = join(ROOT, "node_modules/wrangler/bin/wrangler.js");

/** AUTH_SECRET from a `.dev.vars` file, or undefined when the file or the key is missing or empty. */
export function readDevVarsSecret(path: string): string | undefined {
	if (!existsSync(path)) return undefined;
	return parseEnv(readFileSync(path, "utf8")).AUTH_SECRET || undefined;
}

/**
 * Creates `path` with a random AUTH_SECRET (32 bytes from the OS's CSPRNG, base64url) unless
 * it exists; an existing file is kept as it is, whatever it holds. Says what it did in one line.
 */
export function ensureDevVars(path: string = DEV_VARS, say: (line: string) => void = console.log): "created" | "kept" {
	const shown = relative(process.cwd(), path) || path;
	try {
		// "wx": create only; never overwrites, even if another run creates it at the same moment.
		writeFileSync(
			path,
			`# Local secrets for \`wrangler dev\` (gitignored; never deployed).\nAUTH_SECRET=${randomBytes(32).toString("base64url")}\n`,
			{ flag: "wx", mode: 0o600 },
		);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
		if (readDevVarsSecret(path) === undefined)
			say(`${shown} has no AUTH_SECRET: add a line AUTH_SECRET=<a long random value> (HS256 tokens are refused without it).`);
		return "kept";
	}
	say(`Created ${shown} with a random AUTH_SECRET (crypto-random, local only); npm run token signs with it.`);
	return "created";
}

if (import.meta.main) {
	ensureDevVars();
	const child = spawn(process.execPath, [WRANGLER_JS, "dev", "--ip", "127.0.0.1", "--port", "8787", ...process.argv.slice(2)], {
		cwd: ROOT,
		stdio: "inherit",
		env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false" },
	});
	// Ctrl-C reaches wrangler directly (same terminal); a plain `kill` of this process is passed on.
	for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => child.kill(signal));
	child.once("exit", (code, signal) => process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
}
