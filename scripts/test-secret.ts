/**
 * @module
 * The one AUTH_SECRET of every runtime the project starts for itself: the end-to-end tests'
 * `wrangler dev` (test/support/dev-server.ts), the in-runtime tests (vitest.config.ts), the
 * chaos suite (chaos/lib/server.ts) and the bench (bench/lib/servers.ts). It is public (it is
 * in git), so it is in no wrangler config and never deployed; `npm run dev` signs with a
 * random secret of its own, in the gitignored `.dev.vars` (scripts/dev.ts).
 */
import { renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const TEST_AUTH_SECRET = "parley-test-only-secret-never-deployed";

/**
 * What makes a `wrangler dev` child use TEST_AUTH_SECRET whatever the developer has in
 * `.dev.vars`, `.env` or the shell: `--env-file` with the secret (given an env file, wrangler
 * reads neither `.dev.vars` nor `.env`, and a loaded secret would beat a `--var`), and the
 * same value in the child's environment (wrangler merges process.env over the file).
 */
export function testSecretForWrangler(): { file: string; args: string[]; env: { AUTH_SECRET: string } } {
	// One small file for every run, always the same content; written whole and renamed into
	// place, so a runtime starting meanwhile in another process never reads half of it.
	const file = join(tmpdir(), `parley-test-secret-${process.getuid?.() ?? "user"}.env`);
	const partial = `${file}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
	writeFileSync(partial, `AUTH_SECRET=${TEST_AUTH_SECRET}\n`, { mode: 0o600 });
	renameSync(partial, file);
	return { file, args: ["--env-file", file], env: { AUTH_SECRET: TEST_AUTH_SECRET } };
}
