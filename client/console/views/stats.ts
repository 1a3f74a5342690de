/**
 * @module
 * The live counts (tasks and sagas per state, each a link to its list), the commit → done latency
 * histogram, and the age of the oldest pending task.
 */
import { byId, clear, h, s } from "../../dom.ts";
import { ageLevel, fmtAgo, fmtDuration, fmtLe, fmtQuantile, fmtTime } from "../format.ts";
import { SAGA_STATES, stateClass, TASK_STATES } from "../vocab.ts";
import type { Stats } from "../wire.ts";
import { setView } from "./list.ts";

/** The states in `order` first, then any other the server counts. */
function renderCounts(container: HTMLElement, counts: Record<string, number>, order: readonly string[], view: "tasks" | "sagas"): void {
	clear(container);
	const keys = [...order, ...Object.keys(counts).filter((key) => !order.includes(key))];
	for (const key of keys) {
		const n = counts[key];
		const attention = n !== undefined && n > 0 && (key === "failed" || key === "compensating");
		container.appendChild(
			h(
				"button",
				{
					type: "button",
					class: `count st-${stateClass(key)}${attention ? " attention" : ""}`,
					title: `Show ${view} in state ${key}`,
					dataset: { state: key, count: n ?? "" },
					onclick: () => setView(view, { state: key, room: "" }),
				},
				h("span", { class: "count-n" }, n === undefined ? "—" : n.toLocaleString()),
				h("span", { class: "count-label" }, key),
			),
		);
	}
}

const CHART_H = 112;

function renderLatency(latency: Stats["latency"]): void {
	const chart = byId("latency-chart");
	clear(chart);
	const total = latency.count;
	byId("latency-p50").textContent = fmtQuantile(latency.p50Ms, total);
	byId("latency-p99").textContent = fmtQuantile(latency.p99Ms, total);
	byId("latency-count").textContent = total.toLocaleString();
	const buckets = latency.buckets;
	if (buckets.length === 0) {
		chart.appendChild(h("div", { class: "muted empty-chart" }, "no latency data"));
		return;
	}
	// Drawn at the container's pixel width so text keeps its size.
	const W = Math.max(240, Math.round(chart.clientWidth || 400));
	const H = CHART_H;
	const top = 14;
	const bottom = 18;
	const left = 4;
	const gap = 3;
	const max = Math.max(1, ...buckets.map((b) => b.count));
	const bw = (W - left * 2) / buckets.length;
	const plot = H - top - bottom;
	const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "histogram", role: "img", "aria-label": "Commit to done latency histogram" });
	svg.appendChild(s("line", { x1: 0, x2: W, y1: H - bottom + 0.5, y2: H - bottom + 0.5, class: "axis" }));
	buckets.forEach((bucket, i) => {
		const x = left + i * bw + gap / 2;
		const barH = bucket.count === 0 ? 0 : Math.max(2, (bucket.count / max) * plot);
		const y = H - bottom - barH;
		const mid = (x + (bw - gap) / 2).toFixed(1);
		const label = bucket.leMs === null ? "> last bound" : `≤ ${fmtLe(bucket.leMs)}`;
		svg.appendChild(
			s(
				"g",
				{ class: "bar-group" },
				s("title", null, `${label}: ${bucket.count.toLocaleString()} task(s)`),
				s("rect", {
					x: x.toFixed(1),
					y: y.toFixed(1),
					width: Math.max(1, bw - gap).toFixed(1),
					height: barH.toFixed(1),
					class: bucket.leMs === null ? "bar bar-inf" : "bar",
				}),
				bucket.count > 0 ? s("text", { x: mid, y: (y - 3).toFixed(1), class: "bar-value" }, String(bucket.count)) : null,
				s("text", { x: mid, y: H - 5, class: "bar-label" }, fmtLe(bucket.leMs, true)),
			),
		);
	});
	if (total === 0) svg.appendChild(s("text", { x: W / 2, y: H / 2, class: "chart-empty" }, "no completed tasks yet"));
	chart.appendChild(svg);
}

export function renderStats(stats: Stats): void {
	renderCounts(byId("task-counts"), stats.tasks, TASK_STATES, "tasks");
	renderCounts(byId("saga-counts"), stats.sagas, SAGA_STATES, "sagas");
	renderLatency(stats.latency);
	const oldest = byId("oldest-pending");
	oldest.textContent = stats.oldestPendingAgeMs === null ? "none" : fmtDuration(stats.oldestPendingAgeMs);
	oldest.dataset.level = ageLevel(stats.oldestPendingAgeMs);
	const updated = byId("stats-updated");
	const now = Date.now();
	updated.dataset.relAt = String(now);
	updated.title = `updated at ${fmtTime(now)}`;
	updated.textContent = fmtAgo(now, now);
}
