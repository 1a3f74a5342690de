/** What the numbers were measured on, for the report and docs/performance.md. */
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "./workers.ts";

export interface Machine {
	cpus: number;
	cpuModel: string;
	memoryGiB: number;
	node: string;
	workerd: string;
	miniflare: string;
	wrangler: string;
	partyserver: string;
	ws: string;
}

function version(packageDir: string): string {
	try {
		const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, "node_modules", packageDir, "package.json"), "utf8")) as {
			version?: string;
		};
		return pkg.version ?? "?";
	} catch {
		return "?";
	}
}

export function describeMachine(): Machine {
	return {
		cpus: availableParallelism(),
		cpuModel: cpus()[0]?.model ?? "?",
		memoryGiB: Math.round(totalmem() / 2 ** 30),
		node: process.version,
		// Miniflare (and so wrangler dev) runs the workerd it depends on, not the top-level one.
		workerd: version("miniflare/node_modules/workerd"),
		miniflare: version("miniflare"),
		wrangler: version("wrangler"),
		partyserver: version("partyserver"),
		ws: version("ws"),
	};
}

export function machineLine(m: Machine): string {
	return `${m.cpus} vCPU (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, workerd ${m.workerd}, miniflare ${m.miniflare}, wrangler ${m.wrangler}, partyserver ${m.partyserver}, ws ${m.ws}`;
}
