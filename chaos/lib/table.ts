/**
 * @module
 * The summary table printed at the end of a run (Markdown, so it pastes into the docs).
 */
export interface Row {
	scenario: string;
	operations: number;
	faults: number;
	checks: number;
	violations: number;
	seconds: number;
}

export function table(rows: readonly Row[]): string {
	const header = ["scenario", "operations", "faults injected", "invariant checks", "violations", "duration"];
	const cells = rows.map((r) => [
		r.scenario,
		String(r.operations),
		String(r.faults),
		String(r.checks),
		String(r.violations),
		`${r.seconds.toFixed(1)} s`,
	]);
	const total: Row = { scenario: "total", operations: 0, faults: 0, checks: 0, violations: 0, seconds: 0 };
	for (const r of rows) {
		total.operations += r.operations;
		total.faults += r.faults;
		total.checks += r.checks;
		total.violations += r.violations;
		total.seconds += r.seconds;
	}
	cells.push([
		`**${total.scenario}**`,
		String(total.operations),
		String(total.faults),
		String(total.checks),
		String(total.violations),
		`${total.seconds.toFixed(1)} s`,
	]);
	const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
	const line = (c: readonly string[]): string =>
		`| ${c.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join(" | ")} |`;
	const rule = `|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 1)}-` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
	return [line(header), rule, ...cells.map(line)].join("\n");
}
