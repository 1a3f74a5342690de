/**
 * The docs stand on their own: every relative link points at a file in the repository, nothing
 * cites a file from outside it, and every command they show works from a fresh clone (scripts
 * through `npm run`, which brings the project's Node; `node scripts/…` fails on the system Node).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../support/dev-server.ts";

const docs = [
	"README.md",
	...readdirSync(join(PROJECT_ROOT, "docs"))
		.filter((f) => f.endsWith(".md"))
		.map((f) => `docs/${f}`),
];
const scripts = Object.keys(
	(JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts,
);

describe("the docs", () => {
	it.each(docs)("%s links only to files that exist", (doc) => {
		const text = readFileSync(join(PROJECT_ROOT, doc), "utf8");
		const targets = [...text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1] ?? "").filter((t) => !/^[a-z]+:/.test(t));
		for (const target of targets)
			expect([doc, target, existsSync(join(PROJECT_ROOT, dirname(doc), target))]).toEqual([doc, target, true]);
	});

	it.each(docs)("%s cites nothing outside the repository and runs scripts through npm", (doc) => {
		const text = readFileSync(join(PROJECT_ROOT, doc), "utf8");
		expect(text).not.toMatch(/\bPROTOCOL\.md\b/);
		expect(text).not.toMatch(/(^|\s)node (scripts|client|bench|chaos)\//m);
		for (const [, name] of text.matchAll(/npm run(?: -s)? ([a-z:-]+)/g))
			expect([relative(PROJECT_ROOT, join(PROJECT_ROOT, doc)), name, scripts.includes(name ?? "")]).toEqual([doc, name, true]);
	});
});
