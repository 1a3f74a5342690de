/**
 * Small statistics helpers. Latency samples are kept whole (a 10 s run at 1,000 msgs/s to
 * 10 receivers is 100k doubles, under 1 MB) so percentiles are exact, not bucketed.
 */

export interface LatencySummary {
	count: number;
	p50: number;
	p90: number;
	p99: number;
	max: number;
	mean: number;
}

/** A growable list of samples in milliseconds. */
export class Samples {
	private values = new Float64Array(1024);
	private size = 0;

	add(value: number): void {
		if (this.size === this.values.length) {
			const next = new Float64Array(this.values.length * 2);
			next.set(this.values);
			this.values = next;
		}
		this.values[this.size++] = value;
	}

	/** Adds every sample of `other` (e.g. per-receiver samples into one run-wide set). */
	merge(other: Samples): void {
		for (let i = 0; i < other.size; i++) this.add(other.values[i] ?? 0);
	}

	get count(): number {
		return this.size;
	}

	summary(): LatencySummary | undefined {
		if (this.size === 0) return undefined;
		const sorted = this.values.slice(0, this.size).sort();
		let sum = 0;
		for (const value of sorted) sum += value;
		return {
			count: this.size,
			p50: percentile(sorted, 0.5),
			p90: percentile(sorted, 0.9),
			p99: percentile(sorted, 0.99),
			max: sorted[sorted.length - 1] ?? 0,
			mean: sum / this.size,
		};
	}
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array, fraction: number): number {
	if (sorted.length === 0) return Number.NaN;
	const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
	return sorted[rank] ?? Number.NaN;
}

/** Rounds for display and JSON: 3 significant digits below 100, integers above. */
export function round(value: number): number {
	if (!Number.isFinite(value)) return value;
	if (Math.abs(value) >= 100) return Math.round(value);
	return Number(value.toPrecision(3));
}

/** Monotonic wall clock in ms, comparable across the load generator's sockets. */
export function nowMs(): number {
	return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
