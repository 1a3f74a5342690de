/**
 * Leaks: open and close thousands of sockets across many rooms, in waves (some send a
 * message, some close before the replay ends). Afterwards no socket may be held (a fresh
 * joiner sees only itself online), no task may be pending or processing (so no room keeps an
 * alarm for work), and the runtime's memory (VmRSS of the wrangler + workerd process tree)
 * must come back near where it started, compared with a bare control object under the
 * same churn (the local runtime keeps memory per socket by itself).
 */
import { ChatSocket } from "../lib/client.ts";
import { api } from "../lib/http.ts";
import { FAULTY } from "../lib/profiles.ts";
import { processTree, treeRssBytes } from "../../bench/lib/proc.ts";
import type { ChaosServer } from "../lib/server.ts";
import { join } from "node:path";
import { adminToken, userToken } from "../lib/tokens.ts";
import { fresh, type Scenario, type ScenarioContext, sleep } from "../lib/types.ts";

const MB = 1024 * 1024;
const mb = (bytes: number): string => (bytes / MB).toFixed(0);
/** Generous: V8 and SQLite keep some of what they grew, and hibernation is not eviction. */
const RSS_SLACK = 50 * MB;

interface ChurnResult {
	opened: number;
	waves: number;
	start: number;
	peak: number;
	after: number;
	/** The workerd pids when the churn started: a change means the runtime restarted. */
	workerd: string;
	violations: string[];
}

/** The workerd processes under the server (a restart drops every socket, so it must not happen). */
function workerdPids(rootPid: number): string {
	return processTree(rootPid)
		.filter((p) => p.name === "workerd")
		.map((p) => p.pid)
		.join(",");
}

/**
 * Opens `total` sockets in waves over the rooms (one in five closed before its replay is
 * read, one in ten sending a message), closes each wave, and samples RSS around it.
 */
async function churn(
	server: ChaosServer,
	rooms: readonly string[],
	tokens: readonly string[],
	total: number,
	wave: number,
): Promise<ChurnResult> {
	// Warm up: every room exists and has run once, so its first start is not counted as growth.
	for (const room of rooms) (await ChatSocket.join(`${server.wsUrl}/v1/rooms/${room}/ws?token=${tokens[0] ?? ""}`)).close();
	await sleep(1000);
	const result: ChurnResult = {
		opened: 0,
		waves: 0,
		start: treeRssBytes([server.pid]),
		peak: 0,
		after: 0,
		workerd: workerdPids(server.pid),
		violations: [],
	};
	result.peak = result.start;
	let failures = 0;
	for (let first = 0; first < total; first += wave) {
		const sockets = await Promise.all(
			Array.from({ length: Math.min(wave, total - first) }, async (_, k) => {
				const n = first + k;
				const url = `${server.wsUrl}/v1/rooms/${rooms[n % rooms.length] ?? ""}/ws?token=${tokens[n % tokens.length] ?? ""}`;
				try {
					if (n % 5 === 0) return await ChatSocket.open(url);
					const socket = await ChatSocket.join(url);
					if (n % 10 === 1) await socket.send(`leak-${n}`, `leak message ${n}`);
					return socket;
				} catch {
					failures++;
					return undefined;
				}
			}),
		);
		result.opened += sockets.filter((s) => s !== undefined).length;
		for (const socket of sockets) socket?.close();
		const closed = await Promise.all(
			sockets.map(async (s) => (s === undefined ? true : await s.until(() => s.closed !== undefined, 10_000))),
		);
		if (!closed.every(Boolean))
			result.violations.push(`wave at ${first}: ${closed.filter((c) => !c).length} sockets never finished closing`);
		result.waves++;
		result.peak = Math.max(result.peak, treeRssBytes([server.pid]));
	}
	if (failures > 0) result.violations.push(`${failures} of ${total} socket opens failed`);
	// Settle: poll for 3 s and keep the lowest reading.
	result.after = treeRssBytes([server.pid]);
	for (let i = 0; i < 10; i++) {
		await sleep(300);
		result.after = Math.min(result.after, treeRssBytes([server.pid]) || result.after);
	}
	return result;
}

interface Stats {
	tasks: Record<string, number>;
	oldestPendingAgeMs: number | null;
}

export const leaks: Scenario = {
	name: "leaks",
	summary: "thousands of sockets opened and closed across rooms; no socket held, no live task, RSS back near start",
	profile: FAULTY,
	async run(ctx: ScenarioContext): Promise<void> {
		const { rec, quick } = ctx;
		const server = await ctx.server();
		const admin = await adminToken();
		const rooms = Array.from({ length: quick ? 6 : 20 }, (_, i) => fresh(`leak${i}`));
		const total = quick ? 200 : 2000;
		const wave = quick ? 50 : 100;
		const tokens = await Promise.all(Array.from({ length: 50 }, async (_, i) => await userToken(`leaker${i}`)));

		const parley = await churn(server, rooms, tokens, total, wave);
		rec.op(parley.opened);
		for (const v of parley.violations) rec.check(false, v);
		rec.checked(parley.waves, []);
		const workerdAfter = workerdPids(server.pid);
		rec.check(
			workerdAfter === parley.workerd,
			`the runtime restarted during the churn (workerd ${parley.workerd} → ${workerdAfter}): every socket was dropped`,
		);

		// No socket is held: a fresh joiner is alone online in every room.
		for (const room of rooms) {
			let online: string[] = [];
			const deadline = Date.now() + 10_000;
			do {
				const joiner = await ChatSocket.join(`${server.wsUrl}/v1/rooms/${room}/ws?token=${await userToken("leak-final")}`);
				online = joiner.ofType("welcome")[0]?.online.map((u) => u.id) ?? [];
				joiner.close();
				if (online.length === 1) break;
				await sleep(250);
			} while (Date.now() < deadline);
			rec.check(online.length === 1 && online[0] === "leak-final", `${room}: a fresh joiner sees online ${JSON.stringify(online)}`);
		}

		// No work left: chat-only rooms register a first post and drain; nothing stays pending.
		let stats: Stats | undefined;
		const deadline = Date.now() + 30_000;
		do {
			stats = (await api(server.url, "/v1/admin/stats", { token: admin })).body as Stats;
			if ((stats.tasks.pending ?? 0) + (stats.tasks.processing ?? 0) === 0) break;
			await sleep(500);
		} while (Date.now() < deadline);
		rec.check(
			(stats?.tasks.pending ?? 0) === 0 && (stats?.tasks.processing ?? 0) === 0 && stats?.oldestPendingAgeMs === null,
			`tasks still live after the churn: ${JSON.stringify(stats)}`,
		);

		// Memory comes back near its start. The local runtime itself keeps memory per socket it
		// has served (a bare hibernatable-WebSocket object grows alike, and by tens of MB more
		// or less from run to run), so Parley's growth is held to that of a control object
		// under the same churn, plus the slack.
		const describe = (r: ChurnResult): string =>
			`start ${mb(r.start)} MB, peak ${mb(r.peak)} MB, after ${mb(r.after)} MB (+${mb(r.after - r.start)})`;
		if (parley.start === 0) {
			rec.figure("rss", "not measurable (no /proc)");
			return;
		}
		rec.figure("parley rss", `${describe(parley)}, ${parley.opened} sockets over ${rooms.length} rooms`);
		const controlServer = await ctx.launch({ vars: {}, root: join(ctx.root, "control") });
		const control = await churn(controlServer, rooms, tokens, total, wave);
		await controlServer.stop();
		rec.figure("control rss", `${describe(control)} (bare hibernatable-WebSocket object, same churn)`);
		const excess = parley.after - parley.start - (control.after - control.start);
		rec.check(
			excess <= RSS_SLACK,
			`Parley's RSS grew ${mb(excess)} MB more than the bare control's under the same churn (Parley ${describe(parley)}; control ${describe(control)}); ${mb(RSS_SLACK)} MB allowed`,
		);
	},
};
