/**
 * Process plumbing for the runner: free loopback ports, child processes started in their own
 * process group (so a server and everything it spawned stop together), and the resident
 * memory of a process tree read from /proc, which is how idle-socket cost is measured.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export { freePort } from "../../test/support/dev-server.ts";

interface ProcInfo {
	pid: number;
	ppid: number;
	name: string;
}

function readProc(pid: number): ProcInfo | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// The command name is in parentheses and may itself contain spaces or parentheses.
		const close = stat.lastIndexOf(")");
		const name = stat.slice(stat.indexOf("(") + 1, close);
		const fields = stat.slice(close + 2).split(" ");
		return { pid, ppid: Number(fields[1]), name };
	} catch {
		return undefined;
	}
}

function allProcs(): ProcInfo[] {
	const procs: ProcInfo[] = [];
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		const info = readProc(Number(entry));
		if (info !== undefined) procs.push(info);
	}
	return procs;
}

/** `root` and all its descendants. */
export function processTree(root: number): ProcInfo[] {
	const procs = allProcs();
	const result: ProcInfo[] = [];
	const frontier = [root];
	while (frontier.length > 0) {
		const pid = frontier.pop() as number;
		const info = procs.find((p) => p.pid === pid);
		if (info !== undefined) result.push(info);
		for (const child of procs) if (child.ppid === pid) frontier.push(child.pid);
	}
	return result;
}

/** Direct and indirect children of this process whose command name matches. */
export function ownChildrenNamed(name: string): number[] {
	return processTree(process.pid)
		.filter((p) => p.pid !== process.pid && p.name === name)
		.map((p) => p.pid);
}

/** VmRSS in bytes; 0 for a process that is gone. */
export function rssBytes(pid: number): number {
	try {
		const status = readFileSync(`/proc/${pid}/status`, "utf8");
		const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
		return match?.[1] === undefined ? 0 : Number(match[1]) * 1024;
	} catch {
		return 0;
	}
}

/** Summed RSS of the given processes and all their descendants (each counted once). */
export function treeRssBytes(roots: number[]): number {
	const seen = new Set<number>();
	let total = 0;
	for (const root of roots) {
		for (const proc of processTree(root)) {
			if (seen.has(proc.pid)) continue;
			seen.add(proc.pid);
			total += rssBytes(proc.pid);
		}
	}
	return total;
}

export interface Child {
	process: ChildProcess;
	/** Everything the child printed so far (capped), for failure messages. */
	output(): string;
	/** SIGTERM to the group, SIGKILL after a grace period. */
	stop(): Promise<void>;
}

/** Spawns `command` in its own process group so `stop` takes its descendants too. */
export function spawnGroup(command: string, args: string[], env: Record<string, string> = {}): Child {
	const child = spawn(command, args, {
		detached: true,
		stdio: ["ignore", "pipe", "pipe"],
		env: { ...process.env, ...env },
	});
	let log = "";
	const append = (chunk: Buffer): void => {
		log = (log + chunk.toString()).slice(-20_000);
	};
	child.stdout?.on("data", append);
	child.stderr?.on("data", append);
	const exited = new Promise<void>((resolve) => {
		if (child.exitCode !== null || child.signalCode !== null) resolve();
		else child.once("exit", () => resolve());
	});
	const signal = (name: NodeJS.Signals): void => {
		try {
			if (child.pid !== undefined) process.kill(-child.pid, name);
		} catch {
			// Already gone.
		}
	};
	return {
		process: child,
		output: () => log,
		async stop() {
			signal("SIGTERM");
			const timer = setTimeout(() => signal("SIGKILL"), 5000);
			await exited;
			clearTimeout(timer);
		},
	};
}

/** Polls `url` until it answers 2xx, the child dies, or the deadline passes. */
export async function waitHealthy(url: string, child: Child | undefined, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (child !== undefined && child.process.exitCode !== null) {
			throw new Error(`server exited early:\n${child.output().slice(-2000)}`);
		}
		try {
			const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
			if (response.ok) return;
		} catch {
			// Not listening yet.
		}
		await new Promise((r) => setTimeout(r, 200));
	}
	throw new Error(`${url} not healthy after ${timeoutMs} ms${child === undefined ? "" : `:\n${child.output().slice(-2000)}`}`);
}

/** User + system CPU seconds used so far by the given processes and their descendants. */
export function treeCpuSeconds(roots: number[]): number {
	const seen = new Set<number>();
	let ticks = 0;
	for (const root of roots) {
		for (const proc of processTree(root)) {
			if (seen.has(proc.pid)) continue;
			seen.add(proc.pid);
			try {
				const stat = readFileSync(`/proc/${proc.pid}/stat`, "utf8");
				const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
				// utime and stime are fields 14 and 15 of stat(5); here 0-based after the name: 11, 12.
				ticks += Number(fields[11]) + Number(fields[12]);
			} catch {
				// Gone.
			}
		}
	}
	// Linux reports in clock ticks; USER_HZ is 100 on every mainstream kernel.
	return ticks / 100;
}

/** CPU seconds of this process only (the load generator), excluding children. */
export function selfCpuSeconds(): number {
	const usage = process.cpuUsage();
	return (usage.user + usage.system) / 1e6;
}
