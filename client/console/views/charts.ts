/**
 * @module
 * Throughput (messages stored and task attempts per minute) and the failure rate (failed
 * attempts per attempt) over the last hour, as SVG drawn here, from the metrics' per-minute
 * history (`GET /v1/admin/metrics/history`). Fetched at most every 20 s: it changes by the minute.
 */
import { api } from "../api.ts";
import { byId, clear, h, s } from "../../dom.ts";
import { failureRates, niceMax, polylines } from "../chart-path.ts";
import { fmtTime } from "../format.ts";
import { app } from "../state.ts";
import type { MetricsHistory, MinuteSample } from "../wire.ts";

const REFETCH_MS = 20_000;
const W = 320;
const H = 90;

interface Series {
	name: string;
	values: Array<number | null>;
	className: string;
}

function chart(
	container: HTMLElement,
	series: readonly Series[],
	max: number,
	format: (v: number) => string,
	minutes: readonly MinuteSample[],
): void {
	clear(container);
	const first = minutes[0];
	const last = minutes.at(-1);
	const svg = s(
		"svg",
		{ viewBox: `0 0 ${W} ${H + 16}`, class: "time-chart", role: "img", "aria-label": series.map((x) => x.name).join(", ") },
		s("line", { x1: 0, y1: H, x2: W, y2: H, class: "axis" }),
		s("line", { x1: 0, y1: 0, x2: W, y2: 0, class: "grid-line" }),
		s("text", { x: 2, y: 10, class: "tick" }, format(max)),
		s("text", { x: 2, y: H + 13, class: "tick" }, first === undefined ? "" : fmtTime(first.at)),
		s("text", { x: W - 2, y: H + 13, class: "tick end" }, last === undefined ? "" : fmtTime(last.at)),
		series.flatMap((x) =>
			polylines(x.values, W, H, max).map((points) =>
				s("polyline", { points, class: `series ${x.className}`, dataset: { series: x.name } }),
			),
		),
	);
	container.appendChild(svg);
	container.appendChild(
		h(
			"div",
			{ class: "legend" },
			series.map((x) => {
				const latest = [...x.values].reverse().find((v) => v !== null);
				return h(
					"span",
					{ class: `legend-item ${x.className}` },
					`${x.name}: ${latest === undefined || latest === null ? "—" : format(latest)}`,
				);
			}),
		),
	);
}

export function renderCharts(minutes: readonly MinuteSample[]): void {
	const messages = minutes.map((m) => m.messages);
	const attempts = minutes.map((m) => m.attempts);
	const throughput = byId("throughput-chart");
	chart(
		throughput,
		[
			{ name: "messages/min", values: messages, className: "s-messages" },
			{ name: "task attempts/min", values: attempts, className: "s-attempts" },
		],
		niceMax([...messages, ...attempts], 5),
		(v) => String(Math.round(v)),
		minutes,
	);
	throughput.dataset.total = String(messages.reduce((a, b) => a + b, 0));
	const rates = failureRates(minutes);
	const failure = byId("failure-chart");
	chart(
		failure,
		[{ name: "failed attempts", values: rates, className: "s-failures" }],
		niceMax(
			rates.map((r) => (r === null ? null : r * 100)),
			1,
		) / 100,
		(v) => `${Math.round(v * 1000) / 10}%`,
		minutes,
	);
	failure.dataset.attempts = String(attempts.reduce((a, b) => a + b, 0));
}

/** Fetches the history when it is due (or `force`), and draws it. Failures leave the last chart. */
export async function refreshCharts(force = false): Promise<void> {
	const now = Date.now();
	if (!force && now - app.charts.fetchedAt < REFETCH_MS) return;
	app.charts.fetchedAt = now;
	try {
		const history = await api<MetricsHistory>("/v1/admin/metrics/history?minutes=60");
		renderCharts(history.minutes);
	} catch {
		// Scoped admins have no deployment-wide history: the charts say so instead.
		for (const id of ["throughput-chart", "failure-chart"]) {
			const box = byId(id);
			if (box.childElementCount === 0) box.appendChild(h("div", { class: "muted empty-chart" }, "metrics unavailable"));
		}
	}
}
