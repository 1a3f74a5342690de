/**
 * A hand-written SVG bar chart (no chart library): one panel per headline metric, one group
 * of bars per server, one bar per path. Missing values are drawn as "n/a" so a skipped
 * server is visible rather than silently absent.
 */
import type { Results, ScenarioName } from "./report.ts";
import { formatNumber } from "./report.ts";
import type { PathName, ServerName } from "./servers.ts";

interface Panel {
	title: string;
	scenario: ScenarioName;
	key: string;
}

const PANELS: readonly Panel[] = [
	{ title: "1→10 ingest, msgs/s (higher is better)", scenario: "ingest-1x10", key: "ingestPerSec" },
	{ title: "10→100 deliveries/s (higher is better)", scenario: "fanout-10x100", key: "deliveriesPerSec" },
	{ title: "p99 latency at 1,000 msgs/s, ms (lower is better)", scenario: "latency-1k", key: "p99Ms" },
];

const SERVERS: readonly { name: ServerName; label: string }[] = [
	{ name: "parley", label: "Parley" },
	{ name: "bare", label: "bare DO" },
	{ name: "naive", label: "naive DO" },
	{ name: "party", label: "PartyServer" },
	{ name: "node-ws", label: "Node ws" },
];

const SERIES: readonly { path: PathName; label: string; color: string }[] = [
	{ path: "miniflare", label: "Miniflare API → workerd", color: "#1f6feb" },
	{ path: "wrangler", label: "wrangler dev (proxy)", color: "#9ecbff" },
	{ path: "node", label: "Node process", color: "#2da44e" },
];

function escapeXml(text: string): string {
	return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

export function svgChart(results: Results, subtitle: string): string {
	const width = 900;
	const panelHeight = 230;
	const top = 70;
	const left = 70;
	const plotWidth = width - left - 30;
	const plotHeight = 150;
	const out: string[] = [];
	const height = top + PANELS.length * panelHeight + 10;
	out.push(
		`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12" role="img" aria-labelledby="chart-title">`,
	);
	out.push(`<title id="chart-title">Parley bench: throughput and latency per server (${escapeXml(subtitle)})</title>`);
	out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
	out.push(`<text x="${left}" y="24" font-size="16" font-weight="bold">Parley bench: throughput and latency per server</text>`);
	out.push(`<text x="${left}" y="42" fill="#57606a">${escapeXml(subtitle)}</text>`);
	SERIES.forEach((series, i) => {
		const x = left + i * 220;
		out.push(
			`<rect x="${x}" y="52" width="12" height="12" fill="${series.color}"/><text x="${x + 18}" y="62">${escapeXml(series.label)}</text>`,
		);
	});
	PANELS.forEach((panel, p) => {
		const y0 = top + p * panelHeight + 20;
		out.push(`<text x="${left}" y="${y0}" font-weight="bold">${escapeXml(panel.title)}</text>`);
		const baseY = y0 + 15 + plotHeight;
		const values = SERVERS.map((server) =>
			SERIES.map((series) => {
				const path =
					server.name === "node-ws"
						? series.path === "node"
							? "node"
							: undefined
						: series.path === "node"
							? undefined
							: series.path;
				return path === undefined ? null : results.metric(server.name, path, panel.scenario, panel.key);
			}),
		);
		const max = Math.max(1e-9, ...values.flat().filter((v): v is number => typeof v === "number"));
		out.push(`<line x1="${left}" y1="${baseY}" x2="${left + plotWidth}" y2="${baseY}" stroke="#8c959f"/>`);
		for (const fraction of [0.5, 1]) {
			const gy = baseY - fraction * plotHeight;
			out.push(`<line x1="${left}" y1="${gy}" x2="${left + plotWidth}" y2="${gy}" stroke="#eaeef2"/>`);
			out.push(`<text x="${left - 6}" y="${gy + 4}" text-anchor="end" fill="#57606a">${formatNumber(max * fraction)}</text>`);
		}
		const groupWidth = plotWidth / SERVERS.length;
		SERVERS.forEach((server, s) => {
			const gx = left + s * groupWidth;
			const bars = SERIES.map((series, k) => ({ series, value: values[s]?.[k] })).filter((b) => b.value !== null);
			const barWidth = Math.min(48, (groupWidth - 30) / Math.max(1, bars.length));
			bars.forEach((bar, b) => {
				const x = gx + 15 + b * barWidth;
				if (bar.value === undefined || bar.value === null) {
					out.push(`<text x="${x + barWidth / 2}" y="${baseY - 4}" text-anchor="middle" fill="#cf222e">n/a</text>`);
					return;
				}
				const h = (bar.value / max) * plotHeight;
				out.push(
					`<rect x="${x}" y="${baseY - h}" width="${barWidth - 4}" height="${h}" fill="${bar.series.color}"><title>${escapeXml(`${server.label} / ${bar.series.label}: ${formatNumber(bar.value)}`)}</title></rect>`,
				);
				out.push(
					`<text x="${x + (barWidth - 4) / 2}" y="${baseY - h - 3}" text-anchor="middle" font-size="10">${formatNumber(bar.value)}</text>`,
				);
			});
			out.push(`<text x="${gx + groupWidth / 2}" y="${baseY + 16}" text-anchor="middle">${escapeXml(server.label)}</text>`);
		});
	});
	out.push("</svg>");
	return `${out.join("\n")}\n`;
}
