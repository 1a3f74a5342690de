/**
 * A strict parser of the Prometheus text format (0.0.4) and OpenMetrics 1.0 text, for tests:
 * it throws on anything a conforming scraper could read differently. Checked on its own by
 * test/unit/metrics.test.ts (valid and broken inputs), then used on Parley's real output.
 *
 * Enforced: metric and label name syntax; label value escapes (only \\, \" and \n); values
 * (floats, NaN, ±Inf); one HELP and one TYPE per family, TYPE before its samples, a family's
 * samples contiguous; sample names matching their family's type (counters `_total`, histograms
 * `_bucket`/`_sum`/`_count`); no duplicate series; counters non-negative; histogram buckets
 * with `le`, increasing bounds, cumulative counts and `+Inf` equal to `_count`; no empty lines;
 * a final newline; and for OpenMetrics the `# EOF` last line.
 */

export type Format = "prometheus" | "openmetrics";

export interface ParsedSample {
	name: string;
	labels: Record<string, string>;
	value: number;
}

export interface ParsedFamily {
	name: string;
	type: string;
	help: string | undefined;
	samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: Record<Format, readonly string[]> = {
	prometheus: ["counter", "gauge", "histogram", "summary", "untyped"],
	openmetrics: ["counter", "gauge", "histogram", "summary", "unknown", "info", "stateset", "gaugehistogram"],
};

export class ExpositionError extends Error {
	constructor(line: number, message: string) {
		super(`line ${line}: ${message}`);
		this.name = "ExpositionError";
	}
}

function parseValue(text: string, line: number): number {
	if (text === "NaN") return Number.NaN;
	if (text === "+Inf" || text === "Inf") return Number.POSITIVE_INFINITY;
	if (text === "-Inf") return Number.NEGATIVE_INFINITY;
	if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new ExpositionError(line, `bad value ${JSON.stringify(text)}`);
	return Number(text);
}

/** Labels from `{...}`; returns them and the index after the closing brace. */
function parseLabels(text: string, start: number, line: number): { labels: Record<string, string>; end: number } {
	const labels: Record<string, string> = {};
	let i = start + 1;
	if (text[i] === "}") return { labels, end: i + 1 };
	for (;;) {
		const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
		if (nameMatch === null) throw new ExpositionError(line, "bad label name");
		const name = nameMatch[0];
		i += name.length;
		if (text[i] !== "=" || text[i + 1] !== '"') throw new ExpositionError(line, `label ${name} needs ="…"`);
		i += 2;
		let value = "";
		for (;;) {
			const ch = text[i];
			if (ch === undefined) throw new ExpositionError(line, "unterminated label value");
			if (ch === '"') break;
			if (ch === "\\") {
				const next = text[i + 1];
				if (next === "\\") value += "\\";
				else if (next === '"') value += '"';
				else if (next === "n") value += "\n";
				else throw new ExpositionError(line, `bad escape \\${next ?? ""}`);
				i += 2;
				continue;
			}
			if (ch === "\n") throw new ExpositionError(line, "raw newline in a label value");
			value += ch;
			i++;
		}
		i++;
		if (Object.hasOwn(labels, name)) throw new ExpositionError(line, `duplicate label ${name}`);
		if (!LABEL_NAME.test(name)) throw new ExpositionError(line, `bad label name ${name}`);
		labels[name] = value;
		if (text[i] === ",") {
			i++;
			if (text[i] === "}") return { labels, end: i + 1 };
			continue;
		}
		if (text[i] === "}") return { labels, end: i + 1 };
		throw new ExpositionError(line, "expected , or } after a label");
	}
}

/** The family a sample name belongs to, given the open family's type. */
function familyOfSample(sample: string, family: ParsedFamily, format: Format): boolean {
	switch (family.type) {
		case "counter":
			return format === "openmetrics"
				? sample === `${family.name}_total` || sample === `${family.name}_created`
				: sample === family.name;
		case "histogram":
		case "gaugehistogram":
			return [`${family.name}_bucket`, `${family.name}_sum`, `${family.name}_count`, `${family.name}_created`].includes(sample);
		case "summary":
			return [family.name, `${family.name}_sum`, `${family.name}_count`, `${family.name}_created`].includes(sample);
		default:
			return sample === family.name;
	}
}

function checkHistogram(family: ParsedFamily): void {
	const groups = new Map<string, { buckets: Array<{ le: number; value: number }>; count?: number }>();
	for (const sample of family.samples) {
		const { le, ...rest } = sample.labels;
		const key = JSON.stringify(Object.entries(rest).sort());
		const group = groups.get(key) ?? { buckets: [] };
		groups.set(key, group);
		if (sample.name.endsWith("_bucket")) {
			if (le === undefined) throw new ExpositionError(0, `${sample.name} without le`);
			group.buckets.push({ le: parseValue(le, 0), value: sample.value });
		} else if (sample.name.endsWith("_count")) group.count = sample.value;
	}
	for (const [key, group] of groups) {
		const last = group.buckets.at(-1);
		if (last === undefined || last.le !== Number.POSITIVE_INFINITY)
			throw new ExpositionError(0, `${family.name}${key}: no +Inf bucket last`);
		for (let i = 1; i < group.buckets.length; i++) {
			const prev = group.buckets[i - 1];
			const cur = group.buckets[i];
			if (prev === undefined || cur === undefined) continue;
			if (!(cur.le > prev.le)) throw new ExpositionError(0, `${family.name}: bucket bounds not increasing`);
			if (cur.value < prev.value) throw new ExpositionError(0, `${family.name}: buckets not cumulative`);
		}
		if (group.count === undefined || group.count !== last.value)
			throw new ExpositionError(0, `${family.name}: +Inf bucket ${last.value} != _count ${String(group.count)}`);
	}
}

export function parseExposition(text: string, format: Format): Map<string, ParsedFamily> {
	if (!text.endsWith("\n")) throw new ExpositionError(0, "no final newline");
	const lines = text.slice(0, -1).split("\n");
	const families = new Map<string, ParsedFamily>();
	const series = new Set<string>();
	const typed = new Set<string>();
	let open: ParsedFamily | undefined;
	let sawEof = false;
	lines.forEach((raw, index) => {
		const line = index + 1;
		if (sawEof) throw new ExpositionError(line, "content after # EOF");
		if (raw === "") throw new ExpositionError(line, "empty line");
		if (raw.startsWith("#")) {
			if (raw === "# EOF") {
				if (format !== "openmetrics") throw new ExpositionError(line, "# EOF in the Prometheus format");
				sawEof = true;
				return;
			}
			const match = /^# (HELP|TYPE|UNIT) (\S+)(?: (.*))?$/.exec(raw);
			if (match === null) {
				if (format === "openmetrics") throw new ExpositionError(line, "unknown comment");
				return;
			}
			const [, kind, name = "", rest] = match;
			if (!METRIC_NAME.test(name)) throw new ExpositionError(line, `bad metric name ${name}`);
			let family = families.get(name);
			if (family === undefined) {
				family = { name, type: format === "openmetrics" ? "unknown" : "untyped", help: undefined, samples: [] };
				families.set(name, family);
				if (open !== undefined && open !== family) open = undefined;
			} else if (family !== open) {
				throw new ExpositionError(line, `${name}: metadata after another family`);
			}
			if (family.samples.length > 0) throw new ExpositionError(line, `${name}: ${kind} after its samples`);
			if (kind === "HELP") {
				if (family.help !== undefined) throw new ExpositionError(line, `${name}: second HELP`);
				family.help = rest ?? "";
			} else if (kind === "TYPE") {
				if (rest === undefined || !TYPES[format].includes(rest))
					throw new ExpositionError(line, `${name}: bad type ${String(rest)}`);
				if (typed.has(name)) throw new ExpositionError(line, `${name}: second TYPE`);
				typed.add(name);
				family.type = rest;
			} else if (format !== "openmetrics") throw new ExpositionError(line, "# UNIT in the Prometheus format");
			open = family;
			return;
		}
		const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
		if (nameMatch === null) throw new ExpositionError(line, "bad sample name");
		const name = nameMatch[0];
		let i = name.length;
		let labels: Record<string, string> = {};
		if (raw[i] === "{") ({ labels, end: i } = parseLabels(raw, i, line));
		if (raw[i] !== " ") throw new ExpositionError(line, "expected a space before the value");
		const parts = raw.slice(i + 1).split(" ");
		if (parts.length < 1 || parts.length > 2 || parts[0] === "")
			throw new ExpositionError(line, "expected a value (and an optional timestamp)");
		const value = parseValue(parts[0] ?? "", line);
		if (parts[1] !== undefined && !/^-?\d+(\.\d+)?$/.test(parts[1])) throw new ExpositionError(line, "bad timestamp");
		let family = open;
		if (family === undefined || !familyOfSample(name, family, format)) {
			// An untyped sample opens its own family (allowed in 0.0.4 only).
			if (format === "openmetrics") throw new ExpositionError(line, `sample ${name} outside its family`);
			if (families.has(name)) throw new ExpositionError(line, `${name}: samples not contiguous`);
			family = { name, type: "untyped", help: undefined, samples: [] };
			families.set(name, family);
			open = family;
		}
		const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
		if (series.has(key)) throw new ExpositionError(line, `duplicate series ${key}`);
		series.add(key);
		if (family.type === "counter" && !(value >= 0)) throw new ExpositionError(line, `${name}: a counter must be a non-negative number`);
		family.samples.push({ name, labels, value });
	});
	if (format === "openmetrics" && !sawEof) throw new ExpositionError(lines.length, "no # EOF");
	for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);
	return families;
}

/** The value of one series, or undefined when it is not in the scrape. */
export function seriesValue(families: Map<string, ParsedFamily>, sample: string, labels: Record<string, string> = {}): number | undefined {
	for (const family of families.values()) {
		for (const s of family.samples) {
			if (s.name !== sample) continue;
			const keys = Object.keys(labels);
			if (Object.keys(s.labels).length === keys.length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
		}
	}
	return undefined;
}

/** The sum of a sample name over every series whose labels include `labels`. */
export function sumOf(families: Map<string, ParsedFamily>, sample: string, labels: Record<string, string> = {}): number {
	let total = 0;
	for (const family of families.values()) {
		for (const s of family.samples)
			if (s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
	}
	return total;
}
