/**
 * @module
 * What a scenario is handed and what it reports. A scenario counts its operations, the faults
 * it injected and the invariant checks it made; every failed check is a violation with a
 * message precise enough to reproduce from.
 */
import type { ChaosServer, ServerOptions } from "./server.ts";

/** A server configuration that scenarios can share (the runner starts one per profile). */
export interface ServerProfile {
	name: string;
	vars: Record<string, string>;
}

export interface ScenarioContext {
	quick: boolean;
	/**
	 * Multiplies the latency bounds: 1 for `npm run chaos`; more inside `npm test`, where other
	 * e2e files run their own runtimes on the same cores and latency says little about Parley.
	 */
	latencyTolerance: number;
	/**
	 * No latency bound is below this (ms). 0 for `npm run chaos`; inside `npm test` it turns the
	 * latency checks into starvation checks, since speed belongs to the bench: a loaded machine
	 * can triple a p99 between two phases of one scenario, but a starved user waits seconds.
	 */
	latencyFloorMs: number;
	/** The project copy that `wrangler dev` runs: the repo, or a deliberately broken copy. */
	root: string;
	/** The running server of the scenario's profile, started on first use and shared with later scenarios. */
	server(): Promise<ChaosServer>;
	/** Starts a server the scenario owns (and must stop), e.g. to kill and restart it. */
	launch(options: ServerOptions): Promise<ChaosServer>;
	rec: Recorder;
	/** A progress line on stderr. */
	log(message: string): void;
}

export interface Scenario {
	name: string;
	/** One line for the docs and the progress output: what fails and what must hold. */
	summary: string;
	/** The shared server it runs against; scenarios that kill servers launch their own instead. */
	profile?: ServerProfile;
	run(ctx: ScenarioContext): Promise<void>;
}

/** Counts and violations for one scenario. */
export class Recorder {
	operations = 0;
	faults = 0;
	checks = 0;
	readonly violations: string[] = [];
	/** Figures worth reporting (latencies, memory), printed under the table. */
	readonly figures: Array<[string, string]> = [];

	op(count = 1): void {
		this.operations += count;
	}

	fault(count = 1): void {
		this.faults += count;
	}

	/** One invariant check; a false `ok` is a violation. */
	check(ok: boolean, message: string): void {
		this.checks++;
		if (!ok) this.violations.push(message);
	}

	/** `count` checks made by a checker that returned these violations. */
	checked(count: number, violations: readonly string[]): void {
		this.checks += Math.max(count, violations.length);
		this.violations.push(...violations);
	}

	figure(name: string, value: string): void {
		this.figures.push([name, value]);
	}
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A short random suffix so every run uses fresh rooms and ids. */
export const fresh = (prefix: string): string => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
