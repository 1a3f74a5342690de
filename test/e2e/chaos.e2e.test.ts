/**
 * The quick slice of the chaos suite (`npm run chaos -- --quick`) inside `npm test`: every
 * scenario, scaled down, against real `wrangler dev` runtimes. The full suite is `npm run chaos`.
 * Latency figures here are reported but only loosely bounded: other e2e files share the CPU.
 */
import { describe, it } from "vitest";
import { describe as summarize, runSuite } from "../../chaos/run.ts";

describe("chaos (quick slice)", () => {
	it("keeps every invariant under crashes, queue faults, abuse, bad credentials, floods and churn", async ({ expect }) => {
		const lines: string[] = [];
		const reports = await runSuite({ quick: true, latencyTolerance: 3, latencyFloorMs: 2000, log: (line) => lines.push(line) });
		const violations = reports.flatMap((r) => r.violationList.map((v) => `${r.scenario}: ${v}`));
		// The table and progress lines make a failure readable without rerunning.
		expect(violations, `${summarize(reports)}\n${lines.join("\n")}`).toEqual([]);
		expect(reports.map((r) => r.scenario)).toEqual([
			"crash-restart",
			"direct-crash",
			"queue-chaos",
			"hostile-input",
			"leaks",
			"access",
			"flood",
		]);
	}, 180_000);
});
