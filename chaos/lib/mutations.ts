/**
 * @module
 * Deliberately broken builds, to show the suite fails when a guarantee is broken. The repo is
 * never touched: a mutation is applied to a throw-away copy of the server's sources (with the
 * repo's node_modules linked in), and `wrangler dev` runs that copy. Each mutation names the
 * exact text it replaces, so a refactor that moves it makes the mutation fail loudly rather
 * than silently produce an unbroken "broken" build.
 */
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Mutation {
	name: string;
	description: string;
	file: string;
	find: string;
	replace: string;
	/** The scenarios that should catch it. */
	caughtBy: string[];
}

export const MUTATIONS: readonly Mutation[] = [
	{
		name: "lose-acked",
		description:
			"acks a send whose write does not survive (what acking before the commit looks like after a crash): about 1 in 15 acked messages is removed from the log right after its ack is due",
		file: "objects/room.ts",
		// After the group commit has sent its acks, a few of the committed messages vanish.
		find: "if (results.some((r) => r.alarm)) await this.engine.afterWrite();",
		replace:
			'if (results.some((r) => r.alarm)) await this.engine.afterWrite();\n\t\tfor (const r of results) for (const e of r.events) if (e.type === "message" && Math.random() < 1 / 15) this.ctx.storage.sql.exec("DELETE FROM events WHERE seq = ?", e.seq);',
		caughtBy: ["crash-restart", "queue-chaos"],
	},
	{
		name: "no-dedup",
		description:
			"stores each send under a fresh dedup key, so a resend with the same id is committed again instead of answering the original ack",
		file: "objects/room.ts",
		find: "clientId: input.id,",
		// biome-ignore lint/suspicious/noTemplateCurlyInString: source text written into the broken copy.
		replace: "clientId: `${input.id}#${crypto.randomUUID()}`,",
		caughtBy: ["crash-restart"],
	},
];

/**
 * Copies what `wrangler dev` needs into a temp folder (the repo's node_modules linked in) and
 * applies the mutation, if any. Every run uses such a snapshot, not the working tree:
 * `wrangler dev` reloads on every source change, which would drop every socket of a run in
 * progress whenever someone edits the repo.
 */
export function snapshot(repo: string, mutation?: Mutation): string {
	const root = mkdtempSync(join(tmpdir(), `parley-chaos-src-${mutation?.name ?? "clean"}-`));
	for (const entry of [
		"src",
		"objects",
		"migrations",
		"public",
		"wrangler.toml",
		"package.json",
		"tsconfig.json",
		"worker-configuration.d.ts",
	]) {
		cpSync(join(repo, entry), join(root, entry), { recursive: true });
	}
	cpSync(join(repo, "chaos/control"), join(root, "control"), { recursive: true });
	symlinkSync(join(repo, "node_modules"), join(root, "control/node_modules"), "dir");
	symlinkSync(join(repo, "node_modules"), join(root, "node_modules"), "dir");
	if (mutation === undefined) return root;
	const path = join(root, mutation.file);
	const source = readFileSync(path, "utf8");
	const at = source.indexOf(mutation.find);
	if (at < 0 || source.indexOf(mutation.find, at + 1) >= 0) {
		throw new Error(
			`mutation ${mutation.name}: the text to replace is not found exactly once in ${mutation.file}; update chaos/lib/mutations.ts`,
		);
	}
	writeFileSync(path, source.replace(mutation.find, mutation.replace));
	return root;
}
