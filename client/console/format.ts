/**
 * @module
 * Text for numbers, times, durations and ids. Pure (no DOM), so the unit tests cover it. Missing
 * values show as "—" rather than failing: a new or absent field must not break a whole view.
 */

export function isNum(value: unknown): value is number {
	return typeof value === "number" && Number.isFinite(value);
}

/** Any value as display text: "—" for nothing, JSON for objects. */
export function str(value: unknown): string {
	if (value === null || value === undefined || value === "") return "—";
	return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function pad(n: number): string {
	return String(n).padStart(2, "0");
}

/** `HH:MM:SS` today, `YYYY-MM-DD HH:MM:SS` on another day (local time). */
export function fmtTime(ms: number | null | undefined, now: Date = new Date()): string {
	if (!isNum(ms)) return "—";
	const d = new Date(ms);
	const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
	if (d.toDateString() === now.toDateString()) return time;
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** `YYYY-MM-DD HH:MM:SS` whatever the day (local time). */
export function fmtFull(ms: number | null | undefined): string {
	if (!isNum(ms)) return "—";
	const d = new Date(ms);
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A duration at a precision that suits its size: `850 ms`, `2.50 s`, `4m 5s`, `3h 2m`, `2d 1h`. */
export function fmtDuration(ms: number | null | undefined): string {
	if (!isNum(ms)) return "—";
	const abs = Math.abs(ms);
	if (abs < 1000) return `${Math.round(ms)} ms`;
	if (abs < 60_000) return `${(ms / 1000).toFixed(abs < 10_000 ? 2 : 1)} s`;
	const sec = Math.floor(abs / 1000);
	const sign = ms < 0 ? "-" : "";
	if (sec < 3600) return `${sign}${Math.floor(sec / 60)}m ${sec % 60}s`;
	if (sec < 86_400) return `${sign}${Math.floor(sec / 3600)}h ${Math.floor((sec % 3600) / 60)}m`;
	return `${sign}${Math.floor(sec / 86_400)}d ${Math.floor((sec % 86_400) / 3600)}h`;
}

export function fmtAgo(ms: number | null | undefined, now: number = Date.now()): string {
	return isNum(ms) ? `${fmtDuration(now - ms)} ago` : "";
}

/** A bucket's upper bound as a short label: 50 → "50ms" (or "50" when `bare`), 2000 → "2s", null → "+Inf". */
export function fmtLe(le: number | null, bare = false): string {
	if (!isNum(le)) return "+Inf";
	if (le < 1000) return bare ? String(le) : `${le}ms`;
	if (le < 60_000) return `${+(le / 1000).toFixed(1)}s`;
	return `${+(le / 60_000).toFixed(1)}m`;
}

/**
 * A latency quantile. The server reports one as its bucket's upper bound; null with data means
 * above the last bound.
 */
export function fmtQuantile(ms: number | null, total: number): string {
	return isNum(ms) ? `≤ ${fmtDuration(ms)}` : total > 0 ? "> last bound" : "—";
}

/** How worrying the oldest pending task's age is: over 30 s is slow, over 5 min is stuck. */
export function ageLevel(ms: number | null): "ok" | "warn" | "bad" {
	return !isNum(ms) ? "ok" : ms > 300_000 ? "bad" : ms > 30_000 ? "warn" : "ok";
}

/** A long id as its two ends; the full id goes in a title. */
export function shortId(id: string | null | undefined): string {
	if (typeof id !== "string" || id === "") return "—";
	return id.length > 28 ? `${id.slice(0, 12)}…${id.slice(-12)}` : id;
}

/** At most `n` code points, with an ellipsis when cut. */
export function clip(text: string, n: number): string {
	const chars = [...text];
	return chars.length > n ? `${chars.slice(0, n - 1).join("")}…` : text;
}
