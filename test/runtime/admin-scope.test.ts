/**
 * Admins and the `rooms` claim: an authorisation matrix over every admin route, with a scoped
 * admin (`rooms: [lobbyA, lobbyB]`) and a global one, over records inside the claim, outside
 * it, and mixed (a cross-post from a claimed room to an unclaimed one). Lists are checked for
 * what they hold. Then: an author-only moderation from a scoped admin, and trace ids that a
 * caller cannot choose.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, it, vi } from "vitest";
import { createApp } from "../../src/app.ts";
import type { Identity } from "../../src/auth.ts";
import { configFor } from "../../src/config.ts";
import type { ModerationSummary, ModerationView } from "../../src/ops/moderation.ts";
import { shardName } from "../../src/ops/shard.ts";
import type { AlertView, AuditEntry, SagaSummary, Span } from "../../src/ops/types.ts";
import type { MessageEvent } from "../../src/protocol.ts";
import type { TaskView } from "../../src/saga/types.ts";
import { api, exhaust, freshRoom, holdQueue, token } from "./helpers.ts";

const ann: Identity = { id: "ann", name: "Ann", admin: false, rooms: null, guest: false };
const [lobbyA, lobbyB, vaultA, vaultB] = [freshRoom("lobby-a"), freshRoom("lobby-b"), freshRoom("vault-a"), freshRoom("vault-b")];
const scopedToken = await token({ sub: "lobby-mod", name: "Lobby Mod", role: "admin", rooms: [lobbyA, lobbyB] });
const globalToken = await token({ sub: "root", name: "Root", role: "admin" });

async function waitFor<T>(what: () => Promise<T | undefined | false>, timeout = 15_000): Promise<T> {
	return (await vi.waitUntil(async () => (await what()) || undefined, { timeout, interval: 30 })) as T;
}

async function crossPost(origin: string, targets: string[], text = "hi"): Promise<{ sagaId: string; msgId: string; traceId: string }> {
	const posted = await env.ROOM.getByName(origin).post(
		ann,
		{ id: crypto.randomUUID(), text, crossPost: targets },
		crypto.randomUUID().replaceAll("-", ""),
	);
	if (!posted.ok) throw new Error(`send failed: ${JSON.stringify(posted)}`);
	const result = posted.value;
	if (result.sagaId === undefined) throw new Error(`send failed: ${JSON.stringify(result)}`);
	return { sagaId: result.sagaId, msgId: result.msgId, traceId: result.traceId };
}

async function say(room: string, who: Identity, text: string): Promise<string> {
	const posted = await env.ROOM.getByName(room).post(who, { id: crypto.randomUUID(), text }, crypto.randomUUID().replaceAll("-", ""));
	if (!posted.ok) throw new Error(`send failed: ${JSON.stringify(posted)}`);
	const result = posted.value;
	return result.msgId;
}

/** Everything the ops index holds, read from every shard directly (no HTTP budget spent). */
async function indexed() {
	const shards = Array.from({ length: configFor(env).opsIndexShards }, (_, i) => env.OPS_INDEX.getByName(shardName(i)));
	const all = async <T>(read: (shard: (typeof shards)[number]) => Promise<T[]>): Promise<T[]> =>
		(await Promise.all(shards.map(read))).flat();
	return {
		tasks: await all(async (s) => await s.listTasks({ limit: 500 })),
		sagas: await all(async (s) => await s.listSagas({ limit: 500 })),
		moderations: await all(async (s) => await s.listModerations({ limit: 500 })),
		audit: await all(async (s) => await s.audit(500)),
		alerts: await all(async (s) => await s.alerts(500)),
		traceRooms: async (traceId: string) => await all(async (s) => await s.traceRooms(traceId)),
	};
}

async function moderate(selector: Record<string, unknown>, auth: string, dryRun = false): Promise<Response> {
	return await api("/v1/admin/moderations", {
		method: "POST",
		body: JSON.stringify({ selector, action: "retract", reason: "scope test", dryRun }),
		token: auth,
	});
}

async function json<T>(response: Response): Promise<T> {
	if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
	return (await response.json()) as T;
}

/** The records the matrix is run over, inside the claim, outside it, and mixed. */
interface World {
	sIn: string;
	sOut: string;
	sMix: string;
	traceIn: string;
	traceOut: string;
	traceMix: string;
	fIn: string;
	fOut: string;
	cIn: string;
	cOut: string;
	pIn: string;
	pOut: string;
	spammer: string;
}
let world: World;

beforeAll(async () => {
	const sIn = await crossPost(lobbyA, [lobbyB]);
	const sOut = await crossPost(vaultA, [vaultB]);
	const sMix = await crossPost(lobbyA, [vaultA], "lobby to vault");
	for (const [origin, saga] of [
		[lobbyA, sIn],
		[vaultA, sOut],
		[lobbyA, sMix],
	] as const) {
		await waitFor(async () => (await env.ROOM.getByName(origin).saga(saga.sagaId))?.state === "succeeded");
	}
	const pIn = await say(lobbyA, ann, "plain in the lobby");
	const pOut = await say(vaultA, ann, "plain in the vault");
	const spammer: Identity = { id: `spam-${crypto.randomUUID().slice(0, 8)}`, name: "Spammer", admin: false, rooms: null, guest: false };
	await say(lobbyA, spammer, "spam in the lobby");
	await say(vaultA, spammer, "spam in the vault");
	// One failed delivery (with its alert) on each side of the claim.
	await holdQueue(lobbyA);
	await holdQueue(vaultA);
	const fIn = await crossPost(lobbyA, [lobbyB]);
	const fOut = await crossPost(vaultA, [vaultB]);
	await exhaust(lobbyA, `${fIn.sagaId}.d.${lobbyB}`);
	await exhaust(vaultA, `${fOut.sagaId}.d.${vaultB}`);
	// One operator moderation on each side, made by the global admin.
	const cIn = (await json<ModerationView>(await moderate({ room: lobbyA, msgIds: [pIn] }, globalToken))).id;
	const cOut = (await json<ModerationView>(await moderate({ room: vaultA, msgIds: [pOut] }, globalToken))).id;
	for (const id of [cIn, cOut]) await waitFor(async () => (await env.MODERATION.getByName(id).view())?.state === "done");
	world = {
		sIn: sIn.sagaId,
		sOut: sOut.sagaId,
		sMix: sMix.sagaId,
		traceIn: sIn.traceId,
		traceOut: sOut.traceId,
		traceMix: sMix.traceId,
		fIn: fIn.sagaId,
		fOut: fOut.sagaId,
		cIn,
		cOut,
		pIn,
		pOut,
		spammer: spammer.id,
	};
	// Until the index has it all: the admin routes read it.
	await waitFor(async () => {
		const index = await indexed();
		const taskIds = new Set(index.tasks.map((t) => `${t.taskId}:${t.state}`));
		const sagaIds = new Set(index.sagas.map((s) => s.sagaId));
		return (
			[
				`${sIn.sagaId}.d.${lobbyB}:succeeded`,
				`${sOut.sagaId}.d.${vaultB}:succeeded`,
				`${sMix.sagaId}.d.${vaultA}:succeeded`,
				`${fIn.sagaId}.d.${lobbyB}:failed`,
				`${fOut.sagaId}.d.${vaultB}:failed`,
			].every((t) => taskIds.has(t)) &&
			[sIn, sOut, sMix, fIn, fOut].every((s) => sagaIds.has(s.sagaId)) &&
			[cIn, cOut].every(
				(id) => index.moderations.some((m) => m.id === id && m.state === "succeeded") && index.audit.some((e) => e.taskId === id),
			) &&
			[fIn, fOut].every((s) => index.alerts.some((a) => a.sagaId === s.sagaId && a.kind === "task_failed")) &&
			(await index.traceRooms(sMix.traceId)).length > 0
		);
	}, 20_000);
}, 40_000);

interface Row {
	/** The route as src/admin.ts registers it. */
	route: string;
	what: string;
	method: "GET" | "PUT" | "POST";
	path: string;
	body?: unknown;
	scoped: number;
	global: number;
}

function matrix(w: World): Row[] {
	const task = (sagaId: string, target: string) => `${sagaId}.d.${target}`;
	const action = { action: "retry", reason: "scope test" };
	return [
		{
			route: "GET /v1/admin/rooms/:room/policy",
			what: "claimed room",
			method: "GET",
			path: `/v1/admin/rooms/${lobbyA}/policy`,
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/rooms/:room/policy",
			what: "other room",
			method: "GET",
			path: `/v1/admin/rooms/${vaultA}/policy`,
			scoped: 403,
			global: 200,
		},
		{
			route: "PUT /v1/admin/rooms/:room/policy",
			what: "claimed room",
			method: "PUT",
			path: `/v1/admin/rooms/${lobbyA}/policy`,
			body: { readOnly: false },
			scoped: 200,
			global: 200,
		},
		{
			route: "PUT /v1/admin/rooms/:room/policy",
			what: "other room",
			method: "PUT",
			path: `/v1/admin/rooms/${vaultA}/policy`,
			body: { readOnly: false },
			scoped: 403,
			global: 200,
		},
		{
			route: "GET /v1/admin/sagas",
			what: "all (filtered)",
			method: "GET",
			path: "/v1/admin/sagas?limit=500",
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/sagas",
			what: "claimed room",
			method: "GET",
			path: `/v1/admin/sagas?room=${lobbyA}`,
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/sagas",
			what: "other room",
			method: "GET",
			path: `/v1/admin/sagas?room=${vaultA}`,
			scoped: 403,
			global: 200,
		},
		{
			route: "GET /v1/admin/sagas/:sagaId",
			what: "claimed saga",
			method: "GET",
			path: `/v1/admin/sagas/${w.sIn}`,
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/sagas/:sagaId",
			what: "other saga",
			method: "GET",
			path: `/v1/admin/sagas/${w.sOut}`,
			scoped: 403,
			global: 200,
		},
		{
			route: "GET /v1/admin/sagas/:sagaId",
			what: "mixed saga",
			method: "GET",
			path: `/v1/admin/sagas/${w.sMix}`,
			scoped: 403,
			global: 200,
		},
		{
			route: "GET /v1/admin/tasks",
			what: "all (filtered)",
			method: "GET",
			path: "/v1/admin/tasks?limit=500",
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/tasks",
			what: "other room",
			method: "GET",
			path: `/v1/admin/tasks?room=${vaultB}`,
			scoped: 403,
			global: 200,
		},
		{
			route: "GET /v1/admin/tasks/:taskId",
			what: "claimed task",
			method: "GET",
			path: `/v1/admin/tasks/${task(w.sIn, lobbyB)}`,
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/tasks/:taskId",
			what: "other task",
			method: "GET",
			path: `/v1/admin/tasks/${task(w.sOut, vaultB)}`,
			scoped: 403,
			global: 200,
		},
		{
			route: "GET /v1/admin/tasks/:taskId",
			what: "mixed task",
			method: "GET",
			path: `/v1/admin/tasks/${task(w.sMix, vaultA)}`,
			scoped: 403,
			global: 200,
		},
		{
			route: "GET /v1/admin/tasks/:taskId",
			what: "claimed moderate task",
			method: "GET",
			path: `/v1/admin/tasks/${w.cIn}.m.${lobbyA}`,
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/tasks/:taskId",
			what: "other moderate task",
			method: "GET",
			path: `/v1/admin/tasks/${w.cOut}.m.${vaultA}`,
			scoped: 403,
			global: 200,
		},
		// A succeeded task cannot be retried (409): the answer an admin allowed to try gets.
		{
			route: "POST /v1/admin/tasks/:taskId/actions",
			what: "claimed task",
			method: "POST",
			path: `/v1/admin/tasks/${task(w.sIn, lobbyB)}/actions`,
			body: action,
			scoped: 409,
			global: 409,
		},
		{
			route: "POST /v1/admin/tasks/:taskId/actions",
			what: "other task",
			method: "POST",
			path: `/v1/admin/tasks/${task(w.sOut, vaultB)}/actions`,
			body: action,
			scoped: 403,
			global: 409,
		},
		{
			route: "POST /v1/admin/tasks/:taskId/actions",
			what: "mixed task",
			method: "POST",
			path: `/v1/admin/tasks/${task(w.sMix, vaultA)}/actions`,
			body: action,
			scoped: 403,
			global: 409,
		},
		{
			route: "POST /v1/admin/tasks/:taskId/actions",
			what: "other moderate task",
			method: "POST",
			path: `/v1/admin/tasks/${w.cOut}.m.${vaultA}/actions`,
			body: action,
			scoped: 403,
			global: 409,
		},
		{
			route: "POST /v1/admin/tasks/retry",
			what: "claimed room",
			method: "POST",
			path: "/v1/admin/tasks/retry",
			body: { reason: "scope test", room: lobbyA },
			scoped: 200,
			global: 200,
		},
		{
			route: "POST /v1/admin/tasks/retry",
			what: "other room",
			method: "POST",
			path: "/v1/admin/tasks/retry",
			body: { reason: "scope test", room: vaultA },
			scoped: 403,
			global: 200,
		},
		{
			route: "GET /v1/admin/audit",
			what: "all (filtered)",
			method: "GET",
			path: "/v1/admin/audit?limit=500",
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/alerts",
			what: "all (filtered)",
			method: "GET",
			path: "/v1/admin/alerts?limit=500",
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/traces/:traceId",
			what: "claimed trace",
			method: "GET",
			path: `/v1/admin/traces/${w.traceIn}`,
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/traces/:traceId",
			what: "other trace",
			method: "GET",
			path: `/v1/admin/traces/${w.traceOut}`,
			scoped: 403,
			global: 200,
		},
		{
			route: "GET /v1/admin/traces/:traceId",
			what: "mixed trace",
			method: "GET",
			path: `/v1/admin/traces/${w.traceMix}`,
			scoped: 403,
			global: 200,
		},
		{ route: "GET /v1/admin/stats", what: "deployment-wide", method: "GET", path: "/v1/admin/stats", scoped: 403, global: 200 },
		{ route: "GET /v1/admin/meter", what: "deployment-wide", method: "GET", path: "/v1/admin/meter", scoped: 403, global: 200 },
		{
			route: "POST /v1/admin/moderations",
			what: "dry run, claimed room",
			method: "POST",
			path: "/v1/admin/moderations",
			body: { selector: { room: lobbyA }, action: "retract", dryRun: true },
			scoped: 200,
			global: 200,
		},
		{
			route: "POST /v1/admin/moderations",
			what: "dry run, other room",
			method: "POST",
			path: "/v1/admin/moderations",
			body: { selector: { room: vaultA }, action: "retract", dryRun: true },
			scoped: 403,
			global: 200,
		},
		{
			route: "POST /v1/admin/moderations",
			what: "dry run, author only",
			method: "POST",
			path: "/v1/admin/moderations",
			body: { selector: { author: w.spammer }, action: "retract", dryRun: true },
			scoped: 200,
			global: 200,
		},
		// Real runs over an already retracted message: a record is made, nothing is retracted.
		{
			route: "POST /v1/admin/moderations",
			what: "claimed room",
			method: "POST",
			path: "/v1/admin/moderations",
			body: { selector: { room: lobbyA, msgIds: [w.pIn] }, action: "retract", reason: "again" },
			scoped: 201,
			global: 201,
		},
		{
			route: "POST /v1/admin/moderations",
			what: "other room",
			method: "POST",
			path: "/v1/admin/moderations",
			body: { selector: { room: vaultA, msgIds: [w.pOut] }, action: "retract", reason: "again" },
			scoped: 403,
			global: 201,
		},
		{
			route: "GET /v1/admin/moderations",
			what: "all (filtered)",
			method: "GET",
			path: "/v1/admin/moderations?limit=500",
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/moderations",
			what: "other room",
			method: "GET",
			path: `/v1/admin/moderations?room=${vaultA}`,
			scoped: 403,
			global: 200,
		},
		{
			route: "GET /v1/admin/moderations/:id",
			what: "claimed moderation",
			method: "GET",
			path: `/v1/admin/moderations/${w.cIn}`,
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/moderations/:id",
			what: "other moderation",
			method: "GET",
			path: `/v1/admin/moderations/${w.cOut}`,
			scoped: 403,
			global: 200,
		},
		{
			route: "POST /v1/admin/compensations",
			what: "dry run, claimed room",
			method: "POST",
			path: "/v1/admin/compensations",
			body: { selector: { room: lobbyA }, action: "retract", dryRun: true },
			scoped: 200,
			global: 200,
		},
		{
			route: "POST /v1/admin/compensations",
			what: "dry run, other room",
			method: "POST",
			path: "/v1/admin/compensations",
			body: { selector: { room: vaultA }, action: "retract", dryRun: true },
			scoped: 403,
			global: 200,
		},
		{
			route: "POST /v1/admin/compensations",
			what: "dry run, author only",
			method: "POST",
			path: "/v1/admin/compensations",
			body: { selector: { author: w.spammer }, action: "retract", dryRun: true },
			scoped: 200,
			global: 200,
		},
		// The route from before the rename answers the same.
		{
			route: "POST /v1/admin/compensations",
			what: "claimed room",
			method: "POST",
			path: "/v1/admin/compensations",
			body: { selector: { room: lobbyA, msgIds: [w.pIn] }, action: "retract", reason: "again" },
			scoped: 201,
			global: 201,
		},
		{
			route: "POST /v1/admin/compensations",
			what: "other room",
			method: "POST",
			path: "/v1/admin/compensations",
			body: { selector: { room: vaultA, msgIds: [w.pOut] }, action: "retract", reason: "again" },
			scoped: 403,
			global: 201,
		},
		{
			route: "GET /v1/admin/compensations",
			what: "all (filtered)",
			method: "GET",
			path: "/v1/admin/compensations?limit=500",
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/compensations",
			what: "other room",
			method: "GET",
			path: `/v1/admin/compensations?room=${vaultA}`,
			scoped: 403,
			global: 200,
		},
		{
			route: "GET /v1/admin/compensations/:id",
			what: "claimed moderation",
			method: "GET",
			path: `/v1/admin/compensations/${w.cIn}`,
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/compensations/:id",
			what: "other moderation",
			method: "GET",
			path: `/v1/admin/compensations/${w.cOut}`,
			scoped: 403,
			global: 200,
		},
		{
			route: "POST /v1/admin/faults",
			what: "deployment-wide",
			method: "POST",
			path: "/v1/admin/faults",
			body: {},
			scoped: 403,
			global: 200,
		},
		{ route: "GET /v1/admin/metrics", what: "deployment-wide", method: "GET", path: "/v1/admin/metrics", scoped: 403, global: 200 },
		{
			route: "GET /v1/admin/metrics/history",
			what: "deployment-wide",
			method: "GET",
			path: "/v1/admin/metrics/history",
			scoped: 403,
			global: 200,
		},
		{ route: "GET /v1/admin/session", what: "the caller", method: "GET", path: "/v1/admin/session", scoped: 200, global: 200 },
		// The search finds only what the caller may see: anything else is "nothing found".
		{
			route: "GET /v1/admin/search",
			what: "claimed room",
			method: "GET",
			path: `/v1/admin/search?q=${lobbyA}`,
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/search",
			what: "other room",
			method: "GET",
			path: `/v1/admin/search?q=${vaultA}`,
			scoped: 404,
			global: 200,
		},
		{
			route: "GET /v1/admin/search",
			what: "claimed saga",
			method: "GET",
			path: `/v1/admin/search?q=${w.sIn}`,
			scoped: 200,
			global: 200,
		},
		{
			route: "GET /v1/admin/search",
			what: "mixed trace",
			method: "GET",
			path: `/v1/admin/search?q=${w.traceMix}`,
			scoped: 404,
			global: 200,
		},
		{
			route: "POST /v1/admin/alerts/test",
			what: "deployment-wide",
			method: "POST",
			path: "/v1/admin/alerts/test",
			body: {},
			scoped: 403,
			global: 200,
		},
	];
}

async function call(row: Row, auth: string): Promise<Response> {
	return await api(row.path, { method: row.method, token: auth, ...(row.body === undefined ? {} : { body: JSON.stringify(row.body) }) });
}

async function read<T>(path: string, auth: string): Promise<T> {
	return await json<T>(await api(path, { token: auth }));
}

describe("admin routes and the rooms claim", () => {
	it("has a row for every admin route the app registers", ({ expect }) => {
		const registered = new Set(
			createApp()
				.routes.filter((r) => r.path.startsWith("/v1/admin") && r.method !== "ALL")
				.map((r) => `${r.method} ${r.path}`),
		);
		expect(new Set(matrix(world).map((row) => row.route))).toEqual(registered);
	});

	it("answers each route with the status the matrix gives a scoped and a global admin", async ({ expect }) => {
		const rows = matrix(world);
		const got = [];
		for (const row of rows) {
			const scoped = await call(row, scopedToken);
			const global = await call(row, globalToken);
			await scoped.body?.cancel();
			await global.body?.cancel();
			got.push({ route: row.route, what: row.what, scoped: scoped.status, global: global.status });
		}
		expect(got).toEqual(rows.map(({ route, what, scoped, global }) => ({ route, what, scoped, global })));
	});

	it("lists to a scoped admin only what every room of which is in its claim", async ({ expect }) => {
		const w = world;
		const ids = <T>(list: T[], id: (item: T) => string) => new Set(list.map(id));

		const sagas = ids((await read<{ sagas: SagaSummary[] }>("/v1/admin/sagas?limit=500", scopedToken)).sagas, (s) => s.sagaId);
		expect([w.sIn, w.fIn].every((id) => sagas.has(id))).toBe(true);
		expect([w.sOut, w.sMix, w.fOut].filter((id) => sagas.has(id))).toEqual([]);
		const allSagas = ids((await read<{ sagas: SagaSummary[] }>("/v1/admin/sagas?limit=500", globalToken)).sagas, (s) => s.sagaId);
		expect([w.sIn, w.sOut, w.sMix, w.fIn, w.fOut].every((id) => allSagas.has(id))).toBe(true);

		const tasks = (await read<{ tasks: TaskView[] }>("/v1/admin/tasks?limit=500", scopedToken)).tasks;
		expect(tasks.map((t) => t.taskId)).toEqual(
			expect.arrayContaining([`${w.sIn}.d.${lobbyB}`, `${w.fIn}.d.${lobbyB}`, `${w.cIn}.m.${lobbyA}`]),
		);
		for (const t of tasks) expect([t.taskId, [lobbyA, lobbyB].includes(t.room)]).toEqual([t.taskId, true]);
		const allTasks = ids((await read<{ tasks: TaskView[] }>("/v1/admin/tasks?limit=500", globalToken)).tasks, (t) => t.taskId);
		expect([`${w.sOut}.d.${vaultB}`, `${w.sMix}.d.${vaultA}`, `${w.cOut}.m.${vaultA}`].every((id) => allTasks.has(id))).toBe(true);

		// Filtered before the limit: paging one at a time walks the same records.
		const paged: string[] = [];
		let cursor: string | null = null;
		for (let page = 0; page < 30; page++) {
			const body: { tasks: TaskView[]; cursor: string | null } = await read(
				`/v1/admin/tasks?limit=1${cursor === null ? "" : `&cursor=${cursor}`}`,
				scopedToken,
			);
			expect(body.tasks.length).toBeLessThanOrEqual(1);
			paged.push(...body.tasks.map((t) => t.taskId));
			cursor = body.cursor;
			if (cursor === null) break;
		}
		expect(paged).toEqual(tasks.map((t) => t.taskId));

		const audit = ids((await read<{ entries: AuditEntry[] }>("/v1/admin/audit?limit=500", scopedToken)).entries, (e) => e.taskId);
		expect([audit.has(w.cIn), audit.has(w.cOut)]).toEqual([true, false]);
		const allAudit = ids((await read<{ entries: AuditEntry[] }>("/v1/admin/audit?limit=500", globalToken)).entries, (e) => e.taskId);
		expect([allAudit.has(w.cIn), allAudit.has(w.cOut)]).toEqual([true, true]);

		const alerts = ids((await read<{ alerts: AlertView[] }>("/v1/admin/alerts?limit=500", scopedToken)).alerts, (a) => a.sagaId);
		expect([alerts.has(w.fIn), alerts.has(w.fOut)]).toEqual([true, false]);
		const allAlerts = ids((await read<{ alerts: AlertView[] }>("/v1/admin/alerts?limit=500", globalToken)).alerts, (a) => a.sagaId);
		expect([allAlerts.has(w.fIn), allAlerts.has(w.fOut)]).toEqual([true, true]);

		const moderations = ids(
			(await read<{ moderations: ModerationSummary[] }>("/v1/admin/moderations?limit=500", scopedToken)).moderations,
			(x) => x.id,
		);
		expect([moderations.has(w.cIn), moderations.has(w.cOut)]).toEqual([true, false]);
		const allModerations = ids(
			(await read<{ moderations: ModerationSummary[] }>("/v1/admin/moderations?limit=500", globalToken)).moderations,
			(x) => x.id,
		);
		expect([allModerations.has(w.cIn), allModerations.has(w.cOut)]).toEqual([true, true]);
		// The old route lists the same under both keys.
		const legacy = await read<{ moderations: ModerationSummary[]; compensations: ModerationSummary[] }>(
			"/v1/admin/compensations?limit=500",
			scopedToken,
		);
		expect([ids(legacy.compensations, (x) => x.id), ids(legacy.moderations, (x) => x.id)]).toEqual([moderations, moderations]);
	});

	it("retries in bulk, for a scoped admin, only the failed tasks of its rooms", async ({ expect }) => {
		const response = await api("/v1/admin/tasks/retry", {
			method: "POST",
			body: JSON.stringify({ reason: "scope test" }),
			token: scopedToken,
		});
		const body = await json<{ retried: string[]; refused: Array<{ taskId: string }>; deferred: number }>(response);
		const touched = [...body.retried, ...body.refused.map((r) => r.taskId)];
		// The lobby's failed delivery is seen (and refused: its saga compensates); the vault's is not.
		expect(touched).toContain(`${world.fIn}.d.${lobbyB}`);
		expect(touched.filter((id) => id.includes(vaultA) || id.includes(vaultB))).toEqual([]);
	});

	it("tells a scoped admin the names of claimed rooms only, in a moderation's preview", async ({ expect }) => {
		const scoped = await json<{ rooms: Array<{ room: string }>; messages: number; scope?: string[] }>(
			await moderate({ author: world.spammer }, scopedToken, true),
		);
		expect(scoped.rooms.map((r) => r.room)).toEqual([lobbyA]);
		expect(scoped.scope).toEqual([lobbyA, lobbyB]);
		const global = await json<{ rooms: Array<{ room: string }> }>(await moderate({ author: world.spammer }, globalToken, true));
		expect(global.rooms.map((r) => r.room).sort()).toEqual([lobbyA, vaultA].sort());
		// A mixed cross-post's copy is retracted with its original, but its room is not named.
		const mixed = await json<{ copies: number; copyRooms: Array<{ room: string }> }>(
			await moderate({ room: lobbyA, author: "ann" }, scopedToken, true),
		);
		expect(mixed.copies).toBeGreaterThanOrEqual(1);
		expect(mixed.copyRooms.map((r) => r.room).filter((room) => room === vaultA)).toEqual([]);
	});

	it("shows a scoped admin a saga, task and moderation of its rooms, with their contents", async ({ expect }) => {
		const saga = await read<{ sagaId: string; text: string }>(`/v1/admin/sagas/${world.sIn}`, scopedToken);
		expect(saga).toMatchObject({ sagaId: world.sIn, text: "hi" });
		const view = await read<ModerationView & { audit: AuditEntry[] }>(`/v1/admin/moderations/${world.cIn}`, scopedToken);
		expect(view.audit.map((e) => e.action)).toEqual(["moderate"]);
		const trace = await read<{ spans: Span[] }>(`/v1/admin/traces/${world.traceIn}`, scopedToken);
		expect(new Set(trace.spans.map((s) => s.room))).toEqual(new Set([lobbyA, lobbyB]));
	});
});

describe("an author-only moderation from a scoped admin", () => {
	it("retracts the author's messages in the claimed rooms and leaves the others alone", async ({ expect }) => {
		const spammer: Identity = {
			id: `spam-${crypto.randomUUID().slice(0, 8)}`,
			name: "Spammer",
			admin: false,
			rooms: null,
			guest: false,
		};
		const [inRoom, outRoom] = [lobbyB, vaultB];
		await say(inRoom, spammer, "spam in a claimed room");
		await say(outRoom, spammer, "spam in another room");
		// The author directory learns of both rooms through the rooms' feeds.
		await waitFor(async () => {
			const shards = configFor(env).opsIndexShards;
			const rooms = (
				await Promise.all(Array.from({ length: shards }, (_, i) => env.AUTHORS.getByName(shardName(i)).rooms(spammer.id)))
			).flat();
			return rooms.includes(inRoom) && rooms.includes(outRoom);
		});
		const created = await json<ModerationView & { preview: { rooms: Array<{ room: string }> } }>(
			await moderate({ author: spammer.id }, scopedToken),
		);
		expect(created.preview.rooms.map((r) => r.room)).toEqual([inRoom]);
		expect(created.scope).toEqual([lobbyA, lobbyB]);
		await waitFor(async () => (await env.MODERATION.getByName(created.id).view())?.state === "done");
		const live = async (room: string) =>
			(await env.ROOM.getByName(room).events({ after: 0, limit: 500 })).events.filter(
				(e): e is MessageEvent => e.type === "message" && e.author.id === spammer.id && e.retractedBy === undefined,
			).length;
		expect([await live(inRoom), await live(outRoom)]).toEqual([0, 1]);
	});
});

describe("trace ids", () => {
	const post = async (room: string, auth: string, crossPost: string[], traceparent?: string) => {
		const response = await api(`/v1/rooms/${room}/messages`, {
			method: "POST",
			body: JSON.stringify({ id: crypto.randomUUID(), text: "traced", crossPost }),
			token: auth,
			...(traceparent === undefined ? {} : { headers: { traceparent } }),
		});
		return await json<{ traceId: string; sagaId: string }>(response);
	};

	it("are minted by the server: another user's trace id in traceparent is only a parent link", async ({ expect }) => {
		const [vA, vB, xA, xB] = [freshRoom("victim-a"), freshRoom("victim-b"), freshRoom("attacker-a"), freshRoom("attacker-b")];
		const victim = await post(vA, await token({ sub: "victim" }), [vB]);
		const stolen = `00-${victim.traceId}-00f067aa0ba902b7-01`;
		const attackerToken = await token({ sub: "attacker" });
		const first = await post(xA, attackerToken, [xB], stolen);
		const second = await post(xA, attackerToken, [xB], stolen);
		expect(new Set([victim.traceId, first.traceId, second.traceId]).size).toBe(3);

		for (const [origin, sent] of [
			[vA, victim],
			[xA, first],
			[xA, second],
		] as const) {
			await waitFor(async () => (await env.ROOM.getByName(origin).saga(sent.sagaId))?.state === "succeeded");
		}
		// Wait until the index knows all three traces, then look the victim's up.
		await waitFor(async () => {
			const index = await indexed();
			return (
				(await index.traceRooms(victim.traceId)).length > 0 &&
				(await index.traceRooms(first.traceId)).length > 0 &&
				(await index.traceRooms(second.traceId)).length > 0
			);
		});
		const trace = await read<{ traceId: string; parent?: string; spans: Span[] }>(`/v1/admin/traces/${victim.traceId}`, globalToken);
		expect(trace.parent).toBeUndefined();
		expect(new Set(trace.spans.map((s) => s.room))).toEqual(new Set([vA, vB]));
		// The attacker's own traces keep the header as their parent, where the trace is shown.
		const own = await waitFor(async () => {
			const body = await read<{ parent?: string; spans: Span[] }>(`/v1/admin/traces/${first.traceId}`, globalToken);
			return body.parent === undefined ? undefined : body;
		});
		expect(own.parent).toBe(stolen);
		expect(new Set(own.spans.map((s) => s.room))).toEqual(new Set([xA, xB]));
	});
});
