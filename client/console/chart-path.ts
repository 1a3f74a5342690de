/**
 * @module
 * The numbers behind the console's time charts, without the DOM: per-minute series from the
 * metrics history, a scale with a round top, and SVG polyline points. Unit-tested.
 */
import type { MinuteSample } from "../../src/ops/metrics.ts";

/** Failures per attempt, per minute; null where nothing was attempted (no rate to show). */
export function failureRates(minutes: readonly MinuteSample[]): Array<number | null> {
	return minutes.map((m) => (m.attempts > 0 ? Math.min(1, m.failures / m.attempts) : null));
}

/** A top for the y axis: the max rounded up to 1, 2 or 5 × a power of ten (at least `floor`). */
export function niceMax(values: ReadonlyArray<number | null>, floor = 1): number {
	const max = Math.max(floor, ...values.filter((v): v is number => v !== null));
	const power = 10 ** Math.floor(Math.log10(max));
	for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
	return 10 * power;
}

/**
 * Polyline point lists (`x,y x,y …`) for a series in a `width` × `height` box, split where a
 * value is null so a gap stays a gap.
 */
export function polylines(values: ReadonlyArray<number | null>, width: number, height: number, max: number): string[] {
	const lines: string[] = [];
	let current: string[] = [];
	const step = values.length > 1 ? width / (values.length - 1) : 0;
	values.forEach((value, i) => {
		if (value === null) {
			if (current.length > 0) lines.push(current.join(" "));
			current = [];
			return;
		}
		const y = height - (Math.min(value, max) / max) * height;
		current.push(`${+(i * step).toFixed(1)},${+y.toFixed(1)}`);
	});
	if (current.length > 0) lines.push(current.join(" "));
	return lines;
}
